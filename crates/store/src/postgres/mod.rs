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
mod line;
mod live_stock;
mod outbox;
mod place;
mod rows;
mod schema;
mod tls;
pub mod transfer;

use crate::clock::now_millis;
use crate::{
    Claim, MailMessage, Mailbox, NewMail, Order, OrderPage, Outbox, OutboxCounts, OutboxEvent, OutboxState, PlaceOrder,
    Placed, ProductSales, ProductView, Settlement, Store, StoreError,
};
use async_trait::async_trait;
use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use place::Change;
pub use schema::latest_version;
use stampede_domain::{CustomerKey, Millis, OrderStatus, Product};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::error::SqlState;

/// How the PostgreSQL store is set up.
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/database` (libpq's key=value form works too).
    pub database_url: String,
    /// Connections this instance may hold. Every instance's pool, plus the relays' and
    /// admins' sessions, must fit in the server's `max_connections` (docs/postgres.md).
    pub pool_size: usize,
    /// Longest a request waits for a pooled connection, or for a new one to open, before it
    /// fails instead of hanging (the database is down or every connection is busy).
    pub acquire_timeout: Duration,
    /// What `Retry-After` tells a client turned away.
    pub retry_after: Duration,
}

impl PostgresConfig {
    /// Defaults for `database_url`.
    pub fn new(database_url: impl Into<String>) -> PostgresConfig {
        PostgresConfig {
            database_url: database_url.into(),
            pool_size: 16,
            acquire_timeout: Duration::from_secs(5),
            retry_after: Duration::from_secs(1),
        }
    }
}

/// The PostgreSQL-backed store.
pub struct PostgresStore {
    pool: Pool,
    config: PostgresConfig,
    changes: tokio::sync::watch::Sender<u64>,
    outbox_changes: tokio::sync::watch::Sender<u64>,
    /// Stock levels as lately read, for the sold-out fast path (`live_stock.rs`).
    live: live_stock::LiveStock,
}

/// A read-only REPEATABLE READ transaction: one snapshot for a report or an export while
/// orders keep committing.
pub(crate) async fn snapshot(client: &mut ClientWrapper) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
    client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg_error)
}

/// A database error as a person can read it: the server's own message where there is one
/// (tokio-postgres' `Display` says only "db error"). A lost connection or a server shutting
/// down or starting up is `Busy` (503 + Retry-After): the pool replaces the connection, so
/// the client's retry can succeed once the server is back (a lost `COMMIT` may still have
/// committed; a retry with the same idempotency key then gets that order back).
pub(crate) fn pg_error(e: tokio_postgres::Error) -> StoreError {
    let unavailable = match e.code() {
        // Class 57P: operator intervention (admin or crash shutdown, cannot connect now).
        Some(code) => code.code().starts_with("57P"),
        None => e.is_closed() || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()),
    };
    if unavailable {
        tracing::warn!(error = %e, "PostgreSQL unavailable");
        return StoreError::Busy { retry_after: Duration::from_secs(1) };
    }
    match e.as_db_error() {
        Some(db) => StoreError::Backend(format!("PostgreSQL: {}", db.message())),
        None => StoreError::Backend(format!("PostgreSQL: {e}")),
    }
}

/// Errors after which the same transaction, begun again, may well succeed.
fn retryable(e: &tokio_postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}

/// Applies the schema migrations this build has and the database lacks; returns the versions
/// applied (empty when it was up to date). What `stampede migrate` runs, and every start.
pub async fn migrate(database_url: &str) -> Result<Vec<i32>, StoreError> {
    let (mut client, driver) = connect_one(database_url).await?;
    let applied = schema::migrate(&mut client).await;
    drop(client);
    let _ = driver.await;
    applied
}

/// One connection outside any pool, for commands that run once (migrate, export, import);
/// drop the client, then await the driver to close it.
async fn connect_one(database_url: &str) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), StoreError> {
    let endpoint = tls::endpoint(database_url)?;
    let (client, connection) = endpoint
        .config
        .connect(endpoint.tls)
        .await
        .map_err(|e| StoreError::Backend(format!("cannot connect to PostgreSQL: {e}")))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, driver))
}

impl PostgresStore {
    /// Connects, migrates the schema, and keeps a pool of `config.pool_size` connections.
    pub async fn connect(config: PostgresConfig) -> Result<PostgresStore, StoreError> {
        let endpoint = tls::endpoint(&config.database_url)?;
        migrate(&config.database_url).await?;
        let manager = Manager::from_config(
            endpoint.config,
            endpoint.tls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(config.acquire_timeout))
            .create_timeout(Some(config.acquire_timeout))
            .recycle_timeout(Some(config.acquire_timeout))
            .build()
            .map_err(|e| StoreError::Backend(format!("cannot set up the connection pool: {e}")))?;
        let (changes, _) = tokio::sync::watch::channel(0);
        let (outbox_changes, _) = tokio::sync::watch::channel(0);
        Ok(PostgresStore { pool, config, changes, outbox_changes, live: Default::default() })
    }

    /// A pooled connection, or `Busy` (503 with `Retry-After`) within `acquire_timeout` when
    /// every connection is taken or PostgreSQL cannot be reached: the client may try again,
    /// and the request never hangs on a database that is restarting.
    async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| {
            tracing::warn!(error = %e, "no PostgreSQL connection");
            StoreError::Busy { retry_after: self.config.retry_after }
        })
    }

    /// Makes `stock_changes` tick when other instances change stock: polls the levels every
    /// `every` (one aggregate query) and ticks when they differ from the last poll. Local
    /// changes tick at once. Each poll also refreshes what the sold-out fast path knows, so a
    /// product sold out or restocked on another instance is known here within `every`.
    /// Ends when the store is dropped.
    pub fn follow_other_instances(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        crate::follow::poll_stock_levels(self, every, PostgresStore::tick_stock)
    }

    /// Deletes delivered outbox events and dev-mailbox messages older than `before`, at most
    /// `limit` of each per call, so a backlog goes in short statements; returns `(events, messages)`.
    pub async fn prune_history(&self, before: Millis, limit: u32) -> Result<(u64, u64), StoreError> {
        outbox::prune(&self.client().await?, before, limit).await
    }

    fn tick_stock(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn tick_outbox(&self) {
        self.outbox_changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

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

    async fn customer_orders(
        &self,
        customer: &CustomerKey,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<OrderPage, StoreError> {
        rows::customer_orders(&self.client().await?, customer, cursor, limit).await
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
