//! Placing an order: read the counters, judge with the domain rules, then one
//! `TransactWriteItems` with every condition that makes the judgement true at commit time.
//! A lost race (a counter emptied meanwhile) re-reads and judges again.

use super::catalog;
use super::item::{self, Taken, get_n, get_s, n, s};
use super::keys;
use super::writes::{put, update, wrap};
use super::{DynamoStore, error, now_millis, shards};
use crate::outbox::ORDER_PLACED;
use crate::{IdempotencyKey, Order, PlaceOrder, Placed, StoreError};
use aws_sdk_dynamodb::types::TransactWriteItem;
use rand::Rng;
use stampede_domain::{OrderStatus, Product, ProductState, evaluate};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// What each write of the transaction is for, in the order sent: a cancellation reason is
/// reported per write, by position.
enum Write {
    Counter,
    Holding,
    Idempotency,
    Record,
}

/// Most writes one transaction may hold.
const MAX_WRITES: usize = 100;

/// Places `order`, or replays the order its idempotency key already placed.
pub async fn place_order(store: &DynamoStore, order: PlaceOrder) -> Result<Placed, StoreError> {
    let idem = order.idempotency();
    // A retry of an order that went through gets it back, even if the product sold out since.
    if let Some(idem) = &idem
        && let Some(placed) = replay(store, idem).await?
    {
        return Ok(placed);
    }
    let request = &order.request;
    let quantities = request.quantities_by_product();
    let definitions = catalog::definitions(store, quantities.keys().copied()).await?;
    for attempt in 0..store.config.max_attempts.max(1) {
        if attempt > 0 {
            // Jittered backoff, so orders that collided do not collide again in step.
            let ceiling = 5 * u64::from(attempt.min(8));
            let pause = rand::rng().random_range(1..=ceiling);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            // A retry of this key may have gone through meanwhile: its order is the answer,
            // even if what is left would now refuse this one.
            if let Some(idem) = &idem
                && let Some(placed) = replay(store, idem).await?
            {
                return Ok(placed);
            }
        }
        let products: Vec<&Product> = definitions.values().collect();
        let levels = catalog::levels(store, &products).await?;
        let holdings = holdings(store, &request.customer.key.0, &products).await?;
        let state: BTreeMap<&str, ProductState<'_>> = definitions
            .iter()
            .map(|(id, product)| {
                let available = levels.get(id).map_or(0, |l| l.iter().sum());
                let already_bought = holdings.get(id).copied().unwrap_or(0);
                (id.as_str(), ProductState { product, available, already_bought })
            })
            .collect();
        let now = now_millis();
        // Refusals here are final: the reads were consistent, and a race can only have
        // made things scarcer.
        let priced = evaluate(request, &state, now)?;
        let mut taken = Taken::new();
        for (id, qty) in &quantities {
            let shard_levels = &levels[*id];
            let start = rand::rng().random_range(0..shard_levels.len());
            // `evaluate` checked the total, so a plan exists.
            let plan = shards::allocate(shard_levels, *qty, start)
                .ok_or_else(|| StoreError::Backend(format!("no stock plan for `{id}`")))?;
            taken.insert((*id).to_owned(), plan);
        }
        let placed = Order {
            id: uuid::Uuid::now_v7().to_string(),
            customer: request.customer.clone(),
            lines: priced.lines,
            total: priced.total,
            status: OrderStatus::Received,
            fulfilment: request.fulfilment.clone(),
            created_at: now,
            updated_at: now,
        };
        let (writes, purposes) = transaction(store, &placed, idem.as_ref(), &taken, &definitions, &holdings)?;
        if writes.len() > MAX_WRITES {
            return Err(StoreError::Conflict(format!(
                "this order would touch {} stock counters and records, more than one transaction holds ({MAX_WRITES}); split it into smaller orders",
                writes.len()
            )));
        }
        let Err(e) = store.client.transact_write_items().set_transact_items(Some(writes)).send().await else {
            store.tick_stock();
            store.tick_outbox();
            return Ok(Placed { order: placed, replayed: false });
        };
        let Some(reasons) = error::cancellation_reasons(&e) else { return Err(store.sdk(e)) };
        let failed = |want: fn(&Write) -> bool| {
            purposes.iter().zip(&reasons).any(|(w, r)| want(w) && r.as_deref() == Some("ConditionalCheckFailed"))
        };
        if failed(|w| matches!(w, Write::Idempotency))
            && let Some(idem) = &idem
        {
            // A concurrent request with the same key won the race; answer with its order.
            if let Some(placed) = replay(store, idem).await? {
                return Ok(placed);
            }
        }
        if failed(|w| matches!(w, Write::Record)) {
            return Err(StoreError::Backend(format!("order id {} collided", placed.id)));
        }
        // A counter or a holding moved under us, or another transaction held an item
        // (`TransactionConflict`): judge again on fresh reads.
        tracing::debug!(attempt, ?reasons, "order transaction cancelled; retrying");
    }
    Err(StoreError::Busy { retry_after: store.config.retry_after })
}

/// The order an idempotency key already placed, or a mismatch if the key came with another request.
async fn replay(store: &DynamoStore, idem: &IdempotencyKey) -> Result<Option<Placed>, StoreError> {
    let Some(record) = store.get(keys::idempotency(&idem.key)).await? else { return Ok(None) };
    if get_s(&record, "fingerprint")? != idem.fingerprint {
        return Err(StoreError::IdempotencyMismatch(idem.key.clone()));
    }
    let order_id = get_s(&record, "order_id")?;
    let item = store.get(keys::order(order_id)).await?;
    // The transaction wrote both or neither, so the order is there.
    let item = item.ok_or_else(|| StoreError::Backend(format!("order {order_id} vanished")))?;
    Ok(Some(Placed { order: item::order_from(&item)?, replayed: true }))
}

/// Units the customer holds of each product that has a per-customer limit (others are not tracked).
async fn holdings(
    store: &DynamoStore,
    customer_key: &str,
    products: &[&Product],
) -> Result<HashMap<String, u32>, StoreError> {
    let limited: Vec<_> = products
        .iter()
        .filter(|p| p.sale.per_customer_max.is_some())
        .map(|p| keys::holding(&p.id, customer_key))
        .collect();
    if limited.is_empty() {
        return Ok(HashMap::new());
    }
    let mut held = HashMap::new();
    for item in store.get_many(limited).await? {
        let pk = get_s(&item, keys::PK)?;
        let product = pk.strip_prefix("HOLD#").and_then(|rest| rest.split_once('#')).map(|(p, _)| p.to_owned());
        if let Some(product) = product {
            held.insert(product, get_n(&item, "qty")?);
        }
    }
    Ok(held)
}

/// Every write of the order, each conditional on what the judgement relied on.
fn transaction(
    store: &DynamoStore,
    order: &Order,
    idem: Option<&IdempotencyKey>,
    taken: &Taken,
    definitions: &HashMap<String, stampede_domain::Product>,
    holdings: &HashMap<String, u32>,
) -> Result<(Vec<TransactWriteItem>, Vec<Write>), StoreError> {
    let mut writes = Vec::new();
    let mut purposes = Vec::new();
    for (product_id, plan) in taken {
        for (shard, units) in plan {
            writes.push(wrap(
                update(store, keys::shard(product_id, *shard))
                    .update_expression("SET stock = stock - :n")
                    .condition_expression("stock >= :n")
                    .expression_attribute_values(":n", n(units)),
            )?);
            purposes.push(Write::Counter);
        }
        if definitions.get(product_id).is_some_and(|p| p.sale.per_customer_max.is_some()) {
            let units: u32 = plan.iter().map(|(_, u)| u).sum();
            // The holding must still be what the judgement saw, or the limit may be passed
            // by two concurrent orders of one customer.
            let seen = holdings.get(product_id).copied().unwrap_or(0);
            let condition = if seen == 0 { "attribute_not_exists(qty) OR qty = :seen" } else { "qty = :seen" };
            writes.push(wrap(
                update(store, keys::holding(product_id, &order.customer.key.0))
                    .update_expression("SET qty = if_not_exists(qty, :zero) + :n")
                    .condition_expression(condition)
                    .expression_attribute_values(":n", n(units))
                    .expression_attribute_values(":seen", n(seen))
                    .expression_attribute_values(":zero", n(0)),
            )?);
            purposes.push(Write::Holding);
        }
    }
    if let Some(idem) = idem {
        let mut record = keys::idempotency(&idem.key);
        record.insert("order_id".into(), s(&order.id));
        record.insert("fingerprint".into(), s(&idem.fingerprint));
        writes.push(put(store, record, Some("attribute_not_exists(pk)"))?);
        purposes.push(Write::Idempotency);
    }
    let order_item = item::order_item(order, idem.map(|i| i.key.as_str()), taken)?;
    writes.push(put(store, order_item, Some("attribute_not_exists(pk)"))?);
    purposes.push(Write::Record);
    let event = item::new_event(ORDER_PLACED, &order.id, OrderStatus::Received, None, order.created_at);
    writes.push(put(store, event, None)?);
    purposes.push(Write::Record);
    Ok((writes, purposes))
}
