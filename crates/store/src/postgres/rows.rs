//! Reading products and orders back from their rows, on a pooled connection or inside a
//! transaction alike.

use super::cached;
use super::error::pg_error;
use crate::analytics::currency;
use crate::{Order, OrderPage, ProductSales, ProductView, StoreError};
use deadpool_postgres::GenericClient;
use stampede_domain::{Customer, CustomerKey, Money, OrderLine, OrderStatus, Phone, Product};
use tokio_postgres::Row;

/// A stored count as the domain's `u32`; a negative or huge value means a broken row.
pub fn count(n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Backend(format!("stored count {n} is out of range")))
}

/// `definition, stock_shards, stock` as a view; the column is the record for the shard count.
fn view(row: &Row) -> Result<ProductView, StoreError> {
    let product: Product = serde_json::from_str(row.get(0))?;
    let product = Product { stock_shards: count(i64::from(row.get::<_, i32>(1)))?, ..product };
    Ok(ProductView { product, stock: count(row.get(2))? })
}

const VIEW: &str = "SELECT p.definition, p.stock_shards, COALESCE(SUM(s.stock), 0)::BIGINT
                    FROM products p LEFT JOIN product_stock s ON s.product_id = p.id";

/// Every product in menu order with its stock summed over its counters.
pub async fn products(c: &impl GenericClient) -> Result<Vec<ProductView>, StoreError> {
    let rows = cached::query(c, &format!("{VIEW} GROUP BY p.id ORDER BY p.position"), &[]).await.map_err(pg_error)?;
    rows.iter().map(view).collect()
}

/// One product with its stock.
pub async fn product(c: &impl GenericClient, id: &str) -> Result<Option<ProductView>, StoreError> {
    let row = cached::query_opt(c, &format!("{VIEW} WHERE p.id = $1 GROUP BY p.id"), &[&id]).await.map_err(pg_error)?;
    row.as_ref().map(view).transpose()
}

/// One order with its lines.
pub async fn load_order(c: &impl GenericClient, id: &str) -> Result<Option<Order>, StoreError> {
    let head = cached::query_opt(
        c,
        "SELECT customer_key, customer_email, customer_name, status, total_amount, currency, created_at,
                    updated_at, fulfilment, phone, slot_at, limit_key
             FROM orders WHERE id = $1",
        &[&id],
    )
    .await
    .map_err(pg_error)?;
    let Some(r) = head else { return Ok(None) };
    let status: &str = r.get(3);
    let status = OrderStatus::parse(status)
        .ok_or_else(|| StoreError::Backend(format!("stored status `{status}` is invalid")))?;
    let fulfilment: Option<&str> = r.get(8);
    Ok(Some(Order {
        id: id.to_owned(),
        customer: Customer {
            key: CustomerKey(r.get(0)),
            email: r.get(1),
            name: r.get(2),
            limit_key: r.get::<_, Option<String>>(11).map(CustomerKey),
        },
        lines: load_lines(c, id).await?,
        total: Money::new(r.get(4), currency(r.get(5))?),
        status,
        fulfilment: fulfilment.map(serde_json::from_str).transpose()?,
        phone: r.get::<_, Option<String>>(9).map(Phone::stored),
        slot: r.get(10),
        created_at: r.get(6),
        updated_at: r.get(7),
    }))
}

async fn load_lines(c: &impl GenericClient, order_id: &str) -> Result<Vec<OrderLine>, StoreError> {
    let rows = cached::query(
        c,
        "SELECT product_id, product_name, quantity, options, unit_amount, line_amount, currency
             FROM order_lines WHERE order_id = $1 ORDER BY line_no",
        &[&order_id],
    )
    .await
    .map_err(pg_error)?;
    rows.iter()
        .map(|r| {
            let cur = currency(r.get(6))?;
            Ok(OrderLine {
                product_id: r.get(0),
                product_name: r.get(1),
                quantity: count(r.get(2))?,
                options: serde_json::from_str(r.get(3))?,
                unit_price: Money::new(r.get(4), cur),
                line_total: Money::new(r.get(5), cur),
            })
        })
        .collect()
}

/// The order placed with an idempotency key, with the fingerprint of the request that placed it.
pub async fn order_for_key(c: &impl GenericClient, key: &str) -> Result<Option<(String, String)>, StoreError> {
    let row = cached::query_opt(c, "SELECT id, request_fingerprint FROM orders WHERE idempotency_key = $1", &[&key])
        .await
        .map_err(pg_error)?;
    Ok(row.map(|r| (r.get(0), r.get::<_, Option<String>>(1).unwrap_or_default())))
}

/// A page of a customer's orders, newest first. The cursor is the last order id of the previous page.
pub async fn customer_orders(
    c: &impl GenericClient,
    customer: &CustomerKey,
    cursor: Option<&str>,
    limit: u32,
) -> Result<OrderPage, StoreError> {
    // One extra row tells whether another page follows.
    let rows = cached::query(
        c,
        "SELECT id FROM orders WHERE customer_key = $1 AND ($2::TEXT IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3",
        &[&customer.0, &cursor, &(i64::from(limit) + 1)],
    )
    .await
    .map_err(pg_error)?;
    order_page(c, &rows, limit).await
}

/// The orders of `ids` (rows of one id each, one more than `limit` when another page
/// follows), as a page whose cursor is its last order id.
pub async fn order_page(c: &impl GenericClient, ids: &[Row], limit: u32) -> Result<OrderPage, StoreError> {
    let has_more = ids.len() > limit as usize;
    let mut orders = Vec::with_capacity(ids.len().min(limit as usize));
    for r in ids.iter().take(limit as usize) {
        orders.extend(load_order(c, r.get(0)).await?);
    }
    Ok(OrderPage::new(orders, has_more))
}

/// Sales of a product counted from orders and holdings. Holdings are kept only for products
/// with a per-customer limit (as on DynamoDB), so the others answer `None` for them.
/// Units `customer` holds of each of `products` (those with a holding above 0).
pub async fn holdings(
    c: &impl GenericClient,
    customer: &str,
    products: &[&str],
) -> Result<std::collections::BTreeMap<String, u32>, StoreError> {
    let rows = cached::query(
        c,
        "SELECT product_id, quantity FROM customer_holdings
             WHERE customer_key = $1 AND product_id = ANY($2) AND quantity > 0",
        &[&customer, &products],
    )
    .await
    .map_err(pg_error)?;
    rows.iter().map(|r| Ok((r.get(0), count(r.get(1))?))).collect()
}

pub async fn product_sales(c: &impl GenericClient, id: &str) -> Result<ProductSales, StoreError> {
    let view = product(c, id).await?.ok_or_else(|| StoreError::NotFound { what: "product", id: id.to_owned() })?;
    let r = cached::query_one(
        c,
        "SELECT COUNT(DISTINCT o.id), COALESCE(SUM(l.quantity), 0)::BIGINT,
                    (SELECT COALESCE(MAX(quantity), 0) FROM customer_holdings WHERE product_id = $1)
             FROM order_lines l JOIN orders o ON o.id = l.order_id
             WHERE l.product_id = $1 AND o.status <> 'cancelled'",
        &[&id],
    )
    .await
    .map_err(pg_error)?;
    let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(ProductSales {
        stock: view.stock,
        orders: unsigned(r.get(0)),
        units_sold: unsigned(r.get(1)),
        max_units_per_customer: view.product.sale.per_customer_max.map(|_| unsigned(r.get(2))),
    })
}
