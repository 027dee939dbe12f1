//! A store whose stock read lets a sale happen right after it, as another request's may:
//! the advance's count of buyers must not count that sale's mark (its unit is in the stock
//! it read), which the marks read before the stock exclude.

use async_trait::async_trait;
use stampede_domain::{CustomerKey, RoomState};
use stampede_store::{LineEntry, PlaceOrder, Store, StoreError, WaitingRoom};
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};

/// Delegates to `inner`; the first stock read after `sale_after_stock_read` is set places
/// that order and marks its ticket.
pub struct Interleaved {
    pub inner: Arc<dyn Store>,
    pub sale_after_stock_read: Mutex<Option<(PlaceOrder, String, u64)>>,
}

#[async_trait]
impl WaitingRoom for Interleaved {
    async fn join_line(&self, entry: LineEntry) -> Result<LineEntry, StoreError> {
        self.inner.join_line(entry).await
    }
    async fn line(&self, product_id: &str) -> Result<Vec<LineEntry>, StoreError> {
        self.inner.line(product_id).await
    }
    async fn line_ranks(&self, product_id: &str, from: u64) -> Result<Vec<u64>, StoreError> {
        self.inner.line_ranks(product_id, from).await
    }
    fn lines_shared(&self) -> bool {
        self.inner.lines_shared()
    }
    async fn room(&self, product_id: &str) -> Result<RoomState, StoreError> {
        self.inner.room(product_id).await
    }
    async fn next_in_line(&self, product_id: &str, after: u64, limit: u64) -> Result<Vec<u64>, StoreError> {
        self.inner.next_in_line(product_id, after, limit).await
    }
    async fn save_room(&self, product_id: &str, next: &RoomState) -> Result<bool, StoreError> {
        self.inner.save_room(product_id, next).await
    }
    async fn mark_bought(
        &self,
        product_id: &str,
        customer: &CustomerKey,
        rank: u64,
        order_id: &str,
    ) -> Result<(), StoreError> {
        self.inner.mark_bought(product_id, customer, rank, order_id).await
    }
    async fn purchase_marks(
        &self,
        product_id: &str,
        ranks: RangeInclusive<u64>,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        self.inner.purchase_marks(product_id, ranks).await
    }
    async fn marks_still_held(
        &self,
        product_id: &str,
        ranks: RangeInclusive<u64>,
        marks: Vec<(u64, String)>,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        self.inner.marks_still_held(product_id, ranks, marks).await
    }
    async fn stock_now(&self, product_id: &str) -> Result<Option<u32>, StoreError> {
        let stock = self.inner.stock_now(product_id).await?;
        let sale = self.sale_after_stock_read.lock().unwrap().take();
        if let Some((order, customer, rank)) = sale {
            let placed = self.inner.place_order(order).await?;
            self.inner.mark_bought(product_id, &CustomerKey(customer), rank, &placed.order.id).await?;
        }
        Ok(stock)
    }
}
