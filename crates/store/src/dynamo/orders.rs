//! Order status changes (cancellation returns stock exactly once), a customer's orders, and
//! the sales audit.

use super::catalog;
use super::item::{self, get_s, n, s};
use super::keys::{self, BY_CUSTOMER};
use super::op_counts::Op;
use super::writes::{delete, put, update, wrap};
use super::{DynamoStore, now_millis};
use crate::outbox::{ORDER_CANCELLED, ORDER_STATUS_CHANGED};
use crate::{Order, OrderPage, ProductSales, StoreError};
use aws_sdk_dynamodb::types::TransactWriteItem;
use stampede_domain::{CustomerKey, OrderStatus};
use std::collections::HashMap;

/// How often a status change re-reads an order that changed under it before giving up.
const ATTEMPTS: u32 = 5;

/// Moves an order to `next`; `by_customer` applies the customer's narrower cancel rule.
/// The write is conditional on the status it was judged on, so two cancels of one order
/// cannot both return its stock: the second sees `cancelled` and is refused.
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
        let mut writes = vec![wrap(
            update(store, keys::order(id))
                .update_expression("SET #status = :next, updated_at = :now")
                .condition_expression("#status = :from")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":next", s(next.as_str()))
                .expression_attribute_values(":from", s(from.as_str()))
                .expression_attribute_values(":now", n(now)),
        )?];
        if next == OrderStatus::Cancelled {
            writes.extend(give_back(store, &order, &item).await?);
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
        for (shard, units) in plan {
            writes.push(wrap(
                update(store, keys::shard(product_id, *shard))
                    .update_expression("ADD stock :n")
                    .expression_attribute_values(":n", n(units)),
            )?);
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
    let next_cursor = has_more.then(|| orders.last().map(|o| o.id.clone())).flatten();
    Ok(OrderPage { orders, next_cursor })
}

/// Sales of a product counted from the order items. A full scan of the orders: an audit
/// for staff and load tests, not a storefront path (on-demand cost grows with the table).
pub async fn product_sales(store: &DynamoStore, id: &str) -> Result<ProductSales, StoreError> {
    let product = catalog::product_fresh(store, id).await?;
    let product = product.ok_or_else(|| StoreError::NotFound { what: "product", id: id.to_owned() })?;
    let (mut units_sold, mut orders) = (0u64, 0u64);
    let mut per_customer: HashMap<String, u64> = HashMap::new();
    let mut start = None;
    loop {
        store.count(Op::Read);
        let out = store
            .client
            .scan()
            .table_name(store.table())
            .filter_expression("sk = :order AND #status <> :cancelled")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":order", s("ORDER"))
            .expression_attribute_values(":cancelled", s(OrderStatus::Cancelled.as_str()))
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| store.sdk(e))?;
        for item in out.items.unwrap_or_default() {
            let order = item::order_from(&item)?;
            let units: u64 = order.lines.iter().filter(|l| l.product_id == id).map(|l| u64::from(l.quantity)).sum();
            if units > 0 {
                units_sold += units;
                orders += 1;
                *per_customer.entry(get_s(&item, "customer_key")?.to_owned()).or_default() += units;
            }
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    let max_units_per_customer = per_customer.values().copied().max().unwrap_or(0);
    Ok(ProductSales { stock: product.stock, units_sold, orders, max_units_per_customer })
}
