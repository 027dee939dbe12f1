//! [`Backoffice`] on DynamoDB: product edits are a conditional update of the definition item
//! (every instance's menu snapshot and definitions cache pick it up), stock adjustments one
//! transaction over the product's counters conditioned on what was read, and the order
//! search walks the `byDay` index newest day first (see `history.rs`, costs in docs/aws.md).

use super::catalog::{self, definition, version};
use super::history;
use super::item::{n, s};
use super::keys::{self, DAY_BUCKETS, Item};
use super::op_counts::Op;
use super::writes::{check, delete, number, put, update, wrap};
use super::{DynamoStore, error};
use crate::backoffice::{MAX_PAGE, adjusted_level, matches, unknown_product as not_found};
use crate::clock::now_millis;
use crate::shards;
use crate::{Backoffice, Order, OrderFilter, OrderPage, ProductView, StoreError};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ReturnValue, TransactWriteItem};
use futures_util::future::try_join_all;
use stampede_domain::{OrderRejection, Product};
use std::collections::VecDeque;
use std::time::Duration;

/// Transactions an adjustment sends before it gives up as busy: one is cancelled when an
/// order drew from a counter between the read and the write.
const ATTEMPTS: u32 = 10;

/// How far past this instance's clock the search looks for orders when it has no end: another
/// instance's clock may run a little ahead.
const CLOCK_SLACK: i64 = 5 * 60_000;

#[async_trait]
impl Backoffice for DynamoStore {
    async fn update_product(&self, product: Product) -> Result<ProductView, StoreError> {
        product.validate().map_err(OrderRejection::from)?;
        let now = now_millis();
        // The counters (`shards`, `stockShards`) were laid out when the product was created and stay.
        let out = self
            .update_item(keys::product(&product.id))
            .update_expression("SET #definition = :d, updated_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#definition", "definition")
            .expression_attribute_values(":d", s(serde_json::to_string(&product)?))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let item = match out {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                return Err(not_found(&product.id));
            }
            Err(e) => return Err(self.sdk(e)),
        };
        let product = definition(&item)?;
        catalog::remember(self, [(&product, version(&item)?)]);
        self.tick_stock();
        let levels = catalog::levels(self, &[&product], true).await?;
        let stock = levels.get(&product.id).map_or(0, |l| catalog::total(l));
        Ok(ProductView { product, stock })
    }

    async fn adjust_stock(&self, id: &str, delta: i64) -> Result<ProductView, StoreError> {
        let product = catalog::definitions(self, [id]).await?.remove(id).ok_or_else(|| not_found(id))?;
        for attempt in 0..ATTEMPTS {
            let levels = catalog::levels(self, &[&product], true).await?.remove(id).unwrap_or_default();
            let current = levels.iter().try_fold(0u32, |sum, l| sum.checked_add(*l)).unwrap_or(u32::MAX);
            let level = adjusted_level(id, current, delta)?;
            let writes = adjustment(self, &product, &levels, current, level)?;
            if attempt > 0 {
                self.count(Op::Retry);
            }
            self.count(Op::Transaction);
            match self.client.transact_write_items().set_transact_items(Some(writes)).send().await {
                Ok(_) => {
                    // What this instance learnt about the counters no longer holds.
                    self.memory().forget(id);
                    self.tick_stock();
                    return Ok(ProductView { product, stock: level });
                }
                Err(e) if error::cancellation_reasons(&e).is_some() => {
                    // An order drew from a counter since the read: read again and judge again.
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt + 1))).await;
                }
                Err(e) => return Err(self.sdk(e)),
            }
        }
        Err(StoreError::Busy { retry_after: self.config.retry_after })
    }

    async fn find_orders(&self, filter: OrderFilter) -> Result<OrderPage, StoreError> {
        find_orders(self, filter).await
    }
}

/// The writes taking `product`'s counters from `levels` (summing to `current`) to `level` in
/// all. Units added are spread evenly, each counter conditioned on not having grown since the
/// read (orders only shrink counters, so only another adjustment or a cancellation cancels
/// it), which keeps the sum within `u32`. Units removed come off the fullest counters first,
/// each conditioned on still holding them, so no counter goes below zero. The sold-out marker
/// follows `keys::sold_out`'s rule: deleted when stock comes back, written when the level is
/// zero, with every counter checked empty in the same transaction.
fn adjustment(
    store: &DynamoStore,
    product: &Product,
    levels: &[u32],
    current: u32,
    level: u32,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let mut writes = Vec::new();
    let shard = |i: usize| keys::shard(&product.id, u32::try_from(i).unwrap_or(u32::MAX));
    if level >= current {
        for (i, (units, seen)) in
            shards::split(level - current, product.stock_shards).into_iter().zip(levels).enumerate()
        {
            if units > 0 {
                writes.push(wrap(
                    update(store, shard(i))
                        .update_expression("ADD stock :n")
                        .condition_expression("stock <= :seen")
                        .expression_attribute_values(":n", n(units))
                        .expression_attribute_values(":seen", n(seen)),
                )?);
            }
        }
        if level > 0 {
            writes.push(delete(store, keys::sold_out(&product.id))?);
        }
    } else if level == 0 {
        // Every counter must end empty: the ones emptied here hold exactly what they give,
        // the others must already be empty.
        for (i, seen) in levels.iter().enumerate() {
            writes.push(match seen {
                0 => check(store, shard(i), "stock = :zero", number(":zero", 0))?,
                _ => take(store, shard(i), *seen, "stock = :n")?,
            });
        }
        writes.push(put(store, keys::sold_out(&product.id), None)?);
    } else {
        let mut left = current - level;
        let mut fullest: Vec<usize> = (0..levels.len()).collect();
        fullest.sort_by_key(|i| std::cmp::Reverse(levels[*i]));
        for i in fullest {
            let units = levels[i].min(left);
            left -= units;
            if units > 0 {
                writes.push(take(store, shard(i), units, "stock >= :n")?);
            }
        }
    }
    Ok(writes)
}

/// Takes `units` (`:n`) off the counter at `key` if it meets `condition`.
fn take(store: &DynamoStore, key: Item, units: u32, condition: &str) -> Result<TransactWriteItem, StoreError> {
    wrap(
        update(store, key)
            .update_expression("SET stock = stock - :n")
            .condition_expression(condition)
            .expression_attribute_values(":n", n(units)),
    )
}

/// One `byDay` partition being read newest first, a page at a time.
struct Partition {
    name: String,
    ids: VecDeque<String>,
    next: Option<Item>,
    done: bool,
}

/// A page of orders matching `filter`, by id newest first within each day, newest day first.
/// The cursor is the last order id of the previous page, as on SQLite.
async fn find_orders(store: &DynamoStore, filter: OrderFilter) -> Result<OrderPage, StoreError> {
    let limit = filter.limit.clamp(1, MAX_PAGE) as usize;
    let empty = OrderPage { orders: Vec::new(), next_cursor: None };
    // No day before the shop's first product (or imported history) holds orders.
    let Some(start) = history::start(store).await? else { return Ok(empty) };
    let from = filter.from.map_or(start, |f| f.max(start));
    let to = filter.to.unwrap_or_else(|| now_millis() + CLOCK_SLACK);
    if to <= from {
        return Ok(empty);
    }
    let mut last_day = keys::day(to - 1);
    let mut cursor_day = None;
    if let Some(cursor) = &filter.cursor {
        let Some(at) = history::placed_at(store, cursor).await? else { return Ok(empty) };
        cursor_day = Some(keys::day(at));
        last_day = last_day.min(keys::day(at));
    }
    let mut found = Vec::new();
    for day in (keys::day(from)..=last_day).rev() {
        let below = if cursor_day == Some(day) { filter.cursor.as_deref() } else { None };
        search_day(store, &filter, day, below, limit + 1, &mut found).await?;
        if found.len() > limit {
            break;
        }
    }
    let has_more = found.len() > limit;
    found.truncate(limit);
    Ok(OrderPage::new(found, has_more))
}

/// Adds `day`'s orders matching `filter` to `found`, highest id first (below `below`), until
/// it holds `want`: the day's partitions are merged a page at a time, and the orders read by
/// key in batches.
async fn search_day(
    store: &DynamoStore,
    filter: &OrderFilter,
    day: i64,
    below: Option<&str>,
    want: usize,
    found: &mut Vec<Order>,
) -> Result<(), StoreError> {
    let page = i32::try_from(want).unwrap_or(i32::MAX);
    let mut partitions: Vec<Partition> = (0..DAY_BUCKETS)
        .map(|b| Partition { name: keys::day_bucket(day, b), ids: VecDeque::new(), next: None, done: false })
        .collect();
    // With a filter, most orders read may not match: read them in full batches.
    let filtered = filter.status.is_some() || filter.customer.is_some() || filter.from.is_some() || filter.to.is_some();
    loop {
        // Refill every drained partition that has more, all at once.
        let refills = partitions.iter_mut().filter(|p| p.ids.is_empty() && !p.done).map(|p| async move {
            let (ids, next) = history::partition_ids(store, p.name.clone(), below, Some(page), p.next.take()).await?;
            p.ids.extend(ids);
            p.done = next.is_none();
            p.next = next;
            Ok::<_, StoreError>(())
        });
        try_join_all(refills).await?;
        let batch_size = if filtered { 100 } else { want - found.len() };
        let mut batch = Vec::new();
        while batch.len() < batch_size {
            // A drained partition with more stops the batch, to be refilled first; else the
            // highest id at the head of a partition comes next.
            if partitions.iter().any(|q| q.ids.is_empty() && !q.done) {
                break;
            }
            let Some(p) = partitions.iter_mut().filter(|p| !p.ids.is_empty()).max_by(|a, b| a.ids[0].cmp(&b.ids[0]))
            else {
                break;
            };
            batch.extend(p.ids.pop_front());
        }
        if batch.is_empty() && partitions.iter().all(|p| p.ids.is_empty() && p.done) {
            return Ok(());
        }
        for order in history::orders(store, &batch, true).await? {
            if matches(filter, &order) {
                found.push(order);
            }
            if found.len() >= want {
                return Ok(());
            }
        }
    }
}
