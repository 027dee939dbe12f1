//! The staff order search: by status, placing time and customer, newest first.

use super::rows;
use crate::backoffice::{MAX_PAGE, customer_pattern};
use crate::{OrderFilter, OrderPage, StoreError};
use rusqlite::{Connection, params};

/// A page of orders matching `filter`. The cursor is the last order id of the previous page.
pub fn find_orders(conn: &Connection, filter: &OrderFilter) -> Result<OrderPage, StoreError> {
    let limit = filter.limit.clamp(1, MAX_PAGE);
    let customer = customer_pattern(filter);
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM orders
         WHERE (?1 IS NULL OR status = ?1)
           AND (?2 IS NULL OR created_at >= ?2)
           AND (?3 IS NULL OR created_at < ?3)
           AND (?4 IS NULL OR customer_key LIKE ?4 ESCAPE '\\'
                OR lower(coalesce(customer_name, '')) LIKE ?4 ESCAPE '\\')
           AND (?5 IS NULL OR id < ?5)
         ORDER BY id DESC LIMIT ?6",
    )?;
    let ids: Vec<String> = stmt
        .query_map(
            params![
                filter.status.map(|s| s.as_str()),
                filter.from,
                filter.to,
                customer,
                filter.cursor,
                i64::from(limit) + 1
            ],
            |r| r.get(0),
        )?
        .collect::<Result<_, _>>()?;
    let has_more = ids.len() > limit as usize;
    let mut orders = Vec::with_capacity(ids.len().min(limit as usize));
    for id in ids.iter().take(limit as usize) {
        orders.extend(rows::load_order(conn, id)?);
    }
    Ok(OrderPage::new(orders, has_more))
}
