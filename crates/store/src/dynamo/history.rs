//! Reading past orders through the `byDay` index, for the staff order search and analytics:
//! an order's day partition is `DAY#<day>#<bucket>` (`keys::day_partition`), so the orders of
//! a time range are the [`DAY_BUCKETS`] partitions of each of its days. The index projects
//! keys only (a status change then writes nothing to it), so orders are read from the table
//! by key once found. Costs are in docs/aws.md.

use super::DynamoStore;
use super::item::{self, get_n, get_s, opt_n, s};
use super::keys::{self, BY_DAY, CATALOG, DAY_BUCKETS, Item};
use crate::{Order, StoreError};
use futures_util::{StreamExt, TryStreamExt, stream};
use stampede_domain::Millis;

/// Index queries and key batches in flight at once.
const PARALLEL: usize = 16;

/// Where the order history begins: the oldest product's creation or, after an import of older
/// orders, the history marker. `None` in an empty shop, which has no orders.
pub async fn start(store: &DynamoStore) -> Result<Option<Millis>, StoreError> {
    let query = store
        .client
        .query()
        .key_condition_expression("pk = :c")
        .expression_attribute_values(":c", s(CATALOG))
        .projection_expression("created_at");
    let mut earliest: Option<Millis> = None;
    for item in store.query_pages(query, |_| false).await?.iter().flat_map(|p| p.items()) {
        let at: Millis = get_n(item, "created_at")?;
        earliest = Some(earliest.map_or(at, |e| e.min(at)));
    }
    if let Some(marker) = store.get(keys::history_start()).await? {
        let from: Millis = get_n(&marker, "from")?;
        earliest = Some(earliest.map_or(from, |e| e.min(from)));
    }
    Ok(earliest)
}

/// The history marker an import writes: its orders begin at `from`, before its products' `created_at`.
pub fn start_marker(from: Millis) -> Item {
    let mut marker = keys::history_start();
    marker.insert("from".into(), item::n(from));
    marker
}

/// The keys of one day partition's orders, highest id first, from `below` down when given.
pub async fn partition_ids(
    store: &DynamoStore,
    partition: String,
    below: Option<&str>,
    limit: Option<i32>,
    start: Option<Item>,
) -> Result<(Vec<String>, Option<Item>), StoreError> {
    let mut query = store
        .client
        .query()
        .table_name(store.table())
        .index_name(BY_DAY)
        .scan_index_forward(false)
        .expression_attribute_values(":d", s(partition))
        .set_limit(limit)
        .set_exclusive_start_key(start)
        .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total);
    query = match below {
        Some(id) => query
            .key_condition_expression("gsi2pk = :d AND gsi2sk < :below")
            .expression_attribute_values(":below", s(id)),
        None => query.key_condition_expression("gsi2pk = :d"),
    };
    store.count(super::op_counts::Op::Read);
    let out = query.send().await.map_err(|e| store.sdk(e))?;
    store.counters.consumed(out.consumed_capacity());
    let ids = out.items().iter().map(|i| Ok(get_s(i, "gsi2sk")?.to_owned())).collect::<Result<_, StoreError>>()?;
    Ok((ids, out.last_evaluated_key))
}

/// The orders with these ids, in the order given; ids without an order are left out.
pub async fn orders(store: &DynamoStore, ids: &[String], consistent: bool) -> Result<Vec<Order>, StoreError> {
    let chunks: Vec<Vec<Item>> = ids.chunks(100).map(|c| c.iter().map(|id| keys::order(id)).collect()).collect();
    let items: Vec<Vec<Item>> = stream::iter(chunks)
        .map(|keys| store.get_many(keys, consistent))
        .buffer_unordered(PARALLEL)
        .try_collect()
        .await?;
    let mut by_id = std::collections::HashMap::new();
    for item in items.iter().flatten() {
        let order = item::order_from(item)?;
        by_id.insert(order.id.clone(), order);
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Every order placed in `[from, to)`, in no particular order: every partition of every day
/// of the range, then the orders by key (eventually consistent: a report may lag a second).
pub async fn orders_between(store: &DynamoStore, from: Millis, to: Millis) -> Result<Vec<Order>, StoreError> {
    if to <= from {
        return Ok(Vec::new());
    }
    let partitions: Vec<String> = (keys::day(from)..=keys::day(to - 1))
        .flat_map(|day| (0..DAY_BUCKETS).map(move |bucket| keys::day_bucket(day, bucket)))
        .collect();
    let ids: Vec<Vec<String>> = stream::iter(partitions)
        .map(|partition| all_ids(store, partition))
        .buffer_unordered(PARALLEL)
        .try_collect()
        .await?;
    let ids: Vec<String> = ids.into_iter().flatten().collect();
    let mut found = orders(store, &ids, false).await?;
    found.retain(|o| (from..to).contains(&o.created_at));
    Ok(found)
}

async fn all_ids(store: &DynamoStore, partition: String) -> Result<Vec<String>, StoreError> {
    let mut ids = Vec::new();
    let mut next = None;
    loop {
        let (page, more) = partition_ids(store, partition.clone(), None, None, next).await?;
        ids.extend(page);
        match more {
            Some(key) => next = Some(key),
            None => return Ok(ids),
        }
    }
}

/// When an order was placed, if it exists (the search's cursor names an order).
pub async fn placed_at(store: &DynamoStore, id: &str) -> Result<Option<Millis>, StoreError> {
    let item = store.get(keys::order(id)).await?;
    item.map(|i| opt_n(&i, "created_at")).transpose().map(Option::flatten)
}
