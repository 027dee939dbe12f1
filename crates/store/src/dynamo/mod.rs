//! The DynamoDB adapter (feature `aws`): one table, single-table design (see `keys.rs` and
//! docs/aws.md), every order one `TransactWriteItems`, hot products' stock
//! split over several counters. Stateless apart from per-instance caches (product
//! definitions, a short-lived catalog snapshot, what was lately learnt about stock counters),
//! so any number of Lambda instances can share one table.

mod accounts;
mod analytics;
mod backoffice;
mod catalog;
mod error;
mod history;
mod item;
mod keys;
mod line;
mod miss_budget;
mod op_counts;
mod orders;
mod outbox;
mod place;
mod stock_memory;
mod store;
mod table;
pub mod transfer;
mod writes;

use crate::waiting_room::{LineEntry, WaitingRoom};
use crate::{
    Claim, MailMessage, Mailbox, NewMail, Order, OrderPage, Outbox, OutboxCounts, OutboxEvent, OutboxState,
    PageRequest, PlaceOrder, Placed, ProductSales, ProductView, Settlement, Store, StoreError,
};
use async_trait::async_trait;
pub use op_counts::OpCounts;
use stampede_domain::{CustomerKey, Millis, OrderStatus, Product, RoomState};
use std::ops::RangeInclusive;
pub use store::{DynamoConfig, DynamoStore};
pub use table::create_table;

#[async_trait]
impl Store for DynamoStore {
    async fn products(&self) -> Result<Vec<ProductView>, StoreError> {
        catalog::products(self).await
    }

    async fn product(&self, id: &str) -> Result<Option<ProductView>, StoreError> {
        catalog::product(self, id).await
    }

    async fn create_product(&self, product: Product, stock: u32) -> Result<ProductView, StoreError> {
        catalog::create_product(self, product, stock).await
    }

    async fn place_order(&self, order: PlaceOrder) -> Result<Placed, StoreError> {
        place::place_order(self, order).await
    }

    async fn cancel_order(&self, id: &str) -> Result<Order, StoreError> {
        orders::change_status(self, id, OrderStatus::Cancelled, true).await
    }

    async fn set_status(&self, id: &str, next: OrderStatus) -> Result<Order, StoreError> {
        orders::change_status(self, id, next, false).await
    }

    async fn order(&self, id: &str) -> Result<Option<Order>, StoreError> {
        self.get(keys::order(id)).await?.as_ref().map(item::order_from).transpose()
    }

    async fn customer_orders(&self, customer: &CustomerKey, page: PageRequest<'_>) -> Result<OrderPage, StoreError> {
        orders::customer_orders(self, customer, page.cursor, page.limit).await
    }

    async fn holdings(
        &self,
        customer: &CustomerKey,
        products: &[&Product],
    ) -> Result<std::collections::BTreeMap<String, u32>, StoreError> {
        let (_, held) = place::first_read(self, None, &customer.0, products).await?;
        Ok(held.into_iter().filter(|(_, qty)| *qty > 0).collect())
    }

    async fn product_sales(&self, id: &str) -> Result<ProductSales, StoreError> {
        orders::product_sales(self, id).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.get(keys::product("-ping-")).await.map(drop)
    }

    fn stock_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn splits_stock(&self) -> bool {
        true
    }

    fn service_calls(&self) -> Vec<(&'static str, f64)> {
        let c = self.op_counts();
        vec![
            ("reads", c.reads as f64),
            ("writes", c.writes as f64),
            ("transactions", c.transactions as f64),
            ("retries", c.retries as f64),
            ("conflicts", c.conflicts as f64),
            ("short_draws", c.short_draws as f64),
            ("read_units", c.read_units),
            ("write_units", c.write_units),
        ]
    }
}

#[async_trait]
impl Outbox for DynamoStore {
    async fn claim_events(&self, claim: Claim) -> Result<Vec<OutboxEvent>, StoreError> {
        outbox::claim(self, claim).await
    }

    async fn settle_event(&self, id: &str, claim_token: &str, outcome: Settlement) -> Result<bool, StoreError> {
        outbox::settle(self, id, claim_token, outcome).await
    }

    async fn next_due(&self) -> Result<Option<Millis>, StoreError> {
        outbox::next_due(self).await
    }

    async fn outbox_events(&self, state: OutboxState, limit: u32) -> Result<Vec<OutboxEvent>, StoreError> {
        outbox::events(self, state, limit).await
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        outbox::counts(self).await
    }

    async fn retry_event(&self, id: &str) -> Result<bool, StoreError> {
        outbox::retry(self, id).await
    }

    async fn retry_failed(&self, parked_before: Millis, limit: u32) -> Result<u32, StoreError> {
        outbox::retry_failed(self, parked_before, limit).await
    }

    fn outbox_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.outbox_changes.subscribe()
    }
}

#[async_trait]
impl WaitingRoom for DynamoStore {
    async fn join_line(&self, entry: LineEntry) -> Result<LineEntry, StoreError> {
        line::join(self, entry).await
    }

    async fn room(&self, product_id: &str) -> Result<RoomState, StoreError> {
        line::room(self, product_id).await
    }

    async fn join_lines(&self, entries: Vec<LineEntry>) -> Result<Vec<LineEntry>, StoreError> {
        line::join_many(self, entries).await
    }

    async fn line(&self, product_id: &str) -> Result<Vec<LineEntry>, StoreError> {
        line::line(self, product_id).await
    }

    async fn line_ranks(&self, product_id: &str, from: u64) -> Result<Vec<u64>, StoreError> {
        line::ranks(self, product_id, from).await
    }

    async fn next_in_line(&self, product_id: &str, after: u64, limit: u64) -> Result<Vec<u64>, StoreError> {
        line::next(self, product_id, after, limit).await
    }

    async fn save_room(&self, product_id: &str, next: &RoomState) -> Result<bool, StoreError> {
        line::save_room(self, product_id, next).await
    }

    async fn mark_bought(
        &self,
        product_id: &str,
        customer: &CustomerKey,
        rank: u64,
        order_id: &str,
    ) -> Result<(), StoreError> {
        line::mark_bought(self, product_id, &customer.0, rank, order_id).await
    }

    async fn purchase_marks(
        &self,
        product_id: &str,
        ranks: RangeInclusive<u64>,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        line::purchase_marks(self, product_id, ranks).await
    }

    async fn stock_now(&self, product_id: &str) -> Result<Option<u32>, StoreError> {
        line::stock_now(self, product_id).await
    }

    async fn marks_still_held(
        &self,
        product_id: &str,
        ranks: RangeInclusive<u64>,
        marks: Vec<(u64, String)>,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        line::marks_still_held(self, product_id, ranks, marks).await
    }
}

#[async_trait]
impl Mailbox for DynamoStore {
    async fn store_mail(&self, mail: NewMail) -> Result<(), StoreError> {
        outbox::store_mail(self, mail).await
    }

    async fn mailbox(&self, limit: u32) -> Result<Vec<MailMessage>, StoreError> {
        outbox::mailbox(self, limit, None).await
    }

    async fn mail(&self, id: &str) -> Result<Option<MailMessage>, StoreError> {
        Ok(outbox::mailbox(self, 1, Some(id)).await?.pop())
    }
}
