//! Stampede's storage boundary: one method per business operation, so each engine can use
//! its own atomic primitive (one SQLite transaction; one DynamoDB TransactWriteItems; one
//! PostgreSQL transaction).

pub mod accounts;
pub mod analytics;
pub mod backoffice;
pub mod clock;
#[cfg(feature = "aws")]
pub mod dynamo;
mod error;
#[cfg(any(feature = "aws", feature = "postgres"))]
mod follow;
pub mod ids;
mod line_index;
mod model;
pub mod outbox;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod seed;
#[cfg(any(feature = "aws", feature = "postgres"))]
mod shards;
pub mod sqlite;
#[cfg(feature = "aws")]
mod tally;
pub mod transfer;
pub mod waiting_room;

pub use accounts::{
    Accounts, AuditEntry, Credentials, EMAIL_LINK_EVENT, LinkOpening, LinkPurpose, NewAudit, NewEmailLink, NewSession,
    NewUser, Role, User,
};
pub use analytics::Analytics;
pub use backoffice::{Backoffice, OrderFilter};
#[cfg(feature = "aws")]
pub use dynamo::{DynamoConfig, DynamoStore, OpCounts};
pub use error::StoreError;
pub use line_index::{Held, Joining, Lines};
pub use model::{IdempotencyKey, Order, OrderPage, PageRequest, PlaceOrder, Placed, ProductSales, ProductView};
pub use outbox::{
    Claim, MailMessage, Mailbox, NewMail, Outbox, OutboxCounts, OutboxEvent, OutboxState, Settle, Settlement,
};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresConfig, PostgresStore};
pub use sqlite::{DataDirLock, SqliteAccounts, SqliteConfig, SqliteStore};
pub use waiting_room::{LineEntry, RoomView, WaitingRoom};

use async_trait::async_trait;
use stampede_domain::{CustomerKey, OrderStatus, Product};

/// Everything the shop persists. Every method is atomic on its own. Every change to an
/// order writes its outbox event in the same transaction ([`Outbox`]); waiting rooms' lines
/// are kept alongside ([`WaitingRoom`]).
#[async_trait]
pub trait Store: Outbox + Mailbox + WaitingRoom {
    /// All products in menu order, with live stock.
    async fn products(&self) -> Result<Vec<ProductView>, StoreError>;
    /// One product with live stock.
    async fn product(&self, id: &str) -> Result<Option<ProductView>, StoreError>;
    /// The product with live stock if it has a waiting room; `None` when it has none or does
    /// not exist. Every order asks this of every product it names; a store that holds its
    /// catalog in memory answers for the many products without a room without copying them.
    async fn product_in_line(&self, id: &str) -> Result<Option<ProductView>, StoreError> {
        Ok(self.product(id).await?.filter(|view| view.product.sale.waiting_room.is_some()))
    }
    /// Adds a product with its initial stock; fails with `Conflict` if the id is taken.
    async fn create_product(&self, product: Product, stock: u32) -> Result<ProductView, StoreError>;
    /// Prices, checks and places an order: stock of every line is taken with the order insert, or nothing is.
    async fn place_order(&self, order: PlaceOrder) -> Result<Placed, StoreError>;
    /// Cancels an order the customer may still cancel and returns its stock, exactly once.
    async fn cancel_order(&self, id: &str) -> Result<Order, StoreError>;
    /// Moves an order along the status workflow for staff (`OrderStatus::can_become`);
    /// cancelling returns stock like `cancel_order`.
    async fn set_status(&self, id: &str, next: OrderStatus) -> Result<Order, StoreError>;
    /// One order by id.
    async fn order(&self, id: &str) -> Result<Option<Order>, StoreError>;
    /// Several orders by id, in the order asked (the relay's batch of events). By default
    /// one read each, all at once; SQLite reads them in one go on one connection.
    async fn orders(&self, ids: &[String]) -> Result<Vec<Option<Order>>, StoreError> {
        futures_util::future::join_all(ids.iter().map(|id| self.order(id))).await.into_iter().collect()
    }
    /// A customer's orders, newest first: the page `page` asks for.
    async fn customer_orders(&self, customer: &CustomerKey, page: PageRequest<'_>) -> Result<OrderPage, StoreError>;
    /// Units the customer under limit key `customer` holds of each of `products` that has a
    /// per-customer limit (others are not tracked), for pages that say what is left to buy.
    /// Products the customer holds none of are left out.
    async fn holdings(
        &self,
        customer: &CustomerKey,
        products: &[&Product],
    ) -> Result<std::collections::BTreeMap<String, u32>, StoreError>;
    /// What has been sold of a product, counted from the order records themselves.
    async fn product_sales(&self, id: &str) -> Result<ProductSales, StoreError>;
    /// Checks the store can serve reads and writes.
    async fn ping(&self) -> Result<(), StoreError>;
    /// A signal that ticks after every commit that changed stock or products; read
    /// `products()` when it changes. Changes in quick succession coalesce into one tick.
    fn stock_changes(&self) -> tokio::sync::watch::Receiver<u64>;
    /// Whether products' stock is split over counters (`stockShards`, DynamoDB), so the
    /// dashboard offers the setting only where it does something.
    fn splits_stock(&self) -> bool {
        false
    }
    /// Orders waiting for the writer right now (0 for engines without a queue).
    fn queue_depth(&self) -> usize {
        0
    }
    /// Requests made to a storage service since start, by kind (`reads`, `writes`,
    /// `transactions`, `retries`, `read_units`, `write_units`), for `/metrics` and the load
    /// test's cost figures; empty for an embedded store.
    fn service_calls(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }
}
