//! Reading orders and products back from their rows. Works on any connection, inside or
//! outside a transaction, so the writer and the readers share one mapping.

use crate::{Order, OrderPage, ProductSales, ProductView, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use stampede_domain::{Currency, Customer, CustomerKey, Money, OrderLine, OrderStatus, Phone, Product};

/// Writes an order's row and its lines: a new order's, or an imported one's. `key` is the
/// idempotency key that placed it, `fingerprint` its request's.
pub fn insert_order(
    conn: &Connection,
    order: &Order,
    key: Option<&str>,
    fingerprint: Option<&str>,
) -> Result<(), StoreError> {
    let c = &order.customer;
    conn.prepare_cached(
        "INSERT INTO orders (id, customer_key, customer_email, customer_name, status, total_amount, currency,
                             created_at, updated_at, idempotency_key, request_fingerprint, fulfilment, phone, slot_at,
                             limit_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        order.id,
        c.key.0,
        c.email,
        c.name,
        order.status.as_str(),
        order.total.amount,
        order.total.currency.as_str(),
        order.created_at,
        order.updated_at,
        key,
        fingerprint,
        order.fulfilment.as_ref().map(serde_json::to_string).transpose()?,
        order.phone.as_ref().map(Phone::as_str),
        order.slot,
        c.limit_key.as_ref().map(|k| k.0.as_str())
    ])?;
    insert_lines(conn, &order.id, &order.lines)
}

/// Writes an order's lines, numbered from 0 in their order.
fn insert_lines(conn: &Connection, order_id: &str, lines: &[OrderLine]) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO order_lines (order_id, line_no, product_id, product_name, quantity, options, unit_amount, line_amount, currency)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for (n, line) in lines.iter().enumerate() {
        insert.execute(params![
            order_id,
            n,
            line.product_id,
            line.product_name,
            line.quantity,
            serde_json::to_string(&line.options)?,
            line.unit_price.amount,
            line.line_total.amount,
            line.unit_price.currency.as_str()
        ])?;
    }
    Ok(())
}

fn currency(code: &str) -> Result<Currency, StoreError> {
    Currency::parse(code).ok_or_else(|| StoreError::Backend(format!("stored currency `{code}` is invalid")))
}

/// Every product in menu order.
pub fn load_products(conn: &Connection) -> Result<Vec<ProductView>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT definition, stock, stock_shards FROM products ORDER BY position")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?, r.get::<_, u32>(2)?)))?;
    rows.map(|row| {
        let (definition, stock, stock_shards) = row?;
        // The column is the record: definitions written before it existed have no shard count.
        let product = Product { stock_shards, ..serde_json::from_str::<Product>(&definition)? };
        Ok(ProductView { product, stock })
    })
    .collect()
}

/// One order with its lines.
pub fn load_order(conn: &Connection, id: &str) -> Result<Option<Order>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT customer_key, customer_email, customer_name, status, total_amount, currency, created_at, updated_at,
                fulfilment, phone, slot_at, limit_key
         FROM orders WHERE id = ?1",
    )?;
    let head = stmt
        .query_row([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, Option<i64>>(10)?,
                r.get::<_, Option<String>>(11)?,
            ))
        })
        .optional()?;
    let Some((key, email, name, status, total, cur, created_at, updated_at, fulfilment, phone, slot, limit_key)) = head
    else {
        return Ok(None);
    };
    let status = OrderStatus::parse(&status)
        .ok_or_else(|| StoreError::Backend(format!("stored status `{status}` is invalid")))?;
    Ok(Some(Order {
        id: id.to_owned(),
        customer: Customer { key: CustomerKey(key), email, name, limit_key: limit_key.map(CustomerKey) },
        lines: load_lines(conn, id)?,
        total: Money::new(total, currency(&cur)?),
        status,
        fulfilment: fulfilment.as_deref().map(serde_json::from_str).transpose()?,
        phone: phone.map(Phone::stored),
        slot,
        created_at,
        updated_at,
    }))
}

fn load_lines(conn: &Connection, order_id: &str) -> Result<Vec<OrderLine>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT product_id, product_name, quantity, options, unit_amount, line_amount, currency
         FROM order_lines WHERE order_id = ?1 ORDER BY line_no",
    )?;
    let rows = stmt.query_map([order_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, u32>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, String>(6)?,
        ))
    })?;
    rows.map(|row| {
        let (product_id, product_name, quantity, options, unit, line, cur) = row?;
        let cur = currency(&cur)?;
        Ok(OrderLine {
            product_id,
            product_name,
            quantity,
            options: serde_json::from_str(&options)?,
            unit_price: Money::new(unit, cur),
            line_total: Money::new(line, cur),
        })
    })
    .collect()
}

/// Every idempotency key that placed an order.
pub fn idempotency_keys(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare("SELECT idempotency_key FROM orders WHERE idempotency_key IS NOT NULL")?;
    let keys = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(keys)
}

/// The order placed with an idempotency key, with the fingerprint of the request that placed it.
pub fn order_for_key(conn: &Connection, key: &str) -> Result<Option<(String, String)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, request_fingerprint FROM orders WHERE idempotency_key = ?1")?;
    Ok(stmt.query_row([key], |r| Ok((r.get(0)?, r.get::<_, Option<String>>(1)?.unwrap_or_default()))).optional()?)
}

/// A page of a customer's orders, newest first. The cursor is the last order id of the previous page.
pub fn customer_orders(
    conn: &Connection,
    customer: &CustomerKey,
    cursor: Option<&str>,
    limit: u32,
) -> Result<OrderPage, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM orders WHERE customer_key = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
    )?;
    // One extra row tells whether another page follows.
    let ids: Vec<String> =
        stmt.query_map(params![customer.0, cursor, i64::from(limit) + 1], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let has_more = ids.len() > limit as usize;
    let mut orders = Vec::with_capacity(ids.len().min(limit as usize));
    for id in ids.iter().take(limit as usize) {
        orders.extend(load_order(conn, id)?);
    }
    Ok(OrderPage::new(orders, has_more))
}

/// Units `customer` holds of each of `products`, leaving out none held.
pub fn holdings(
    conn: &Connection,
    customer: &str,
    products: &[String],
) -> Result<std::collections::BTreeMap<String, u32>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT quantity FROM customer_holdings WHERE customer_key = ?1 AND product_id = ?2 AND quantity > 0",
    )?;
    let mut held = std::collections::BTreeMap::new();
    for product in products {
        if let Some(qty) = stmt.query_row(params![customer, product], |r| r.get::<_, u32>(0)).optional()? {
            held.insert(product.clone(), qty);
        }
    }
    Ok(held)
}

/// Sales of a product counted from orders and holdings.
pub fn product_sales(conn: &Connection, id: &str) -> Result<ProductSales, StoreError> {
    let stock: Option<u32> =
        conn.query_row("SELECT stock FROM products WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    let stock = stock.ok_or_else(|| StoreError::NotFound { what: "product", id: id.to_owned() })?;
    let (orders, units_sold): (u64, u64) = conn.query_row(
        "SELECT COUNT(DISTINCT o.id), COALESCE(SUM(l.quantity), 0)
         FROM order_lines l JOIN orders o ON o.id = l.order_id
         WHERE l.product_id = ?1 AND o.status <> 'cancelled'",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let max_units_per_customer: u64 =
        conn.query_row("SELECT COALESCE(MAX(quantity), 0) FROM customer_holdings WHERE product_id = ?1", [id], |r| {
            r.get(0)
        })?;
    Ok(ProductSales { stock, units_sold, orders, max_units_per_customer: Some(max_units_per_customer) })
}
