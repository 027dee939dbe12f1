//! The writes: placing an order, cancelling, staff status changes and new products, each one
//! PostgreSQL transaction at READ COMMITTED. Conditions that must hold across instances are
//! in the statements themselves (a conditional decrement, row locks), not in this process.
//!
//! Placing, in one transaction:
//! 1. lock the customer's holding rows of products with a per-customer limit (so two orders
//!    of one customer are judged one after the other);
//! 2. read the product's stock counters without locking and judge the order with
//!    `stampede_domain::evaluate`, as SQLite and DynamoDB do;
//! 3. insert the order, its lines and its outbox event;
//! 4. last, draw the units: `UPDATE product_stock SET stock = stock - n WHERE ... AND
//!    stock >= n` on counters chosen at random (`stockShards`, as on DynamoDB), so instances
//!    selling one hot product spread over several row locks, each held only from this
//!    statement to the commit. A counter that went short since step 2 makes the attempt roll
//!    back and start again; the last attempt locks every counter of its products
//!    (`FOR UPDATE`, in key order) and so gets an exact answer.
//!
//! Locks are always taken in the same order (order row, holdings by product, counters by
//! product and shard), so placing and cancelling cannot deadlock each other; a deadlock or
//! serialization failure from anything else is retried like a short counter.

use super::error::{pg_error, retryable};
use super::store::PostgresStore;
use super::{cached, rows};
use crate::clock::now_millis;
use crate::outbox::{ORDER_CANCELLED, ORDER_PLACED, ORDER_STATUS_CHANGED, new_event_payload};
use crate::shards;
use crate::{IdempotencyKey, Order, PlaceOrder, Placed, ProductView, StoreError};
use deadpool_postgres::{GenericClient, Transaction};
use rand::Rng;
use stampede_domain::{
    Millis, OrderRejection, OrderRequest, OrderStatus, Phone, PricedOrder, Product, ProductState, evaluate,
};
use std::collections::{BTreeMap, HashMap};
use tokio_postgres::error::SqlState;

/// Transactions one order may begin before it is answered 503; the last one locks its
/// counters, so only deadlocks can use them all up.
const MAX_ATTEMPTS: u32 = 4;

/// Places `order`, or replays the order its idempotency key already placed.
pub async fn place_order(store: &PostgresStore, order: PlaceOrder) -> Result<Placed, StoreError> {
    let idem = order.idempotency();
    // The sold-out fast path: refused from what this instance knows, without a transaction.
    if let Some(rejection) = store.live.refuse(&order.request, now_millis()) {
        // A retry of an order that went through (on any instance) gets it back, even though
        // the product has sold out since: one indexed SELECT on the key.
        if let Some(idem) = &idem
            && let Some(placed) = replay(&store.client().await?, idem).await?
        {
            return Ok(placed);
        }
        return Err(rejection.into());
    }
    let mut client = store.client().await?;
    for attempt in 1..=MAX_ATTEMPTS {
        // A retry of an order that went through gets it back, even if the product sold out
        // since; on later attempts, a concurrent retry of this key may have gone through.
        if let Some(idem) = &idem
            && let Some(placed) = replay(&client, idem).await?
        {
            return Ok(placed);
        }
        let since = store.live.since();
        let mut seen = Vec::new();
        let tx = client.transaction().await.map_err(pg_error)?;
        match try_place(&tx, &order.request, idem.as_ref(), attempt == MAX_ATTEMPTS, &mut seen).await {
            Ok(Some(placed)) => match tx.commit().await {
                Ok(()) => {
                    // What is left is what the transaction read less what it drew; a sale
                    // elsewhere meanwhile leaves less, which the next poll shows.
                    let quantities = order.request.quantities_by_product();
                    for view in &mut seen {
                        view.stock =
                            view.stock.saturating_sub(quantities.get(view.product.id.as_str()).copied().unwrap_or(0));
                    }
                    store.live.observed(seen, since, false);
                    store.tick_stock();
                    store.tick_outbox();
                    return Ok(placed);
                }
                Err(e) if retryable(&e) => continue,
                Err(e) => return Err(pg_error(e)),
            },
            // A counter went short since it was read: look again.
            Ok(None) => continue,
            Err(Failure::Store(e @ StoreError::Rejected(_))) => {
                // Refused on the levels read: the next order for a sold-out product is
                // refused without a transaction.
                store.live.observed(seen, since, false);
                return Err(e);
            }
            Err(Failure::Store(e)) => return Err(e),
            // A unique violation is a concurrent retry of this idempotency key that went
            // through first: the next attempt replays it.
            Err(Failure::Pg(e)) if retryable(&e) || e.code() == Some(&SqlState::UNIQUE_VIOLATION) => continue,
            Err(Failure::Pg(e)) => return Err(pg_error(e)),
        }
    }
    // The last attempt may have lost its key to a concurrent retry: that one's order is the answer.
    if let Some(idem) = &idem
        && let Some(placed) = replay(&client, idem).await?
    {
        return Ok(placed);
    }
    Err(StoreError::Busy { retry_after: store.config.retry_after })
}

/// Why an attempt stopped: a business answer, or a database error the caller may retry.
enum Failure {
    Store(StoreError),
    Pg(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Pg(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl From<OrderRejection> for Failure {
    fn from(e: OrderRejection) -> Self {
        Failure::Store(e.into())
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        Failure::Store(e.into())
    }
}

/// One attempt at placing `request` in `tx`, in the steps the module comment lists; `None`
/// when a counter went short since it was read (the caller tries again).
async fn try_place(
    tx: &Transaction<'_>,
    request: &OrderRequest,
    idem: Option<&IdempotencyKey>,
    lock_counters: bool,
    seen: &mut Vec<ProductView>,
) -> Result<Option<Placed>, Failure> {
    let now = now_millis();
    let quantities = request.quantities_by_product();
    let ids: Vec<&str> = quantities.keys().copied().collect();
    let definitions = load_definitions(tx, &ids).await?;
    // Limits count under the limit key (an email without its +tag), as on the other stores.
    let customer = request.customer.limit_key().0.as_str();
    let held = lock_holdings(tx, customer, &ids, &definitions).await?;
    let levels = read_levels(tx, &ids, lock_counters).await?;
    let priced = judge(request, &definitions, &levels, &held, now, seen)?;

    let id = Order::new_id();
    insert_order(tx, &id, request, idem, &priced, now).await?;
    add_to_holdings(tx, customer, &quantities, &held).await?;
    enqueue_event(tx, ORDER_PLACED, &id, OrderStatus::Received, None, now).await?;
    // Last, so the counters' row locks are held for as short a time as possible.
    if !draw_units(tx, &quantities, &levels).await? {
        return Ok(None);
    }
    Ok(Some(Placed { order: Order::received(id, request, priced, now), replayed: false }))
}

/// The named products' definitions, each with its number of stock counters.
async fn load_definitions(tx: &Transaction<'_>, ids: &[&str]) -> Result<HashMap<String, Product>, Failure> {
    let mut definitions: HashMap<String, Product> = HashMap::new();
    for r in cached::query(tx, "SELECT definition, stock_shards FROM products WHERE id = ANY($1)", &[&ids]).await? {
        let product: Product = serde_json::from_str(r.get(0))?;
        let stock_shards = rows::count(i64::from(r.get::<_, i32>(1)))?;
        definitions.insert(product.id.clone(), Product { stock_shards, ..product });
    }
    Ok(definitions)
}

/// Step 1: locks (creating it if need be) the customer's holding row of each product with a
/// per-customer limit; what they hold of each.
async fn lock_holdings<'a>(
    tx: &Transaction<'_>,
    customer: &str,
    ids: &[&'a str],
    definitions: &HashMap<String, Product>,
) -> Result<HashMap<&'a str, u32>, Failure> {
    let mut held: HashMap<&str, u32> = HashMap::new();
    for id in ids {
        if definitions.get(*id).is_some_and(|p| p.sale.per_customer_max.is_some()) {
            cached::execute(
                tx,
                "INSERT INTO customer_holdings (customer_key, product_id, quantity) VALUES ($1, $2, 0)
                 ON CONFLICT DO NOTHING",
                &[&customer, id],
            )
            .await?;
            let r = cached::query_one(
                tx,
                "SELECT quantity FROM customer_holdings WHERE customer_key = $1 AND product_id = $2 FOR UPDATE",
                &[&customer, id],
            )
            .await?;
            held.insert(id, rows::count(r.get(0))?);
        }
    }
    Ok(held)
}

/// Step 2: every counter's level by product, in shard order; locked on the last attempt.
async fn read_levels(
    tx: &Transaction<'_>,
    ids: &[&str],
    lock_counters: bool,
) -> Result<BTreeMap<String, Vec<u32>>, Failure> {
    let lock = if lock_counters { " FOR UPDATE" } else { "" };
    let mut levels: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let counters = cached::query(
        tx,
        &format!(
            "SELECT product_id, stock FROM product_stock WHERE product_id = ANY($1) ORDER BY product_id, shard{lock}"
        ),
        &[&ids],
    )
    .await?;
    for r in counters {
        levels.entry(r.get(0)).or_default().push(rows::count(r.get(1))?);
    }
    Ok(levels)
}

/// Step 2's judgement, with `stampede_domain::evaluate` on what was read; the levels read go
/// to `seen` either way, for the live stock.
fn judge(
    request: &OrderRequest,
    definitions: &HashMap<String, Product>,
    levels: &BTreeMap<String, Vec<u32>>,
    held: &HashMap<&str, u32>,
    now: Millis,
    seen: &mut Vec<ProductView>,
) -> Result<PricedOrder, Failure> {
    let state: BTreeMap<&str, ProductState<'_>> = definitions
        .values()
        .map(|product| {
            let available = levels.get(&product.id).map_or(0, |l| l.iter().sum());
            let already_bought = held.get(product.id.as_str()).copied().unwrap_or(0);
            (product.id.as_str(), ProductState { product, available, already_bought })
        })
        .collect();
    seen.extend(state.values().map(|s| ProductView { product: s.product.clone(), stock: s.available }));
    Ok(evaluate(request, &state, now)?)
}

/// Step 3: the order row and its lines.
async fn insert_order(
    tx: &Transaction<'_>,
    id: &str,
    request: &OrderRequest,
    idem: Option<&IdempotencyKey>,
    priced: &PricedOrder,
    now: Millis,
) -> Result<(), Failure> {
    let c = &request.customer;
    let (key, fingerprint) = idem.map(|i| (i.key.as_str(), i.fingerprint.as_str())).unzip();
    let fulfilment = request.fulfilment.as_ref().map(serde_json::to_string).transpose()?;
    cached::execute(
        tx,
        "INSERT INTO orders (id, customer_key, customer_email, customer_name, status, total_amount, currency,
                             created_at, updated_at, idempotency_key, request_fingerprint, fulfilment, phone,
                             slot_at, limit_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, $13, $14)",
        &[
            &id,
            &c.key.0,
            &c.email,
            &c.name,
            &OrderStatus::Received.as_str(),
            &priced.total.amount,
            &priced.total.currency.as_str(),
            &now,
            &key,
            &fingerprint,
            &fulfilment,
            &request.phone.as_ref().map(Phone::as_str),
            &request.slot,
            &c.limit_key.as_ref().map(|k| k.0.as_str()),
        ],
    )
    .await?;
    for (n, line) in priced.lines.iter().enumerate() {
        cached::execute(
            tx,
            "INSERT INTO order_lines (order_id, line_no, product_id, product_name, quantity, options, unit_amount,
                                      line_amount, currency)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &id,
                &(n as i32),
                &line.product_id,
                &line.product_name,
                &i64::from(line.quantity),
                &serde_json::to_string(&line.options)?,
                &line.unit_price.amount,
                &line.line_total.amount,
                &line.unit_price.currency.as_str(),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Step 3, continued: the order's units added to the customer's locked holdings.
async fn add_to_holdings(
    tx: &Transaction<'_>,
    customer: &str,
    quantities: &BTreeMap<&str, u32>,
    held: &HashMap<&str, u32>,
) -> Result<(), Failure> {
    for (product_id, qty) in quantities.iter().filter(|(p, _)| held.contains_key(*p)) {
        cached::execute(
            tx,
            "UPDATE customer_holdings SET quantity = quantity + $3 WHERE customer_key = $1 AND product_id = $2",
            &[&customer, product_id, &i64::from(*qty)],
        )
        .await?;
    }
    Ok(())
}

/// Step 4: draws each product's units from counters chosen at random, in key order; false
/// when a counter no longer holds what was read (the attempt must start again).
async fn draw_units(
    tx: &Transaction<'_>,
    quantities: &BTreeMap<&str, u32>,
    levels: &BTreeMap<String, Vec<u32>>,
) -> Result<bool, Failure> {
    let mut draws = Vec::new();
    for (product_id, qty) in quantities {
        let levels = &levels[*product_id];
        let start = rand::rng().random_range(0..levels.len());
        // `evaluate` checked the total suffices, so there is a plan; if not, look again.
        let Some(plan) = shards::allocate(levels, *qty, start) else { return Ok(false) };
        draws.extend(plan.into_iter().map(|(shard, units)| (*product_id, shard, units)));
    }
    draws.sort_unstable();
    for (product_id, shard, units) in draws {
        let drawn = cached::execute(
            tx,
            "UPDATE product_stock SET stock = stock - $3 WHERE product_id = $1 AND shard = $2 AND stock >= $3",
            &[&product_id, &(shard as i32), &i64::from(units)],
        )
        .await?;
        if drawn == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The order an idempotency key already placed, or a mismatch if the key came with another request.
async fn replay(c: &impl GenericClient, idem: &IdempotencyKey) -> Result<Option<Placed>, StoreError> {
    let Some((order_id, stored)) = rows::order_for_key(c, &idem.key).await? else { return Ok(None) };
    if stored != idem.fingerprint {
        return Err(StoreError::IdempotencyMismatch(idem.key.clone()));
    }
    let order = rows::load_order(c, &order_id)
        .await?
        .ok_or_else(|| StoreError::Backend(format!("order {order_id} vanished")))?;
    Ok(Some(Placed { order, replayed: true }))
}

/// Who asks for a status change: the customer may only cancel; staff follow the workflow.
#[derive(Clone, Copy)]
pub enum Change {
    CustomerCancel,
    Staff(OrderStatus),
}

/// Cancels or moves an order along; the order row is locked first, so concurrent cancels
/// return the stock once.
pub async fn change_status(store: &PostgresStore, id: &str, change: Change) -> Result<Order, StoreError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(pg_error)?;
    let exists =
        cached::query_opt(&tx, "SELECT 1 FROM orders WHERE id = $1 FOR UPDATE", &[&id]).await.map_err(pg_error)?;
    let order = match exists {
        Some(_) => rows::load_order(&tx, id).await?,
        None => None,
    };
    let mut order = order.ok_or_else(|| StoreError::NotFound { what: "order", id: id.to_owned() })?;
    let next = match change {
        Change::CustomerCancel if !order.status.customer_can_cancel() => {
            return Err(StoreError::NotCancellable { id: id.to_owned(), status: order.status });
        }
        Change::CustomerCancel => OrderStatus::Cancelled,
        Change::Staff(next) if !order.status.can_become(next) => {
            return Err(StoreError::InvalidTransition { id: id.to_owned(), from: order.status, to: next });
        }
        Change::Staff(next) => next,
    };
    let now = now_millis();
    cached::execute(&tx, "UPDATE orders SET status = $2, updated_at = $3 WHERE id = $1", &[&id, &next.as_str(), &now])
        .await
        .map_err(pg_error)?;
    if next == OrderStatus::Cancelled {
        return_stock(&tx, &order).await.map_err(pg_error)?;
    }
    let kind = if next == OrderStatus::Cancelled { ORDER_CANCELLED } else { ORDER_STATUS_CHANGED };
    enqueue_event(&tx, kind, id, next, Some(order.status), now).await.map_err(pg_error)?;
    tx.commit().await.map_err(pg_error)?;
    if next == OrderStatus::Cancelled {
        // Units came back: whatever was known of these products' levels no longer holds.
        for line in &order.lines {
            store.live.changed(&line.product_id, None);
        }
        store.tick_stock();
    }
    store.tick_outbox();
    order.status = next;
    order.updated_at = now;
    Ok(order)
}

/// Gives a cancelled order's units back to one counter of each product, chosen at random
/// (up to the highest stock level there can be), and takes them off the customer's holdings
/// and the order's purchase marks off their queue tickets.
async fn return_stock(tx: &Transaction<'_>, order: &Order) -> Result<(), tokio_postgres::Error> {
    let mut returned: BTreeMap<&str, i64> = BTreeMap::new();
    for line in &order.lines {
        *returned.entry(line.product_id.as_str()).or_default() += i64::from(line.quantity);
    }
    for (product_id, qty) in &returned {
        cached::execute(
            tx,
            "UPDATE customer_holdings SET quantity = GREATEST(quantity - $3, 0)
             WHERE customer_key = $1 AND product_id = $2",
            &[&order.customer.limit_key().0, product_id, qty],
        )
        .await?;
        // A waiting room counts the customer as deciding again (`WaitingRoom::mark_bought`).
        cached::execute(
            tx,
            "UPDATE queue_tickets SET bought_by = NULL WHERE product_id = $1 AND customer_key = $2 AND bought_by = $3",
            &[product_id, &order.customer.limit_key().0, &order.id],
        )
        .await?;
    }
    for (product_id, qty) in &returned {
        cached::execute(
            tx,
            // Capped, as SQLite's is, so the counters never sum past a stock level (u32).
            "UPDATE product_stock SET stock = stock + LEAST($2::BIGINT, GREATEST(4294967295 -
                 (SELECT SUM(stock) FROM product_stock WHERE product_id = $1)::BIGINT, 0))
             WHERE product_id = $1
               AND shard = (SELECT floor(random() * stock_shards)::INTEGER FROM products WHERE id = $1)",
            &[product_id, qty],
        )
        .await?;
    }
    Ok(())
}

/// Adds a product at the end of the menu, its stock split over its counters.
pub async fn create_product(store: &PostgresStore, product: Product, stock: u32) -> Result<ProductView, StoreError> {
    product.validate().map_err(OrderRejection::from)?;
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(pg_error)?;
    let now = now_millis();
    let shards_n = product.stock_shards.max(1);
    let inserted = cached::execute(
        &tx,
        "INSERT INTO products (id, definition, stock_shards, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (id) DO NOTHING",
        &[&product.id, &serde_json::to_string(&product)?, &(shards_n as i32), &now],
    )
    .await
    .map_err(pg_error)?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!("a product with id `{}` already exists", product.id)));
    }
    for (shard, level) in shards::split(stock, shards_n).into_iter().enumerate() {
        cached::execute(
            &tx,
            "INSERT INTO product_stock (product_id, shard, stock) VALUES ($1, $2, $3)",
            &[&product.id, &(shard as i32), &i64::from(level)],
        )
        .await
        .map_err(pg_error)?;
    }
    tx.commit().await.map_err(pg_error)?;
    let view = ProductView { product, stock };
    store.live.changed(&view.product.id, Some(view.clone()));
    store.tick_stock();
    Ok(view)
}

/// Writes the outbox event announcing a change, in the caller's transaction.
async fn enqueue_event(
    tx: &Transaction<'_>,
    kind: &str,
    order_id: &str,
    status: OrderStatus,
    previous: Option<OrderStatus>,
    now: Millis,
) -> Result<(), tokio_postgres::Error> {
    let (id, payload) = new_event_payload(kind, order_id, status, previous, now);
    // A change to an order whose earlier event waits for a retry waits as long (see
    // `outbox::settle`); a new order has no earlier event to look for.
    let sql = if previous.is_none() {
        "INSERT INTO outbox (id, kind, order_id, payload, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5)"
    } else {
        "INSERT INTO outbox (id, kind, order_id, payload, created_at, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, GREATEST($5, (SELECT MAX(next_attempt_at) FROM outbox
                 WHERE order_id = $3 AND id < $1 AND claim_token IS NULL AND delivered_at IS NULL AND failed_at IS NULL)))"
    };
    cached::execute(tx, sql, &[&id, &kind, &order_id, &payload.to_string(), &now]).await?;
    Ok(())
}
