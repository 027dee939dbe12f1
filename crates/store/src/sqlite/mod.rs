//! The embedded SQLite adapter: a group-commit writer thread for every change, a pool of
//! read-only connections for queries, and a live in-memory catalog for the fast path.

mod accounts;
mod analytics_rows;
mod apply;
mod backoffice;
mod backup;
mod batch_stock;
mod catalog_edits;
mod checkpointer;
mod committed_keys;
mod line_rows;
mod live_catalog;
mod order_search;
mod outbox_rows;
mod read_pool;
mod rows;
mod schema;
pub mod transfer;
mod writer;

use crate::clock::now_millis;
use crate::waiting_room::{LineEntry, WaitingRoom};
use crate::{
    Claim, IdempotencyKey, MailMessage, Mailbox, NewMail, Order, OrderPage, Outbox, OutboxCounts, OutboxEvent,
    OutboxState, PageRequest, PlaceOrder, Placed, ProductSales, ProductView, Settle, Settlement, Store, StoreError,
};
pub use accounts::SqliteAccounts;
use async_trait::async_trait;
pub use backup::{DataDirLock, backup, restore};
use committed_keys::CommittedKeys;
use live_catalog::{LiveCatalog, SharedCatalog};
use read_pool::ReadPool;
use rusqlite::Connection;
use stampede_domain::{CustomerKey, Millis, OrderRejection, OrderStatus, Product, ProductState, RoomState, evaluate};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use writer::{Command, Writer};

/// How the SQLite store is set up.
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// The database file; its directory is created if missing.
    pub path: PathBuf,
    /// Orders that may wait for the writer before new ones get 503 (admission control).
    pub queue_depth: usize,
    /// Most commands committed in one transaction.
    pub max_batch: usize,
    /// Longest an order may wait in the queue before it is answered 503 instead.
    pub max_wait: Duration,
    /// What `Retry-After` tells a client turned away.
    pub retry_after: Duration,
    /// This process is the database's only user (it holds the [`DataDirLock`]), so relay
    /// leases left by an earlier process are dead: release them at open, so events a crashed
    /// relay had claimed go out at once instead of after their lease.
    pub exclusive: bool,
    /// How often WAL frames are copied back into the database file.
    pub checkpoint_every: Duration,
    /// WAL frames past which the WAL is rewound under load (see checkpointer.rs).
    pub wal_restart_frames: i64,
}

impl SqliteConfig {
    /// Defaults for a database file `stampede.db` in `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> SqliteConfig {
        SqliteConfig {
            path: dir.into().join("stampede.db"),
            queue_depth: 4096,
            max_batch: 512,
            max_wait: Duration::from_secs(2),
            retry_after: Duration::from_secs(1),
            exclusive: false,
            checkpoint_every: checkpointer::INTERVAL,
            wal_restart_frames: checkpointer::RESTART_FRAMES,
        }
    }
}

/// The SQLite-backed store.
pub struct SqliteStore {
    queue: mpsc::Sender<Command>,
    live: SharedCatalog,
    changes: tokio::sync::watch::Sender<u64>,
    keys: CommittedKeys,
    _checkpointer: checkpointer::Checkpointer,
    writer: Option<std::thread::JoinHandle<()>>,
    outbox_changes: tokio::sync::watch::Sender<u64>,
    reads: ReadPool,
    retry_after: Duration,
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database and starts the writer thread.
    pub fn open(config: SqliteConfig) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut conn = Connection::open(&config.path)?;
        schema::configure_writer(&conn)?;
        schema::migrate(&mut conn)?;
        if config.exclusive {
            let released = outbox_rows::release_claims(&conn, now_millis())?;
            if released > 0 {
                tracing::info!(released, "released outbox events claimed by a relay that stopped");
            }
        }
        let products = rows::load_products(&conn)?;
        let keys = CommittedKeys::from_keys(rows::idempotency_keys(&conn)?);
        let definitions = products.iter().map(|v| (v.product.id.clone(), v.product.clone())).collect();
        let live: SharedCatalog = Arc::new(RwLock::new(LiveCatalog::new(products)));
        let (queue, rx) = mpsc::channel(config.queue_depth.max(1));
        let (changes, _) = tokio::sync::watch::channel(0);
        let (outbox_changes, _) = tokio::sync::watch::channel(0);
        let wal_restart = checkpointer::RestartRequest::default();
        let writer = Writer {
            conn,
            definitions,
            live: live.clone(),
            changes: changes.clone(),
            keys: keys.clone(),
            outbox_changes: outbox_changes.clone(),
            max_batch: config.max_batch.max(1),
            max_wait: config.max_wait,
            retry_after: config.retry_after,
            wal_restart: wal_restart.clone(),
        };
        let checkpointer = checkpointer::Checkpointer::start(
            config.path.clone(),
            config.checkpoint_every,
            config.wal_restart_frames,
            wal_restart,
        )
        .map_err(|e| StoreError::Backend(format!("cannot start checkpointer: {e}")))?;
        let writer = std::thread::Builder::new()
            .name("stampede-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Backend(format!("cannot start writer: {e}")))?;
        Ok(SqliteStore {
            queue,
            live,
            changes,
            keys,
            _checkpointer: checkpointer,
            writer: Some(writer),
            outbox_changes,
            reads: ReadPool::new(config.path, 8),
            retry_after: config.retry_after,
        })
    }

    /// Sends a command to the writer and waits for its committed answer. A full queue is
    /// answered at once with `Busy`, so a spike meets a waiting room instead of a pile-up.
    async fn submit<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue.try_send(make(reply)).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::Busy { retry_after: self.retry_after },
            mpsc::error::TrySendError::Closed(_) => StoreError::Backend("the order writer has stopped".into()),
        })?;
        answer.await.map_err(|_| StoreError::Backend("the order writer dropped the request".into()))?
    }

    /// Deletes delivered outbox events and dev-mailbox messages older than `before`, at most
    /// `limit` of each in one command, so a large backlog is cleared in small steps between
    /// order batches rather than in one long transaction. Returns `(events, messages)` deleted.
    pub async fn prune_history(&self, before: Millis, limit: u32) -> Result<(u64, u64), StoreError> {
        self.submit_waiting(|reply| Command::PruneHistory { before, limit, reply }).await
    }

    /// Like `submit`, but waits for room in the queue instead of answering `Busy`: the
    /// relay's bookkeeping is not urgent, and refusing it would only cause resends.
    async fn submit_waiting<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue.send(make(reply)).await.map_err(|_| StoreError::Backend("the order writer has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Backend("the order writer dropped the request".into()))?
    }

    /// Judges an order on the live catalog without touching the queue or the disk. Any
    /// refusal here is final for this request: the writer applies the same rules to
    /// fresher data, and stock only ever moves towards sold out between the two.
    fn fast_path(&self, order: &PlaceOrder) -> Result<(), OrderRejection> {
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        let state: BTreeMap<&str, ProductState<'_>> = order
            .request
            .lines
            .iter()
            .filter_map(|l| live.get(&l.product_id))
            .map(|v| {
                (v.product.id.as_str(), ProductState { product: &v.product, available: v.stock, already_bought: 0 })
            })
            .collect();
        evaluate(&order.request, &state, now_millis()).map(drop)
    }
}

impl Drop for SqliteStore {
    /// Closes the queue and waits for the writer to commit what it holds, so a shutdown
    /// never ends the process in the middle of a batch.
    fn drop(&mut self) {
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.queue, closed));
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the order writer panicked");
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn products(&self) -> Result<Vec<ProductView>, StoreError> {
        Ok(self.live.read().unwrap_or_else(|p| p.into_inner()).all().to_vec())
    }

    async fn product(&self, id: &str) -> Result<Option<ProductView>, StoreError> {
        Ok(self.live.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned())
    }

    async fn product_in_line(&self, id: &str) -> Result<Option<ProductView>, StoreError> {
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        Ok(live.get(id).filter(|view| view.product.sale.waiting_room.is_some()).cloned())
    }

    async fn create_product(&self, product: Product, stock: u32) -> Result<ProductView, StoreError> {
        self.submit(|reply| Command::CreateProduct { product, stock, reply }).await
    }

    async fn place_order(&self, order: PlaceOrder) -> Result<Placed, StoreError> {
        if let Err(rejection) = self.fast_path(&order) {
            // A retry of an order that already went through must get its order back,
            // even when the product has sold out since.
            // The filter first: a key never committed needs no fingerprint (a SHA-256 of the
            // request), which most refusals in a sold-out stampede would otherwise pay for.
            if let Some(key) = order.idempotency_key.as_deref().filter(|k| self.keys.may_contain(k)) {
                let idem = IdempotencyKey::for_request(key, &order.request);
                let replayed = self.reads.run(move |c| apply::replay(c, &idem.key, &idem.fingerprint)).await?;
                if let Some(placed) = replayed {
                    return Ok(placed);
                }
            }
            return Err(rejection.into());
        }
        let idempotency = order.idempotency();
        let order = apply::Placing { request: order.request, idempotency };
        self.submit(|reply| Command::Place { order, enqueued: Instant::now(), reply }).await
    }

    async fn cancel_order(&self, id: &str) -> Result<Order, StoreError> {
        let id = id.to_owned();
        self.submit(|reply| Command::Cancel { id, reply }).await
    }

    async fn set_status(&self, id: &str, next: OrderStatus) -> Result<Order, StoreError> {
        let id = id.to_owned();
        self.submit(|reply| Command::SetStatus { id, next, reply }).await
    }

    async fn order(&self, id: &str) -> Result<Option<Order>, StoreError> {
        let id = id.to_owned();
        self.reads.run(move |c| rows::load_order(c, &id)).await
    }

    async fn orders(&self, ids: &[String]) -> Result<Vec<Option<Order>>, StoreError> {
        // One trip to the read pool and one read transaction for the batch: each read
        // transaction after a commit starts from an empty page cache, and without a
        // transaction every statement (two an order) is one of its own.
        let ids = ids.to_vec();
        self.reads
            .run(move |c| {
                let tx = c.unchecked_transaction()?;
                ids.iter().map(|id| rows::load_order(&tx, id)).collect()
            })
            .await
    }

    async fn customer_orders(&self, customer: &CustomerKey, page: PageRequest<'_>) -> Result<OrderPage, StoreError> {
        let (customer, cursor, limit) = (customer.clone(), page.cursor.map(str::to_owned), page.limit);
        self.reads.run(move |c| rows::customer_orders(c, &customer, cursor.as_deref(), limit)).await
    }

    async fn holdings(
        &self,
        customer: &CustomerKey,
        products: &[&Product],
    ) -> Result<std::collections::BTreeMap<String, u32>, StoreError> {
        let limited: Vec<String> =
            products.iter().filter(|p| p.sale.per_customer_max.is_some()).map(|p| p.id.clone()).collect();
        if limited.is_empty() {
            return Ok(Default::default());
        }
        let customer = customer.0.clone();
        self.reads.run(move |c| rows::holdings(c, &customer, &limited)).await
    }

    async fn product_sales(&self, id: &str) -> Result<ProductSales, StoreError> {
        let id = id.to_owned();
        self.reads.run(move |c| rows::product_sales(c, &id)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if self.queue.is_closed() {
            return Err(StoreError::Backend("the order writer has stopped".into()));
        }
        self.reads
            .run(|c| Ok(c.query_row("SELECT COUNT(*) FROM products", [], |r| r.get::<_, i64>(0))?))
            .await
            .map(drop)
    }

    fn queue_depth(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    fn stock_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

#[async_trait]
impl Outbox for SqliteStore {
    async fn claim_events(&self, claim: Claim) -> Result<Vec<OutboxEvent>, StoreError> {
        self.submit_waiting(|reply| Command::ClaimEvents { claim, reply }).await
    }

    async fn settle_event(&self, id: &str, claim_token: &str, outcome: Settlement) -> Result<bool, StoreError> {
        let (id, token) = (id.to_owned(), claim_token.to_owned());
        self.submit_waiting(|reply| Command::SettleEvent { id, token, outcome, reply }).await
    }

    async fn settle_events(&self, settles: Vec<Settle>) -> Result<Vec<bool>, StoreError> {
        self.submit_waiting(|reply| Command::SettleEvents { settles, reply }).await
    }

    async fn next_due(&self) -> Result<Option<Millis>, StoreError> {
        self.reads.run(outbox_rows::next_due).await
    }

    async fn outbox_events(&self, state: OutboxState, limit: u32) -> Result<Vec<OutboxEvent>, StoreError> {
        self.reads.run(move |c| outbox_rows::events(c, state, limit)).await
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        self.reads.run(outbox_rows::counts).await
    }

    async fn retry_event(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.submit_waiting(|reply| Command::RetryEvent { id, reply }).await
    }

    async fn retry_failed(&self, parked_before: Millis, limit: u32) -> Result<u32, StoreError> {
        self.submit_waiting(|reply| Command::RetryFailed { parked_before, limit, reply }).await
    }

    fn outbox_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.outbox_changes.subscribe()
    }
}

#[async_trait]
impl WaitingRoom for SqliteStore {
    async fn join_line(&self, entry: LineEntry) -> Result<LineEntry, StoreError> {
        let mut held = self.join_lines(vec![entry]).await?;
        held.pop().ok_or_else(|| StoreError::Backend("the writer answered no ticket".into()))
    }

    async fn join_lines(&self, entries: Vec<LineEntry>) -> Result<Vec<LineEntry>, StoreError> {
        // Waits for room in the queue: a join has already been answered from the index.
        self.submit_waiting(|reply| Command::JoinLines { entries, reply }).await
    }

    async fn line(&self, product_id: &str) -> Result<Vec<LineEntry>, StoreError> {
        let id = product_id.to_owned();
        self.reads.run(move |c| line_rows::line(c, &id)).await
    }

    async fn line_ranks(&self, product_id: &str, from: u64) -> Result<Vec<u64>, StoreError> {
        let id = product_id.to_owned();
        self.reads.run(move |c| line_rows::ranks(c, &id, from)).await
    }

    fn lines_shared(&self) -> bool {
        // The data directory is locked to one process, and its joins all pass its index.
        false
    }

    async fn room(&self, product_id: &str) -> Result<RoomState, StoreError> {
        let id = product_id.to_owned();
        self.reads.run(move |c| line_rows::room(c, &id)).await
    }

    async fn next_in_line(&self, product_id: &str, after: u64, limit: u64) -> Result<Vec<u64>, StoreError> {
        let id = product_id.to_owned();
        self.reads.run(move |c| line_rows::next(c, &id, after, limit)).await
    }

    async fn save_room(&self, product_id: &str, next: &RoomState) -> Result<bool, StoreError> {
        let (product_id, state) = (product_id.to_owned(), next.clone());
        self.submit_waiting(|reply| Command::SaveRoom { product_id, state, reply }).await
    }

    async fn mark_bought(
        &self,
        product_id: &str,
        customer: &CustomerKey,
        rank: u64,
        order_id: &str,
    ) -> Result<(), StoreError> {
        let (product_id, customer, order_id) = (product_id.to_owned(), customer.0.clone(), order_id.to_owned());
        self.submit(|reply| Command::MarkBought { product_id, customer, rank, order_id, reply }).await
    }

    async fn stock_now(&self, product_id: &str) -> Result<Option<u32>, StoreError> {
        // The live catalog takes each batch's stock before its commands are answered.
        Ok(self.live.read().unwrap_or_else(|p| p.into_inner()).get(product_id).map(|view| view.stock))
    }

    async fn purchase_marks(
        &self,
        product_id: &str,
        ranks: RangeInclusive<u64>,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let id = product_id.to_owned();
        self.reads.run(move |c| line_rows::purchase_marks(c, &id, *ranks.start(), *ranks.end())).await
    }
}

#[async_trait]
impl Mailbox for SqliteStore {
    async fn store_mail(&self, mail: NewMail) -> Result<(), StoreError> {
        self.submit_waiting(|reply| Command::StoreMail { mail, reply }).await
    }

    async fn mailbox(&self, limit: u32) -> Result<Vec<MailMessage>, StoreError> {
        self.reads.run(move |c| outbox_rows::mailbox(c, limit)).await
    }

    async fn mail(&self, id: &str) -> Result<Option<MailMessage>, StoreError> {
        let id = id.to_owned();
        self.reads.run(move |c| outbox_rows::mail(c, &id)).await
    }
}
