//! Stock of the products a batch touches: read once, decremented in memory as orders are
//! accepted, and written back with one UPDATE per product when the batch commits. The hot
//! product of a flash sale is thus written once per batch instead of once per order.

use crate::StoreError;
use rusqlite::{Connection, params};
use stampede_domain::Millis;
use std::collections::HashMap;

/// Stock levels within one batch transaction. Only the writer holds one.
#[derive(Default)]
pub struct BatchStock {
    levels: HashMap<String, u32>,
    changed: Vec<String>,
}

impl BatchStock {
    /// Stock of `product_id` as this batch sees it.
    pub fn available(&mut self, conn: &Connection, product_id: &str) -> Result<u32, StoreError> {
        if let Some(level) = self.levels.get(product_id) {
            return Ok(*level);
        }
        let level: u32 =
            conn.prepare_cached("SELECT stock FROM products WHERE id = ?1")?.query_row([product_id], |r| r.get(0))?;
        self.levels.insert(product_id.to_owned(), level);
        Ok(level)
    }

    /// Records a new level. Callers set it only after the rest of their writes succeeded, so a
    /// command that fails half-way leaves the batch's view of stock untouched.
    pub fn set(&mut self, product_id: &str, level: u32) {
        if !self.changed.iter().any(|p| p == product_id) {
            self.changed.push(product_id.to_owned());
        }
        self.levels.insert(product_id.to_owned(), level);
    }

    /// Writes every changed level in the batch's transaction; returns them for the live catalog.
    pub fn flush(&self, conn: &Connection, now: Millis) -> Result<Vec<(String, u32)>, StoreError> {
        let mut update = conn.prepare_cached("UPDATE products SET stock = ?2, updated_at = ?3 WHERE id = ?1")?;
        let mut written = Vec::with_capacity(self.changed.len());
        for id in &self.changed {
            let level = self.levels[id];
            update.execute(params![id, level, now])?;
            written.push((id.clone(), level));
        }
        Ok(written)
    }
}
