//! The writes the writer performs inside its batch transaction, one function per command.
//! Every business refusal is decided before a command's first write, so a refused command
//! leaves no trace without needing a savepoint (see `writer::Isolation`).

use super::batch_stock::BatchStock;
use super::rows;
use crate::outbox::{ORDER_CANCELLED, ORDER_PLACED, ORDER_STATUS_CHANGED};
use crate::{IdempotencyKey, Order, Placed, ProductView, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use stampede_domain::{Millis, OrderRejection, OrderRequest, OrderStatus, Product, ProductState, evaluate};
use std::collections::{BTreeMap, HashMap};

/// An order on its way to the writer, its idempotency key already fingerprinted.
pub struct Placing {
    pub request: OrderRequest,
    pub idempotency: Option<IdempotencyKey>,
}

/// Places one order: replays a known idempotency key (`key_seen` says it may be known),
/// else evaluates and writes it.
pub fn place(
    conn: &Connection,
    definitions: &HashMap<String, Product>,
    cmd: &Placing,
    key_seen: bool,
    stock: &mut BatchStock,
    now: Millis,
) -> Result<Placed, StoreError> {
    if let Some(idem) = cmd.idempotency.as_ref().filter(|_| key_seen)
        && let Some(placed) = replay(conn, &idem.key, &idem.fingerprint)?
    {
        return Ok(placed);
    }
    let request = &cmd.request;
    let state = product_states(conn, definitions, request, stock)?;
    let priced = evaluate(request, &state, now)?;
    let order = Order::received(Order::new_id(), request, priced, now);
    let (key, fingerprint) = cmd.idempotency.as_ref().map(|i| (i.key.as_str(), i.fingerprint.as_str())).unzip();
    rows::insert_order(conn, &order, key, fingerprint)?;
    let taken = request.quantities_by_product();
    add_holdings(conn, &request.customer.limit_key().0, &taken)?;
    enqueue_event(conn, ORDER_PLACED, &order.id, OrderStatus::Received, None, now)?;
    for (product_id, qty) in taken {
        // `evaluate` checked every product had `qty` available.
        let left = state[product_id].available - qty;
        stock.set(product_id, left);
    }
    Ok(Placed { order, replayed: false })
}

/// What `evaluate` needs of each product the request names: its definition, the stock this
/// batch has left, and (for a product with a per-customer limit) what the customer holds.
fn product_states<'a>(
    conn: &Connection,
    definitions: &'a HashMap<String, Product>,
    request: &'a OrderRequest,
    stock: &mut BatchStock,
) -> Result<BTreeMap<&'a str, ProductState<'a>>, StoreError> {
    let mut state = BTreeMap::new();
    for product_id in request.quantities_by_product().into_keys() {
        let Some(product) = definitions.get(product_id) else { continue };
        let available = stock.available(conn, product_id)?;
        let already_bought = match product.sale.per_customer_max {
            Some(_) => holdings(conn, &request.customer.limit_key().0, product_id)?,
            None => 0,
        };
        state.insert(product_id, ProductState { product, available, already_bought });
    }
    Ok(state)
}

/// Adds what the order takes to what the customer (by limit key) holds of each product.
fn add_holdings(conn: &Connection, limit_key: &str, taken: &BTreeMap<&str, u32>) -> Result<(), StoreError> {
    for (product_id, qty) in taken {
        conn.prepare_cached(
            "INSERT INTO customer_holdings (customer_key, product_id, quantity) VALUES (?1, ?2, ?3)
             ON CONFLICT (customer_key, product_id) DO UPDATE SET quantity = quantity + excluded.quantity",
        )?
        .execute(params![limit_key, product_id, qty])?;
    }
    Ok(())
}

/// The order an idempotency key already placed, or a mismatch if the key came with another request.
pub fn replay(conn: &Connection, key: &str, fingerprint: &str) -> Result<Option<Placed>, StoreError> {
    let Some((order_id, stored)) = rows::order_for_key(conn, key)? else { return Ok(None) };
    if stored != fingerprint {
        return Err(StoreError::IdempotencyMismatch(key.to_owned()));
    }
    let order =
        rows::load_order(conn, &order_id)?.ok_or_else(|| StoreError::Backend(format!("order {order_id} vanished")))?;
    Ok(Some(Placed { order, replayed: true }))
}

/// Cancels a `received` order at the customer's request.
pub fn cancel(conn: &Connection, id: &str, stock: &mut BatchStock, now: Millis) -> Result<Order, StoreError> {
    let order = rows::load_order(conn, id)?.ok_or_else(|| not_found(id))?;
    if !order.status.customer_can_cancel() {
        return Err(StoreError::NotCancellable { id: id.to_owned(), status: order.status });
    }
    cancel_loaded(conn, order, stock, now)
}

/// Moves an order along the workflow for staff. Cancelling goes the same way as a
/// customer's cancel, so stock and holdings come back exactly once either way.
pub fn set_status(
    conn: &Connection,
    id: &str,
    next: OrderStatus,
    stock: &mut BatchStock,
    now: Millis,
) -> Result<Order, StoreError> {
    let mut order = rows::load_order(conn, id)?.ok_or_else(|| not_found(id))?;
    if !order.status.can_become(next) {
        return Err(StoreError::InvalidTransition { id: id.to_owned(), from: order.status, to: next });
    }
    if next == OrderStatus::Cancelled {
        return cancel_loaded(conn, order, stock, now);
    }
    conn.prepare_cached("UPDATE orders SET status = ?2, updated_at = ?3 WHERE id = ?1")?.execute(params![
        id,
        next.as_str(),
        now
    ])?;
    enqueue_event(conn, ORDER_STATUS_CHANGED, id, next, Some(order.status), now)?;
    order.status = next;
    order.updated_at = now;
    Ok(order)
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound { what: "order", id: id.to_owned() }
}

/// Cancels a loaded order whose status allows it and returns its stock and the customer's
/// holdings, and takes its purchase marks off the customer's queue tickets.
fn cancel_loaded(
    conn: &Connection,
    mut order: Order,
    stock: &mut BatchStock,
    now: Millis,
) -> Result<Order, StoreError> {
    let id = order.id.clone();
    conn.prepare_cached("UPDATE orders SET status = 'cancelled', updated_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    let mut returned: BTreeMap<&str, u32> = BTreeMap::new();
    for line in &order.lines {
        *returned.entry(line.product_id.as_str()).or_default() += line.quantity;
    }
    let mut levels = Vec::new();
    for (product_id, qty) in returned {
        let level = stock.available(conn, product_id)?.saturating_add(qty);
        levels.push((product_id, level));
        conn.prepare_cached(
            "UPDATE customer_holdings SET quantity = quantity - ?3 WHERE customer_key = ?1 AND product_id = ?2",
        )?
        .execute(params![order.customer.limit_key().0, product_id, qty])?;
        // A waiting room counts the customer as deciding again (`WaitingRoom::mark_bought`).
        conn.prepare_cached(
            "UPDATE queue_tickets SET bought_by = NULL WHERE product_id = ?1 AND customer_key = ?2 AND bought_by = ?3",
        )?
        .execute(params![product_id, order.customer.limit_key().0, id])?;
    }
    enqueue_event(conn, ORDER_CANCELLED, &id, OrderStatus::Cancelled, Some(order.status), now)?;
    for (product_id, level) in levels {
        stock.set(product_id, level);
    }
    order.status = OrderStatus::Cancelled;
    order.updated_at = now;
    Ok(order)
}

/// Adds a product at the end of the menu.
pub fn create_product(
    conn: &Connection,
    product: &Product,
    stock: u32,
    now: Millis,
) -> Result<ProductView, StoreError> {
    product.validate().map_err(OrderRejection::from)?;
    let exists: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM products WHERE id = ?1)", [&product.id], |r| r.get(0))?;
    if exists {
        return Err(StoreError::Conflict(format!("a product with id `{}` already exists", product.id)));
    }
    conn.execute(
        "INSERT INTO products (id, position, definition, stock, created_at, updated_at, stock_shards)
         VALUES (?1, (SELECT COALESCE(MAX(position), 0) + 1 FROM products), ?2, ?3, ?4, ?4, ?5)",
        params![product.id, serde_json::to_string(product)?, stock, now, product.stock_shards],
    )?;
    Ok(ProductView { product: product.clone(), stock })
}

fn holdings(conn: &Connection, customer_key: &str, product_id: &str) -> Result<u32, StoreError> {
    let held: Option<u32> = conn
        .prepare_cached("SELECT quantity FROM customer_holdings WHERE customer_key = ?1 AND product_id = ?2")?
        .query_row([customer_key, product_id], |r| r.get(0))
        .optional()?;
    Ok(held.unwrap_or(0))
}

/// Writes the outbox event announcing a change, in the caller's transaction: the event
/// exists if and only if the change committed.
fn enqueue_event(
    conn: &Connection,
    kind: &str,
    order_id: &str,
    status: OrderStatus,
    previous: Option<OrderStatus>,
    now: Millis,
) -> Result<(), StoreError> {
    let (id, payload) = crate::outbox::new_event_payload(kind, order_id, status, previous, now);
    // A change to an order whose earlier event waits for a retry waits as long (see
    // `outbox_rows::hold_back_later`); a new order has no earlier event to look for.
    let sql = if previous.is_none() {
        "INSERT INTO outbox (id, kind, order_id, payload, created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)"
    } else {
        "INSERT INTO outbox (id, kind, order_id, payload, created_at, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, MAX(?5, IFNULL((SELECT MAX(next_attempt_at) FROM outbox
                  WHERE order_id = ?3 AND id < ?1 AND claim_token IS NULL AND delivered_at IS NULL AND failed_at IS NULL),
                ?5)))"
    };
    conn.prepare_cached(sql)?.execute(params![id, kind, order_id, payload.to_string(), now])?;
    Ok(())
}
