//! The PostgreSQL store itself: its settings, the connection pool, one-off connections and
//! snapshots, and the change signals. Its `Store`, `Outbox` and `Mailbox` impls live in
//! mod.rs, which composes the children (`place.rs`, `rows.rs`, `outbox.rs`); the children
//! use this file, never mod.rs, so the module graph has no circle.

use super::error::pg_error;
use super::{live_stock, outbox, schema, tls};
use crate::StoreError;
use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use stampede_domain::Millis;
use std::sync::Arc;
use std::time::Duration;

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
    pub(super) config: PostgresConfig,
    pub(super) changes: tokio::sync::watch::Sender<u64>,
    pub(super) outbox_changes: tokio::sync::watch::Sender<u64>,
    /// Stock levels as lately read, for the sold-out fast path (`live_stock.rs`).
    pub(super) live: live_stock::LiveStock,
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
pub(super) async fn connect_one(
    database_url: &str,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), StoreError> {
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
    pub(super) async fn client(&self) -> Result<Object, StoreError> {
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

    pub(super) fn tick_stock(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(super) fn tick_outbox(&self) {
        self.outbox_changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}
