//! Staff edits to the catalog, run by the writer inside its batch transaction like orders,
//! so stock changes and definitions stay in step with the live catalog.

use super::batch_stock::BatchStock;
use crate::backoffice::{adjusted_level, unknown_product};
use crate::{ProductView, StoreError};
use rusqlite::{Connection, params};
use stampede_domain::{Millis, OrderRejection, Product};
use std::collections::HashMap;

/// Replaces a product's definition; its stock stays as it is.
pub fn update_product(
    conn: &Connection,
    product: &Product,
    stock: &mut BatchStock,
    now: Millis,
) -> Result<ProductView, StoreError> {
    product.validate().map_err(OrderRejection::from)?;
    let updated = conn
        .prepare_cached("UPDATE products SET definition = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![product.id, serde_json::to_string(product)?, now])?;
    if updated == 0 {
        return Err(unknown_product(&product.id));
    }
    Ok(ProductView { product: product.clone(), stock: stock.available(conn, &product.id)? })
}

/// Adds `delta` to a product's stock, refusing to go below zero or past `u32::MAX`.
pub fn adjust_stock(
    conn: &Connection,
    definitions: &HashMap<String, Product>,
    id: &str,
    delta: i64,
    stock: &mut BatchStock,
) -> Result<ProductView, StoreError> {
    let product = definitions.get(id).ok_or_else(|| unknown_product(id))?;
    let current = stock.available(conn, id)?;
    let level = adjusted_level(id, current, delta)?;
    stock.set(id, level);
    Ok(ProductView { product: product.clone(), stock: level })
}
