//! [`Backoffice`] for the SQLite store: product edits and stock adjustments go through the
//! order writer (they change what the fast path sees); searches use the read pool.

use super::SqliteStore;
use super::order_search;
use super::writer::Command;
use crate::{Backoffice, OrderFilter, OrderPage, ProductView, StoreError};
use async_trait::async_trait;
use stampede_domain::Product;

#[async_trait]
impl Backoffice for SqliteStore {
    async fn update_product(&self, product: Product) -> Result<ProductView, StoreError> {
        self.submit_waiting(|reply| Command::UpdateProduct { product, reply }).await
    }

    async fn adjust_stock(&self, id: &str, delta: i64) -> Result<ProductView, StoreError> {
        let id = id.to_owned();
        self.submit_waiting(|reply| Command::AdjustStock { id, delta, reply }).await
    }

    async fn find_orders(&self, filter: OrderFilter) -> Result<OrderPage, StoreError> {
        self.reads.run(move |c| order_search::find_orders(c, &filter)).await
    }
}
