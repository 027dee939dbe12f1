//! The PostgreSQL adapter (feature `postgres`): several `stampede serve` instances on one
//! database (RDS, Aurora, Cloud SQL or a server of your own). Every operation is one
//! transaction on a pooled connection; nothing an acceptance depends on lives in this process
//! (only the sold-out refusal, below), so instances need no coordination of their own. See
//! docs/postgres.md.
//!
//! - Placing: stock is split over counter rows (`stockShards`, as on DynamoDB) and drawn
//!   with a conditional decrement in the order's transaction (see `place.rs`).
//! - Relay: claims with `FOR UPDATE SKIP LOCKED` and leases (see `outbox.rs`).
//! - Other instances' changes: [`PostgresStore::follow_other_instances`] polls the stock
//!   levels (one aggregate query a second), like DynamoDB's snapshot poll; LISTEN/NOTIFY
//!   would need a connection held outside the pool and is left for later.
//! - Sold out: refused from what this instance lately read of the stock, without a
//!   transaction (`live_stock.rs`), as SQLite refuses from its live catalog.
//! - Pool: deadpool over tokio-postgres, each statement prepared once per connection
//!   (`cached.rs`); TLS with rustls as the URL's `sslmode` asks (`tls.rs`).
//! - Accounts, the back office and analytics live in the same database (`accounts.rs`,
//!   `backoffice.rs`, `analytics.rs`), so sessions and staff edits hold on every instance.

mod accounts;
mod analytics;
mod backoffice;
mod cached;
mod error;
mod line;
mod live_stock;
mod outbox;
mod place;
mod rows;
mod schema;
mod store;
mod tls;
pub mod transfer;

use crate::clock::now_millis;
use crate::{
    Claim, MailMessage, Mailbox, NewMail, Order, OrderPage, Outbox, OutboxCounts, OutboxEvent, OutboxState,
    PageRequest, PlaceOrder, Placed, ProductSales, ProductView, Settle, Settlement, Store, StoreError,
};
use async_trait::async_trait;
use error::pg_error;
use place::Change;
pub use schema::latest_version;
use stampede_domain::{CustomerKey, Millis, OrderStatus, Product};
pub use store::{PostgresConfig, PostgresStore, migrate};

#[async_trait]
impl Store for PostgresStore {
    async fn products(&self) -> Result<Vec<ProductView>, StoreError> {
        let since = self.live.since();
        let views = rows::products(&self.client().await?).await?;
        self.live.observed(views.iter().cloned(), since, true);
        Ok(views)
    }

    async fn product(&self, id: &str) -> Result<Option<ProductView>, StoreError> {
        let since = self.live.since();
        let view = rows::product(&self.client().await?, id).await?;
        self.live.observed(view.iter().cloned(), since, false);
        Ok(view)
    }

    async fn create_product(&self, product: Product, stock: u32) -> Result<ProductView, StoreError> {
        place::create_product(self, product, stock).await
    }

    async fn place_order(&self, order: PlaceOrder) -> Result<Placed, StoreError> {
        place::place_order(self, order).await
    }

    async fn cancel_order(&self, id: &str) -> Result<Order, StoreError> {
        place::change_status(self, id, Change::CustomerCancel).await
    }

    async fn set_status(&self, id: &str, next: OrderStatus) -> Result<Order, StoreError> {
        place::change_status(self, id, Change::Staff(next)).await
    }

    async fn order(&self, id: &str) -> Result<Option<Order>, StoreError> {
        rows::load_order(&self.client().await?, id).await
    }

    async fn customer_orders(&self, customer: &CustomerKey, page: PageRequest<'_>) -> Result<OrderPage, StoreError> {
        rows::customer_orders(&self.client().await?, customer, page.cursor, page.limit).await
    }

    async fn holdings(
        &self,
        customer: &CustomerKey,
        products: &[&Product],
    ) -> Result<std::collections::BTreeMap<String, u32>, StoreError> {
        let limited: Vec<&str> =
            products.iter().filter(|p| p.sale.per_customer_max.is_some()).map(|p| p.id.as_str()).collect();
        if limited.is_empty() {
            return Ok(Default::default());
        }
        rows::holdings(&self.client().await?, &customer.0, &limited).await
    }

    async fn product_sales(&self, id: &str) -> Result<ProductSales, StoreError> {
        rows::product_sales(&self.client().await?, id).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client().await?.simple_query("SELECT 1").await.map_err(pg_error).map(drop)
    }

    fn stock_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn splits_stock(&self) -> bool {
        true
    }
}

#[async_trait]
impl Outbox for PostgresStore {
    async fn claim_events(&self, claim: Claim) -> Result<Vec<OutboxEvent>, StoreError> {
        outbox::claim(&self.client().await?, &claim, now_millis()).await
    }

    async fn settle_event(&self, id: &str, claim_token: &str, outcome: Settlement) -> Result<bool, StoreError> {
        outbox::settle(&self.client().await?, id, claim_token, &outcome, now_millis()).await
    }

    /// On one pooled connection, the updates pipelined: a relay's batch of 64 settles would
    /// otherwise take 64 connections at once from the pool the orders need.
    async fn settle_events(&self, settles: Vec<Settle>) -> Result<Vec<bool>, StoreError> {
        let client = self.client().await?;
        let now = now_millis();
        let calls = settles.iter().map(|s| outbox::settle(&client, &s.id, &s.claim_token, &s.outcome, now));
        futures_util::future::join_all(calls).await.into_iter().collect()
    }

    async fn next_due(&self) -> Result<Option<Millis>, StoreError> {
        outbox::next_due(&self.client().await?).await
    }

    async fn outbox_events(&self, state: OutboxState, limit: u32) -> Result<Vec<OutboxEvent>, StoreError> {
        outbox::events(&self.client().await?, state, limit).await
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        outbox::counts(&self.client().await?).await
    }

    async fn retry_event(&self, id: &str) -> Result<bool, StoreError> {
        let retried = outbox::retry(&self.client().await?, id, now_millis()).await?;
        if retried {
            self.tick_outbox();
        }
        Ok(retried)
    }

    async fn retry_failed(&self, parked_before: Millis, limit: u32) -> Result<u32, StoreError> {
        let retried = outbox::retry_failed(&self.client().await?, parked_before, limit, now_millis()).await?;
        if retried > 0 {
            self.tick_outbox();
        }
        Ok(retried)
    }

    fn outbox_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.outbox_changes.subscribe()
    }
}

#[async_trait]
impl Mailbox for PostgresStore {
    async fn store_mail(&self, mail: NewMail) -> Result<(), StoreError> {
        outbox::store_mail(&self.client().await?, &mail, now_millis()).await
    }

    async fn mailbox(&self, limit: u32) -> Result<Vec<MailMessage>, StoreError> {
        outbox::mailbox(&self.client().await?, limit).await
    }

    async fn mail(&self, id: &str) -> Result<Option<MailMessage>, StoreError> {
        outbox::mail(&self.client().await?, id).await
    }
}
