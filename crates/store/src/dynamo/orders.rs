//! Order status changes (cancellation returns stock exactly once), a customer's orders, and
//! the sales audit.

use super::DynamoStore;
use super::catalog;
use super::item::{self, get_n, n, opt_n, opt_s, s};
use super::keys::{self, BY_CUSTOMER};
use super::line;
use super::op_counts::Op;
use super::writes::{delete, put, update, wrap};
use crate::clock::now_millis;
use crate::outbox::{ORDER_CANCELLED, ORDER_STATUS_CHANGED};
use crate::{Order, OrderPage, ProductSales, StoreError};
use aws_sdk_dynamodb::types::TransactWriteItem;
use stampede_domain::{CustomerKey, OrderStatus};

/// How often a status change re-reads an order that changed under it before giving up.
const ATTEMPTS: u32 = 5;

/// Moves an order to `next`; `by_customer` applies the customer's narrower cancel rule.
/// The write is conditional on the status it was judged on, so two cancels of one order
/// cannot both return its stock: the second sees `cancelled` and is refused. A cancel is
/// also conditional on the waiting-room mark it read (`line::mark_bought`), which it takes
/// off the ticket keyed by the order's limit key, as the mark was.
pub async fn change_status(
    store: &DynamoStore,
    id: &str,
    next: OrderStatus,
    by_customer: bool,
) -> Result<Order, StoreError> {
    for _ in 0..ATTEMPTS {
        let item = store.get(keys::order(id)).await?;
        let item = item.ok_or_else(|| StoreError::NotFound { what: "order", id: id.to_owned() })?;
        let mut order = item::order_from(&item)?;
        let from = order.status;
        if by_customer && !from.customer_can_cancel() {
            return Err(StoreError::NotCancellable { id: id.to_owned(), status: from });
        }
        if !by_customer && !from.can_become(next) {
            return Err(StoreError::InvalidTransition { id: id.to_owned(), from, to: next });
        }
        let now = now_millis();
        // The waiting-room ticket the order marked as bought (`line::mark_bought`), if any.
        let marked = opt_s(&item, "queue_product").zip(opt_n::<u64>(&item, "queue_rank")?);
        let mut status = update(store, keys::order(id))
            .update_expression("SET #status = :next, updated_at = :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":next", s(next.as_str()))
            .expression_attribute_values(":from", s(from.as_str()))
            .expression_attribute_values(":now", n(now));
        status = match marked {
            // A cancel goes only on the mark as read: one landing meanwhile sends it round again.
            None if next == OrderStatus::Cancelled => {
                status.condition_expression("#status = :from AND attribute_not_exists(queue_rank)")
            }
            _ => status.condition_expression("#status = :from"),
        };
        let mut writes = vec![wrap(status)?];
        if next == OrderStatus::Cancelled {
            writes.extend(give_back(store, &order, &item).await?);
            if let Some(ticket) = marked {
                // The room counts the customer as deciding again.
                writes.push(line::release_mark(store, ticket, &order.customer.limit_key().0, id)?);
            }
        }
        let kind = if next == OrderStatus::Cancelled { ORDER_CANCELLED } else { ORDER_STATUS_CHANGED };
        writes.push(put(store, item::new_event(kind, id, next, Some(from), now), None)?);
        store.count(Op::Transaction);
        match store.client.transact_write_items().set_transact_items(Some(writes)).send().await {
            Ok(_) => {
                if next == OrderStatus::Cancelled {
                    // Stock came back: what this instance learnt about it is stale.
                    let taken = item::taken_from(&item)?;
                    let mut memory = store.memory();
                    taken.keys().for_each(|product_id| memory.forget(product_id));
                    store.tick_stock();
                }
                store.tick_outbox();
                order.status = next;
                order.updated_at = now;
                return Ok(order);
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_transaction_canceled_exception()) => {
                // The status moved (or another transaction held the order): judge again.
                continue;
            }
            Err(e) => return Err(store.sdk(e)),
        }
    }
    Err(StoreError::Busy { retry_after: store.config.retry_after })
}

/// Writes returning a cancelled order's units to the counters they came from and taking
/// them off the customer's holdings.
async fn give_back(
    store: &DynamoStore,
    order: &Order,
    item: &keys::Item,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let taken = item::taken_from(item)?;
    let definitions = catalog::definitions(store, taken.keys().map(String::as_str)).await?;
    let mut writes = Vec::new();
    for (product_id, plan) in &taken {
        for (i, (shard, units)) in plan.iter().enumerate() {
            // Undo the sales figures placing the order added (see `place::transaction`).
            let orders = if i == 0 { ", orders :minus_one" } else { "" };
            let mut write = update(store, keys::shard(product_id, *shard))
                .update_expression(format!("ADD stock :n, sold :minus_n{orders}"))
                .expression_attribute_values(":n", n(units))
                .expression_attribute_values(":minus_n", n(-i64::from(*units)));
            if i == 0 {
                write = write.expression_attribute_values(":minus_one", n(-1));
            }
            writes.push(wrap(write)?);
        }
        // Stock is back: the product is no longer sold out for anyone.
        writes.push(delete(store, keys::sold_out(product_id))?);
        if definitions.get(product_id).is_some_and(|p| p.sale.per_customer_max.is_some()) {
            let units: u32 = plan.iter().map(|(_, u)| u).sum();
            writes.push(wrap(
                update(store, keys::holding(product_id, &order.customer.limit_key().0))
                    .update_expression("ADD qty :n")
                    .expression_attribute_values(":n", n(-i64::from(units))),
            )?);
        }
    }
    Ok(writes)
}

/// A page of a customer's orders, newest first, from the `byCustomer` index. The cursor is
/// the last order id of the previous page, as with SQLite.
pub async fn customer_orders(
    store: &DynamoStore,
    customer: &CustomerKey,
    cursor: Option<&str>,
    limit: u32,
) -> Result<OrderPage, StoreError> {
    let mut query = store
        .client
        .query()
        .table_name(store.table())
        .index_name(BY_CUSTOMER)
        .scan_index_forward(false)
        .expression_attribute_values(":c", s(keys::customer_partition(&customer.0)))
        // One extra item tells whether another page follows.
        .limit(i32::try_from(limit.saturating_add(1)).unwrap_or(i32::MAX));
    query = match cursor {
        Some(cursor) => query
            .key_condition_expression("gsi1pk = :c AND gsi1sk < :cursor")
            .expression_attribute_values(":cursor", s(cursor)),
        None => query.key_condition_expression("gsi1pk = :c"),
    };
    store.count(Op::Read);
    let out = query.send().await.map_err(|e| store.sdk(e))?;
    let items = out.items.unwrap_or_default();
    let has_more = items.len() > limit as usize;
    let orders = items.iter().take(limit as usize).map(item::order_from).collect::<Result<Vec<_>, _>>()?;
    Ok(OrderPage::new(orders, has_more))
}

/// A product's sales from its counters' figures (kept by the order and cancel transactions)
/// and, for a limited product, its holdings: a read per counter and a query per holdings
/// bucket, never a scan of the table, so the audit stays fast however many orders there are.
pub async fn product_sales(store: &DynamoStore, id: &str) -> Result<ProductSales, StoreError> {
    let product = catalog::definitions(store, [id]).await?.remove(id);
    let product = product.ok_or_else(|| StoreError::NotFound { what: "product", id: id.to_owned() })?;
    let counters = store.get_many((0..product.stock_shards).map(|n| keys::shard(id, n)).collect(), true).await?;
    let (mut stock, mut units_sold, mut orders) = (0u32, 0u64, 0u64);
    for counter in &counters {
        stock = stock.saturating_add(catalog::stock_level(counter)?);
        // Absent until the counter's first sale.
        units_sold += opt_n::<u64>(counter, "sold")?.unwrap_or(0);
        orders += opt_n::<u64>(counter, "orders")?.unwrap_or(0);
    }
    let max_units_per_customer = match product.sale.per_customer_max {
        Some(_) => Some(max_holding(store, id).await?),
        None => None,
    };
    Ok(ProductSales { stock, units_sold, orders, max_units_per_customer })
}

/// The most units any customer holds of a limited product, over its holdings buckets.
async fn max_holding(store: &DynamoStore, id: &str) -> Result<u64, StoreError> {
    let mut max = 0u64;
    for bucket in 0..keys::HOLD_BUCKETS {
        let query = store
            .client
            .query()
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s(keys::holders_partition(id, bucket)))
            .projection_expression("qty")
            .consistent_read(true);
        for item in store.query_pages(query, |_| false).await?.iter().flat_map(|p| p.items()) {
            max = max.max(get_n(item, "qty")?);
        }
    }
    Ok(max)
}
