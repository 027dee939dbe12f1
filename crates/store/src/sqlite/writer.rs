//! The single writer: one thread owns the write connection, drains a bounded queue and
//! commits each batch of commands in one transaction (group commit). Arrival order is
//! kept, so stock goes first come, first served; replies go out only after the commit.

use super::apply::{self, Placing};
use super::batch_stock::BatchStock;
use super::{catalog_edits, line_rows, live_catalog::SharedCatalog, outbox_rows, rows};
use crate::clock::now_millis;
use crate::waiting_room::LineEntry;
use crate::{Claim, NewMail, Order, OutboxEvent, Placed, ProductView, Settle, Settlement, StoreError};
use rusqlite::{Connection, TransactionBehavior};
use stampede_domain::{Millis, OrderStatus, Product, RoomState};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Work for the writer.
pub enum Command {
    Place {
        order: Placing,
        enqueued: Instant,
        reply: Reply<Placed>,
    },
    Cancel {
        id: String,
        reply: Reply<Order>,
    },
    SetStatus {
        id: String,
        next: OrderStatus,
        reply: Reply<Order>,
    },
    CreateProduct {
        product: Product,
        stock: u32,
        reply: Reply<ProductView>,
    },
    UpdateProduct {
        product: Product,
        reply: Reply<ProductView>,
    },
    AdjustStock {
        id: String,
        delta: i64,
        reply: Reply<ProductView>,
    },
    // The relay's writes go through this queue too (see `notify::relay` for why): each is
    // one indexed UPDATE or INSERT, a few microseconds inside a batch that orders share.
    ClaimEvents {
        claim: Claim,
        reply: Reply<Vec<OutboxEvent>>,
    },
    SettleEvent {
        id: String,
        token: String,
        outcome: Settlement,
        reply: Reply<bool>,
    },
    /// The relay's settles of a batch of deliveries, as one command.
    SettleEvents {
        settles: Vec<Settle>,
        reply: Reply<Vec<bool>>,
    },
    RetryEvent {
        id: String,
        reply: Reply<bool>,
    },
    RetryFailed {
        parked_before: Millis,
        limit: u32,
        reply: Reply<u32>,
    },
    StoreMail {
        mail: NewMail,
        reply: Reply<()>,
    },
    /// Customers joining waiting rooms' lines: a batch of the write-behind, one command.
    JoinLines {
        entries: Vec<LineEntry>,
        reply: Reply<Vec<LineEntry>>,
    },
    /// A waiting-room ticket's holder has bought: `WaitingRoom::mark_bought`.
    MarkBought {
        product_id: String,
        customer: String,
        rank: u64,
        order_id: String,
        reply: Reply<()>,
    },
    /// A waiting room's watermark moving on.
    SaveRoom {
        product_id: String,
        state: RoomState,
        reply: Reply<bool>,
    },
    /// Deletes delivered events and dev-mailbox messages older than `before`, `limit` of each.
    PruneHistory {
        before: Millis,
        limit: u32,
        reply: Reply<(u64, u64)>,
    },
}

/// A command's result, held until the batch commits.
enum Outcome {
    Place(Result<Placed, StoreError>),
    /// A customer's cancel or a staff status change: both may return stock, both write an event.
    Cancel(Result<Order, StoreError>),
    CreateProduct(Result<ProductView, StoreError>),
    /// A staff edit of a product's definition or stock.
    EditProduct(Result<ProductView, StoreError>),
    /// Outbox bookkeeping for the relay.
    Claim(Result<Vec<OutboxEvent>, StoreError>),
    Settle(Result<bool, StoreError>),
    SettleMany(Result<Vec<bool>, StoreError>),
    Retry(Result<bool, StoreError>),
    RetryFailed(Result<u32, StoreError>),
    Mail(Result<(), StoreError>),
    Prune(Result<(u64, u64), StoreError>),
    /// Per entry, `None` if it went in as given, else the ticket its customer holds.
    Join(Result<Vec<Option<LineEntry>>, StoreError>),
    Room(Result<bool, StoreError>),
    Marked(Result<(), StoreError>),
}

/// A batch that committed: each command's result, in order, and what became visible.
struct Committed {
    outcomes: Vec<Outcome>,
    new_keys: HashSet<String>,
    created: Vec<ProductView>,
    /// Stock levels the batch wrote.
    stock: Vec<(String, u32)>,
}

/// How a batch is isolated inside its transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// No savepoints: every business refusal happens before a command's first write, so
    /// only an engine error can leave a command half-written, and then the batch is retried.
    Batch,
    /// A savepoint per command, so a failing command leaves no trace and the rest commit.
    PerCommand,
}

/// Owns the write connection and the authoritative product definitions.
pub struct Writer {
    pub conn: Connection,
    pub definitions: HashMap<String, Product>,
    pub live: SharedCatalog,
    /// Bumped after each commit that changed stock or products.
    pub changes: tokio::sync::watch::Sender<u64>,
    /// Idempotency keys of committed orders, for the fast path.
    pub keys: super::committed_keys::CommittedKeys,
    /// Bumped after each commit that wrote an outbox event, to wake the relay.
    pub outbox_changes: tokio::sync::watch::Sender<u64>,
    pub max_batch: usize,
    pub max_wait: Duration,
    pub retry_after: Duration,
    /// The checkpointer's request to rewind the WAL, honoured between batches.
    pub wal_restart: super::checkpointer::RestartRequest,
}

impl Writer {
    /// Runs until every sender is gone, then returns after the last batch has committed.
    pub fn run(mut self, mut queue: mpsc::Receiver<Command>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        while let Some(first) = queue.blocking_recv() {
            batch.push(first);
            while batch.len() < self.max_batch {
                match queue.try_recv() {
                    Ok(cmd) => batch.push(cmd),
                    Err(_) => break,
                }
            }
            self.commit_batch(&mut batch);
            if self.wal_restart.take() {
                self.rewind_wal();
            }
        }
        tracing::debug!("order writer stopped");
    }

    /// Copies the last WAL frames back and rewinds the WAL (see checkpointer.rs); waits for
    /// readers still on the old frames, which hold them for one query at most.
    fn rewind_wal(&self) {
        let started = std::time::Instant::now();
        match self.conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0)) {
            Ok(0) => tracing::debug!(ms = started.elapsed().as_millis() as u64, "WAL rewound"),
            // Busy: a reader outlasted the wait; the checkpointer asks again next round.
            Ok(_) => tracing::debug!("WAL rewind postponed: readers busy"),
            Err(e) => tracing::warn!(error = %e, "WAL rewind failed"),
        }
    }

    /// Commits one batch and answers each command: orders that waited past `max_wait` are
    /// turned away first; if the batch fails as a whole it is run again with a savepoint
    /// per command, so one bad command cannot sink the others.
    fn commit_batch(&mut self, batch: &mut Vec<Command>) {
        let now = now_millis();
        let live = self.turn_away_expired(batch);
        if live.is_empty() {
            return;
        }
        let result = self.execute(&live, now, Isolation::Batch).or_else(|e| {
            tracing::warn!(error = %e, size = live.len(), "order batch failed; retrying with a savepoint per order");
            self.reload_definitions();
            self.execute(&live, now, Isolation::PerCommand)
        });
        let committed = match result {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, size = live.len(), "order batch failed to commit");
                self.reload_definitions();
                let why = e.to_string();
                live.into_iter().for_each(|cmd| fail(cmd, &why));
                return;
            }
        };
        self.keys.extend(committed.new_keys.iter().map(String::as_str));
        self.publish(&committed.stock, committed.created);
        if committed.outcomes.iter().any(Outcome::wrote_event) {
            // Wakes the outbox relay.
            self.outbox_changes.send_modify(|version| *version += 1);
        }
        for (cmd, outcome) in live.into_iter().zip(committed.outcomes) {
            reply(cmd, outcome);
        }
    }

    /// Answers `Busy` to the orders that waited in the queue longer than `max_wait` (their
    /// client has likely given up) and returns the rest of `batch`, in order.
    fn turn_away_expired(&self, batch: &mut Vec<Command>) -> Vec<Command> {
        let (expired, live): (Vec<Command>, Vec<Command>) = batch
            .drain(..)
            .partition(|c| matches!(c, Command::Place { enqueued, .. } if enqueued.elapsed() > self.max_wait));
        for cmd in expired {
            if let Command::Place { reply, .. } = cmd {
                answer(reply, Err(StoreError::Busy { retry_after: self.retry_after }));
            }
        }
        live
    }

    /// Runs `batch` in one transaction and commits it. With `Isolation::Batch`, an engine
    /// error in any command aborts the whole transaction (nothing is written) and is returned.
    fn execute(&mut self, batch: &[Command], now: Millis, isolation: Isolation) -> Result<Committed, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut run = BatchTx {
            tx: Isolated { tx, isolation },
            now,
            definitions: &mut self.definitions,
            keys: &self.keys,
            stock: BatchStock::default(),
            committed: Committed {
                outcomes: Vec::with_capacity(batch.len()),
                new_keys: HashSet::new(),
                created: Vec::new(),
                stock: Vec::new(),
            },
        };
        for cmd in batch {
            let outcome = run.apply(cmd);
            if isolation == Isolation::Batch
                && let Some(e) = engine_error(&outcome)
            {
                return Err(StoreError::Backend(e.to_owned()));
            }
            run.committed.outcomes.push(outcome);
        }
        run.commit()
    }

    /// Makes committed stock and products visible to readers and the fast path.
    fn publish(&self, stock: &[(String, u32)], created: Vec<ProductView>) {
        if stock.is_empty() && created.is_empty() {
            return;
        }
        {
            let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
            for view in created {
                live.upsert(view);
            }
            for (id, level) in stock {
                live.set_stock(id, *level);
            }
        }
        self.changes.send_modify(|version| *version += 1);
    }

    fn reload_definitions(&mut self) {
        match rows::load_products(&self.conn) {
            Ok(all) => self.definitions = all.into_iter().map(|v| (v.product.id.clone(), v.product)).collect(),
            Err(e) => tracing::error!(error = %e, "could not reload product definitions"),
        }
    }
}

/// One batch's open transaction and what it has done so far.
struct BatchTx<'w> {
    tx: Isolated<'w>,
    now: Millis,
    /// The writer's product definitions: products created or edited in this batch are
    /// visible to its later commands (reloaded if the batch fails).
    definitions: &'w mut HashMap<String, Product>,
    keys: &'w super::committed_keys::CommittedKeys,
    stock: BatchStock,
    committed: Committed,
}

impl BatchTx<'_> {
    /// Runs one command (in its own savepoint under `Isolation::PerCommand`).
    fn apply(&mut self, cmd: &Command) -> Outcome {
        let now = self.now;
        match cmd {
            Command::Place { order, .. } => Outcome::Place(self.place(order)),
            Command::Cancel { id, .. } => Outcome::Cancel(self.tx.run(|c| apply::cancel(c, id, &mut self.stock, now))),
            Command::SetStatus { id, next, .. } => {
                Outcome::Cancel(self.tx.run(|c| apply::set_status(c, id, *next, &mut self.stock, now)))
            }
            Command::ClaimEvents { claim, .. } => Outcome::Claim(self.tx.run(|c| outbox_rows::claim(c, claim, now))),
            Command::SettleEvent { id, token, outcome, .. } => {
                Outcome::Settle(self.tx.run(|c| outbox_rows::settle(c, id, token, outcome, now)))
            }
            Command::SettleEvents { settles, .. } => Outcome::SettleMany(self.tx.run(|c| {
                settles.iter().map(|s| outbox_rows::settle(c, &s.id, &s.claim_token, &s.outcome, now)).collect()
            })),
            Command::RetryEvent { id, .. } => Outcome::Retry(self.tx.run(|c| outbox_rows::retry(c, id, now))),
            Command::RetryFailed { parked_before, limit, .. } => {
                Outcome::RetryFailed(self.tx.run(|c| outbox_rows::retry_failed(c, *parked_before, *limit, now)))
            }
            Command::StoreMail { mail, .. } => Outcome::Mail(self.tx.run(|c| outbox_rows::store_mail(c, mail, now))),
            Command::PruneHistory { before, limit, .. } => {
                Outcome::Prune(self.tx.run(|c| outbox_rows::prune(c, *before, *limit)))
            }
            Command::JoinLines { entries, .. } => Outcome::Join(self.tx.run(|c| line_rows::join(c, entries))),
            Command::MarkBought { product_id, customer, rank, order_id, .. } => {
                Outcome::Marked(self.tx.run(|c| line_rows::mark_bought(c, product_id, customer, *rank, order_id)))
            }
            Command::SaveRoom { product_id, state, .. } => {
                Outcome::Room(self.tx.run(|c| line_rows::save_room(c, product_id, state)))
            }
            Command::CreateProduct { product, stock: units, .. } => {
                let result = self.tx.run(|c| apply::create_product(c, product, *units, now));
                Outcome::CreateProduct(self.defined(product, result))
            }
            Command::UpdateProduct { product, .. } => {
                let result = self.tx.run(|c| catalog_edits::update_product(c, product, &mut self.stock, now));
                Outcome::EditProduct(self.defined(product, result))
            }
            Command::AdjustStock { id, delta, .. } => {
                let (defs, stock) = (&*self.definitions, &mut self.stock);
                Outcome::EditProduct(self.tx.run(|c| catalog_edits::adjust_stock(c, defs, id, *delta, stock)))
            }
        }
    }

    /// Places one order, noting its idempotency key so a repeat later in the batch replays.
    fn place(&mut self, order: &Placing) -> Result<Placed, StoreError> {
        // Only a key that may have been used before needs a lookup: committed keys are in
        // memory, this batch's are in `new_keys`.
        let new_keys = &mut self.committed.new_keys;
        let seen =
            order.idempotency.as_ref().is_some_and(|i| self.keys.may_contain(&i.key) || new_keys.contains(&i.key));
        let (defs, stock, now) = (&*self.definitions, &mut self.stock, self.now);
        let result = self.tx.run(|c| apply::place(c, defs, order, seen, stock, now));
        if let (Ok(placed), Some(idem)) = (&result, &order.idempotency)
            && !placed.replayed
        {
            new_keys.insert(idem.key.clone());
        }
        result
    }

    /// After a product was created or edited: its definition serves the rest of the batch
    /// and its view is published once the batch commits.
    fn defined(
        &mut self,
        product: &Product,
        result: Result<ProductView, StoreError>,
    ) -> Result<ProductView, StoreError> {
        if let Ok(view) = &result {
            self.definitions.insert(product.id.clone(), product.clone());
            self.committed.created.push(view.clone());
        }
        result
    }

    /// Writes the stock levels the batch changed and commits.
    fn commit(mut self) -> Result<Committed, StoreError> {
        self.committed.stock = self.stock.flush(&self.tx.tx, self.now)?;
        self.tx.tx.commit()?;
        Ok(self.committed)
    }
}

impl Outcome {
    /// Whether the command wrote an outbox event (a new order, a cancel or status change,
    /// an event put back in the queue), so the relay has work.
    fn wrote_event(&self) -> bool {
        matches!(self, Outcome::Place(Ok(p)) if !p.replayed)
            || matches!(self, Outcome::Cancel(Ok(_)) | Outcome::Retry(Ok(true)))
            || matches!(self, Outcome::RetryFailed(Ok(n)) if *n > 0)
    }
}

/// Sends a committed command its result.
fn reply(cmd: Command, outcome: Outcome) {
    match (cmd, outcome) {
        (Command::Place { reply, .. }, Outcome::Place(r)) => answer(reply, r),
        (Command::Cancel { reply, .. } | Command::SetStatus { reply, .. }, Outcome::Cancel(r)) => answer(reply, r),
        (Command::ClaimEvents { reply, .. }, Outcome::Claim(r)) => answer(reply, r),
        (Command::SettleEvent { reply, .. }, Outcome::Settle(r)) => answer(reply, r),
        (Command::SettleEvents { reply, .. }, Outcome::SettleMany(r)) => answer(reply, r),
        (Command::RetryEvent { reply, .. }, Outcome::Retry(r)) => answer(reply, r),
        (Command::RetryFailed { reply, .. }, Outcome::RetryFailed(r)) => answer(reply, r),
        (Command::StoreMail { reply, .. }, Outcome::Mail(r)) => answer(reply, r),
        (Command::PruneHistory { reply, .. }, Outcome::Prune(r)) => answer(reply, r),
        (Command::JoinLines { reply, entries }, Outcome::Join(r)) => {
            // The entries taken as given go back as they came, moved rather than copied.
            answer(
                reply,
                r.map(|held| entries.into_iter().zip(held).map(|(given, held)| held.unwrap_or(given)).collect()),
            )
        }
        (Command::SaveRoom { reply, .. }, Outcome::Room(r)) => answer(reply, r),
        (Command::MarkBought { reply, .. }, Outcome::Marked(r)) => answer(reply, r),
        (Command::CreateProduct { reply, .. }, Outcome::CreateProduct(r)) => answer(reply, r),
        (Command::UpdateProduct { reply, .. } | Command::AdjustStock { reply, .. }, Outcome::EditProduct(r)) => {
            answer(reply, r)
        }
        (cmd, _) => fail(cmd, "internal: outcome out of step with its command"),
    }
}

/// The engine error a command failed with, if that is how it failed.
fn engine_error(outcome: &Outcome) -> Option<&str> {
    match outcome {
        Outcome::Place(Err(StoreError::Backend(e)))
        | Outcome::Cancel(Err(StoreError::Backend(e)))
        | Outcome::CreateProduct(Err(StoreError::Backend(e)))
        | Outcome::EditProduct(Err(StoreError::Backend(e)))
        | Outcome::Claim(Err(StoreError::Backend(e)))
        | Outcome::Settle(Err(StoreError::Backend(e)))
        | Outcome::SettleMany(Err(StoreError::Backend(e)))
        | Outcome::Retry(Err(StoreError::Backend(e)))
        | Outcome::RetryFailed(Err(StoreError::Backend(e)))
        | Outcome::Mail(Err(StoreError::Backend(e)))
        | Outcome::Join(Err(StoreError::Backend(e)))
        | Outcome::Room(Err(StoreError::Backend(e)))
        | Outcome::Marked(Err(StoreError::Backend(e))) => Some(e),
        _ => None,
    }
}

/// A batch's transaction and how its commands are isolated in it.
struct Isolated<'w> {
    tx: rusqlite::Transaction<'w>,
    isolation: Isolation,
}

impl Isolated<'_> {
    /// Runs `f` directly, or inside a savepoint that is released on success and rolled back
    /// on error. The statements are cached: rusqlite's `Savepoint` re-parses its SQL on
    /// every use.
    fn run<T>(&mut self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let tx = &self.tx;
        if self.isolation == Isolation::Batch {
            return f(tx);
        }
        tx.prepare_cached("SAVEPOINT one_command")?.execute([])?;
        match f(tx) {
            Ok(value) => {
                tx.prepare_cached("RELEASE one_command")?.execute([])?;
                Ok(value)
            }
            Err(e) => {
                tx.prepare_cached("ROLLBACK TO one_command")?.execute([])?;
                tx.prepare_cached("RELEASE one_command")?.execute([])?;
                Err(e)
            }
        }
    }
}

fn fail(cmd: Command, why: &str) {
    match cmd {
        Command::Place { reply, .. } => answer(reply, backend(why)),
        Command::Cancel { reply, .. } | Command::SetStatus { reply, .. } => answer(reply, backend(why)),
        Command::CreateProduct { reply, .. } => answer(reply, backend(why)),
        Command::UpdateProduct { reply, .. } | Command::AdjustStock { reply, .. } => answer(reply, backend(why)),
        Command::ClaimEvents { reply, .. } => answer(reply, backend(why)),
        Command::SettleEvent { reply, .. } | Command::RetryEvent { reply, .. } => answer(reply, backend(why)),
        Command::SettleEvents { reply, .. } => answer(reply, backend(why)),
        Command::RetryFailed { reply, .. } => answer(reply, backend(why)),
        Command::StoreMail { reply, .. } => answer(reply, backend(why)),
        Command::PruneHistory { reply, .. } => answer(reply, backend(why)),
        Command::JoinLines { reply, .. } => answer(reply, backend(why)),
        Command::SaveRoom { reply, .. } => answer(reply, backend(why)),
        Command::MarkBought { reply, .. } => answer(reply, backend(why)),
    }
}

fn backend<T>(why: &str) -> Result<T, StoreError> {
    Err(StoreError::Backend(why.to_owned()))
}

/// Sends an answer; a caller that stopped waiting (client gone) is not an error.
fn answer<T>(reply: Reply<T>, result: Result<T, StoreError>) {
    let _ = reply.send(result);
}
