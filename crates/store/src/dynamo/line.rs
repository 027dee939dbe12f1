//! Waiting rooms on DynamoDB. A join is one transaction of two items, neither shared: the
//! holder item (keyed by customer, so one ticket per customer) and the ticket in one of
//! `LINE_SHARDS` line partitions, sorted by rank. The order comes from the signed ticket's
//! rank, so no counter is written per join. Reading the line queries every partition at
//! once; the room's state is one item, written only when the watermark moves.

use super::item::{get_n, get_s, n, opt_n, opt_s, s};
use super::keys::{self, Item, LINE_SHARDS, PK};
use super::op_counts::Op;
use super::writes::{put, update, wrap};
use super::{DynamoStore, catalog, error};
use crate::StoreError;
use crate::waiting_room::LineEntry;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Get, ReturnConsumedCapacity, TransactGetItem, TransactWriteItem};
use futures_util::future::try_join_all;
use stampede_domain::{CustomerKey, OrderStatus, RoomState};
use std::collections::HashSet;
use std::ops::RangeInclusive;

pub async fn join(store: &DynamoStore, entry: LineEntry) -> Result<LineEntry, StoreError> {
    let mut holder = keys::line_holder(&entry.product_id, &entry.customer.0);
    holder.insert("rank".into(), n(entry.rank));
    holder.insert("ticket".into(), s(entry.ticket.clone()));
    holder.insert("joined_at".into(), n(entry.joined_at));
    let mut ticket = Item::from([
        (PK.to_owned(), s(keys::line_partition(&entry.product_id, &entry.customer.0))),
        (keys::SK.to_owned(), s(keys::line_rank(entry.rank))),
    ]);
    ticket.insert("customer".into(), s(entry.customer.0.clone()));
    ticket.insert("ticket".into(), s(entry.ticket.clone()));
    ticket.insert("joined_at".into(), n(entry.joined_at));
    let writes = vec![put(store, holder, Some("attribute_not_exists(pk)"))?, put(store, ticket, None)?];
    store.count(Op::Transaction);
    match store.client.transact_write_items().set_transact_items(Some(writes)).send().await {
        Ok(_) => Ok(entry),
        Err(e) => {
            let held = error::cancellation_reasons(&e)
                .is_some_and(|r| r.first().and_then(Option::as_deref) == Some("ConditionalCheckFailed"));
            if !held {
                return Err(store.sdk(e));
            }
            let item = store
                .get(keys::line_holder(&entry.product_id, &entry.customer.0))
                .await?
                .ok_or_else(|| StoreError::Backend("a line holder vanished".into()))?;
            Ok(LineEntry {
                product_id: entry.product_id,
                customer: CustomerKey(entry.customer.0),
                rank: get_n(&item, "rank")?,
                ticket: get_s(&item, "ticket")?.to_owned(),
                joined_at: get_n(&item, "joined_at")?,
            })
        }
    }
}

pub async fn room(store: &DynamoStore, product_id: &str) -> Result<RoomState, StoreError> {
    match store.get(keys::room(product_id)).await? {
        Some(item) => Ok(serde_json::from_str(get_s(&item, "state")?)?),
        None => Ok(RoomState::default()),
    }
}

pub async fn save_room(store: &DynamoStore, product_id: &str, next: &RoomState) -> Result<bool, StoreError> {
    let mut item = keys::room(product_id);
    item.insert("state".into(), s(serde_json::to_string(next)?));
    item.insert("version".into(), n(next.version));
    let mut put = store.client.put_item().table_name(store.table()).set_item(Some(item));
    put = if next.version <= 1 {
        put.condition_expression("attribute_not_exists(pk)")
    } else {
        put.condition_expression("version = :previous").expression_attribute_values(":previous", n(next.version - 1))
    };
    store.count(Op::Write);
    match put.send().await {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
        Err(e) => Err(store.sdk(e)),
    }
}

/// Every line partition of a product, as `pk` values.
fn partitions(product_id: &str) -> impl Iterator<Item = String> + '_ {
    (0..LINE_SHARDS).map(move |shard| keys::line_shard(product_id, shard))
}

/// Joins of a write-behind batch, a few at a time: each is its own two-item transaction.
pub async fn join_many(store: &DynamoStore, entries: Vec<LineEntry>) -> Result<Vec<LineEntry>, StoreError> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    stream::iter(entries).map(|e| join(store, e)).buffered(16).try_collect().await
}

/// Every ticket of a product's line (customer and ticket too), by rank: read once per
/// product by each instance, into its line index.
pub async fn line(store: &DynamoStore, product_id: &str) -> Result<Vec<LineEntry>, StoreError> {
    let items = read_line(store, product_id, "sk, customer, ticket, joined_at").await?;
    let mut entries = items
        .iter()
        .map(|item| {
            Ok(LineEntry {
                product_id: product_id.to_owned(),
                customer: CustomerKey(get_s(item, "customer")?.to_owned()),
                rank: rank_of(item)?,
                ticket: opt_s(item, "ticket").unwrap_or_default().to_owned(),
                joined_at: opt_n(item, "joined_at")?.unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    entries.sort_unstable_by_key(|e| e.rank);
    Ok(entries)
}

/// The ranks of a product's line at or above `from`, smallest first. While several instances
/// join people to one line, each reads this once a second: one read answers every place
/// asked for in that second, where counting per status check cost a query per partition each
/// time. Read units follow the tickets read (about one per 30 of them), so an instance reads
/// the whole line only every `FULL_REFRESH` and otherwise the ranks that arrived since.
pub async fn ranks(store: &DynamoStore, product_id: &str, from: u64) -> Result<Vec<u64>, StoreError> {
    let low = keys::line_rank(from);
    let read = read_partitions(store, product_id, "sk", |query| {
        query.key_condition_expression("pk = :pk AND sk >= :low").expression_attribute_values(":low", s(low.clone()))
    })
    .await?;
    let mut ranks = read.iter().map(rank_of).collect::<Result<Vec<_>, _>>()?;
    ranks.sort_unstable();
    Ok(ranks)
}

fn rank_of(item: &Item) -> Result<u64, StoreError> {
    get_s(item, keys::SK)?.parse().map_err(|e| StoreError::Backend(format!("a line rank: {e}")))
}

/// Marks the customer's ticket of `rank` as bought by `order_id`, in one transaction with
/// a note of the ticket on the order, made only while the order stands: a mark never lands
/// on a cancelled order, and the order's cancel (which reads the note, see
/// `orders::change_status`) takes the mark off. The ticket keeps a set of order ids, so a
/// cancel takes off its own order's mark only. A ticket not held, or a cancelled order,
/// changes nothing.
pub async fn mark_bought(
    store: &DynamoStore,
    product_id: &str,
    customer: &str,
    rank: u64,
    order_id: &str,
) -> Result<(), StoreError> {
    let note = update(store, keys::order(order_id))
        .update_expression("SET queue_product = :product, queue_rank = :rank")
        .condition_expression("attribute_exists(pk) AND #status <> :cancelled")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":product", s(product_id))
        .expression_attribute_values(":rank", n(rank))
        .expression_attribute_values(":cancelled", s(OrderStatus::Cancelled.as_str()));
    let mark = update(store, ticket_key(product_id, customer, rank))
        .update_expression("ADD bought_by :order")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":order", AttributeValue::Ss(vec![order_id.to_owned()]));
    store.count(Op::Transaction);
    let writes = vec![wrap(note)?, wrap(mark)?];
    match store.client.transact_write_items().set_transact_items(Some(writes)).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if error::cancellation_reasons(&e)
                .is_some_and(|r| r.iter().any(|reason| reason.as_deref() == Some("ConditionalCheckFailed"))) =>
        {
            Ok(())
        }
        Err(e) => Err(store.sdk(e)),
    }
}

/// What a cancel of the order `order_id` writes to the ticket its mark is on (the order
/// item's `queue_product` and `queue_rank`), in the cancel's transaction.
pub fn release_mark(
    store: &DynamoStore,
    (product_id, rank): (&str, u64),
    customer: &str,
    order_id: &str,
) -> Result<TransactWriteItem, StoreError> {
    wrap(
        update(store, ticket_key(product_id, customer, rank))
            .update_expression("DELETE bought_by :order")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":order", AttributeValue::Ss(vec![order_id.to_owned()])),
    )
}

/// The key of the customer's ticket of `rank` in its line partition.
fn ticket_key(product_id: &str, customer: &str, rank: u64) -> Item {
    keys::key(keys::line_partition(product_id, customer), &keys::line_rank(rank))
}

/// The product's stock from its counters, read consistently: every order acknowledged
/// before the read has drawn its units.
pub async fn stock_now(store: &DynamoStore, product_id: &str) -> Result<Option<u32>, StoreError> {
    let Some(product) = catalog::definitions(store, [product_id]).await?.remove(product_id) else { return Ok(None) };
    Ok(catalog::with_stock(store, vec![product], true).await?.pop().map(|view| view.stock))
}

/// The marks within `ranks`, as (rank, order id): every partition's tickets in the range
/// are read (those let in within an admission window), the marked ones returned.
pub async fn purchase_marks(
    store: &DynamoStore,
    product_id: &str,
    ranks: RangeInclusive<u64>,
) -> Result<Vec<(u64, String)>, StoreError> {
    let mut marks = Vec::new();
    for (_, rank, orders) in marked_tickets(store, product_id, ranks).await? {
        marks.extend(orders.into_iter().map(|order| (rank, order)));
    }
    Ok(marks)
}

/// Of `marks`, those still on their tickets, the tickets read with `TransactGetItems`: a
/// query may read a ticket as it was before a cancel whose units the stock counters already
/// show (a transaction's writes land item by item), while a transactional read is refused
/// while that cancel is being applied, and after it sees the mark gone. The tickets' keys
/// come from the marked tickets within `ranks` (a query per partition, as the first read;
/// keys never change). A refused read fails the count, and the room judges by units sold.
/// Cost: two read units per marked ticket (per 4 KB), besides the queries.
pub async fn marks_still_held(
    store: &DynamoStore,
    product_id: &str,
    ranks: RangeInclusive<u64>,
    marks: Vec<(u64, String)>,
) -> Result<Vec<(u64, String)>, StoreError> {
    let wanted: HashSet<(u64, &str)> = marks.iter().map(|(rank, order)| (*rank, order.as_str())).collect();
    let tickets: Vec<Item> = marked_tickets(store, product_id, ranks)
        .await?
        .into_iter()
        .filter(|(_, rank, orders)| orders.iter().any(|order| wanted.contains(&(*rank, order.as_str()))))
        .map(|(key, _, _)| key)
        .collect();
    // The calls go at once: each is one snapshot of its tickets, which is all a mark needs.
    let reads = try_join_all(tickets.chunks(TRANSACT_GET_MAX).map(|chunk| still_marked(store, chunk)));
    let held: HashSet<(u64, String)> = reads.await?.into_iter().flatten().collect();
    Ok(marks.into_iter().filter(|mark| held.contains(mark)).collect())
}

/// The marks on `tickets` (keys), read in one `TransactGetItems`, as (rank, order id). Each
/// answer names its own rank, so a ticket gone since is simply not there.
async fn still_marked(store: &DynamoStore, tickets: &[Item]) -> Result<Vec<(u64, String)>, StoreError> {
    let gets = tickets.iter().map(|key| {
        let get = Get::builder()
            .table_name(store.table())
            .set_key(Some(key.clone()))
            .projection_expression("sk, bought_by")
            .build()
            .map_err(error::build)?;
        Ok(TransactGetItem::builder().get(get).build())
    });
    store.count(Op::Read);
    let out = store
        .client
        .transact_get_items()
        .set_transact_items(Some(gets.collect::<Result<_, StoreError>>()?))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .map_err(|e| store.sdk(e))?;
    store.counters.consumed(out.consumed_capacity());
    let mut marks = Vec::new();
    for item in out.responses.unwrap_or_default().into_iter().filter_map(|response| response.item) {
        let rank = rank_of(&item)?;
        let orders = item.get("bought_by").and_then(|v| v.as_ss().ok()).into_iter().flatten();
        marks.extend(orders.map(|order| (rank, order.clone())));
    }
    Ok(marks)
}

/// The most items one `TransactGetItems` reads here: DynamoDB has taken 100 since 2022, but
/// moto (the tests' DynamoDB) refuses more than 25, the old limit; the calls go at once.
const TRANSACT_GET_MAX: usize = 25;

/// The marked tickets within `ranks`: each one's key, rank and the orders in its mark.
async fn marked_tickets(
    store: &DynamoStore,
    product_id: &str,
    ranks: RangeInclusive<u64>,
) -> Result<Vec<(Item, u64, Vec<String>)>, StoreError> {
    let (low, high) = (keys::line_rank(*ranks.start()), keys::line_rank(*ranks.end()));
    let narrow = |query: QueryFluentBuilder| {
        query
            .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
            .expression_attribute_values(":low", s(low.clone()))
            .expression_attribute_values(":high", s(high.clone()))
            .filter_expression("attribute_exists(bought_by)")
            .consistent_read(true)
    };
    let mut marked = Vec::new();
    for item in read_partitions(store, product_id, "pk, sk, bought_by", narrow).await? {
        let rank = rank_of(&item)?;
        let orders = item.get("bought_by").and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default();
        marked.push((keys::key(get_s(&item, PK)?.to_owned(), get_s(&item, keys::SK)?), rank, orders));
    }
    Ok(marked)
}

/// Every item of every partition of a product's line, with `projection`.
async fn read_line(store: &DynamoStore, product_id: &str, projection: &str) -> Result<Vec<Item>, StoreError> {
    read_partitions(store, product_id, projection, |query| query.key_condition_expression("pk = :pk")).await
}

/// The items of every partition of a product's line that `narrow` (which gives the key
/// condition on `:pk`) selects, with `projection`.
async fn read_partitions(
    store: &DynamoStore,
    product_id: &str,
    projection: &str,
    narrow: impl Fn(QueryFluentBuilder) -> QueryFluentBuilder,
) -> Result<Vec<Item>, StoreError> {
    let narrow = &narrow;
    let found = try_join_all(partitions(product_id).map(|pk| async move {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            store.count(Op::Read);
            let query = store.client.query().table_name(store.table());
            let out = narrow(query)
                .expression_attribute_values(":pk", s(pk.clone()))
                .projection_expression(projection)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| store.sdk(e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok::<_, StoreError>(items),
            }
        }
    }))
    .await?;
    Ok(found.into_iter().flatten().collect())
}

pub async fn next(store: &DynamoStore, product_id: &str, after: u64, limit: u64) -> Result<Vec<u64>, StoreError> {
    let low = keys::line_rank(after);
    let per_partition = i32::try_from(limit).unwrap_or(i32::MAX);
    let found = try_join_all(partitions(product_id).map(|pk| {
        let low = low.clone();
        async move {
            // A partition's first `limit` ranks above `after` are all it can contribute.
            store.count(Op::Read);
            let out = store
                .client
                .query()
                .table_name(store.table())
                .key_condition_expression("pk = :pk AND sk > :low")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":low", s(low))
                .projection_expression("sk")
                .consistent_read(true)
                .limit(per_partition)
                .send()
                .await
                .map_err(|e| store.sdk(e))?;
            out.items
                .unwrap_or_default()
                .iter()
                .map(|item| get_s(item, keys::SK)?.parse::<u64>().map_err(|e| StoreError::Backend(e.to_string())))
                .collect::<Result<Vec<u64>, StoreError>>()
        }
    }))
    .await?;
    let mut ranks: Vec<u64> = found.into_iter().flatten().collect();
    ranks.sort_unstable();
    ranks.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(ranks)
}
