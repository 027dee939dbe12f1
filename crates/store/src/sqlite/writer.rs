//! The single writer: one thread owns the write connection, drains a bounded queue and
//! commits each batch of commands in one transaction (group commit). Arrival order is
//! kept, so stock goes first come, first served; replies go out only after the commit.

use super::{apply, live_catalog::SharedCatalog, rows};
use crate::{IdempotencyKey, Order, Placed, ProductView, StoreError};
use rusqlite::{Connection, TransactionBehavior};
use stampede_domain::OrderRequest;
use stampede_domain::{Millis, Product};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// An order on its way to the writer, its idempotency key already fingerprinted.
pub struct Placing {
    pub request: OrderRequest,
    pub idempotency: Option<IdempotencyKey>,
}

/// Work for the writer.
pub enum Command {
    Place { order: Placing, enqueued: Instant, reply: Reply<Placed> },
    Cancel { id: String, reply: Reply<Order> },
    CreateProduct { product: Product, stock: u32, reply: Reply<ProductView> },
}

/// A command's outcome, held until the batch commits.
enum Done {
    Place(Reply<Placed>, Result<(Placed, apply::StockAfter), StoreError>),
    Cancel(Reply<Order>, Result<(Order, apply::StockAfter), StoreError>),
    CreateProduct(Reply<ProductView>, Result<ProductView, StoreError>),
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
    pub max_batch: usize,
    pub max_wait: Duration,
    pub retry_after: Duration,
}

/// Wall-clock now in Unix milliseconds.
pub fn now_millis() -> Millis {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as Millis)
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
        }
        tracing::debug!("order writer stopped");
    }

    fn commit_batch(&mut self, batch: &mut Vec<Command>) {
        let now = now_millis();
        let size = batch.len();
        let mut tx = match self.conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(e) => {
                tracing::error!(error = %e, "could not begin order batch");
                batch.drain(..).for_each(|cmd| fail(cmd, &e.to_string()));
                return;
            }
        };
        let mut done = Vec::with_capacity(size);
        let mut created = Vec::new();
        let mut new_keys: HashSet<String> = HashSet::new();
        for cmd in batch.drain(..) {
            match cmd {
                Command::Place { order, enqueued, reply } => {
                    if enqueued.elapsed() > self.max_wait {
                        answer(reply, Err(StoreError::Busy { retry_after: self.retry_after }));
                        continue;
                    }
                    let defs = &self.definitions;
                    // Only a key that may have been used before needs a lookup: committed
                    // keys are in memory, this batch's are in `new_keys`.
                    let seen = order
                        .idempotency
                        .as_ref()
                        .is_some_and(|i| self.keys.may_contain(&i.key) || new_keys.contains(&i.key));
                    let result = in_savepoint(&mut tx, |c| apply::place(c, defs, &order, seen, now));
                    if let (Ok((placed, _)), Some(idem)) = (&result, order.idempotency)
                        && !placed.replayed
                    {
                        new_keys.insert(idem.key);
                    }
                    done.push(Done::Place(reply, result));
                }
                Command::Cancel { id, reply } => {
                    done.push(Done::Cancel(reply, in_savepoint(&mut tx, |c| apply::cancel(c, &id, now))))
                }
                Command::CreateProduct { product, stock, reply } => {
                    let result = in_savepoint(&mut tx, |c| apply::create_product(c, &product, stock, now));
                    if result.is_ok() {
                        // Visible to later commands of this batch; undone below if the commit fails.
                        self.definitions.insert(product.id.clone(), product);
                    }
                    created.extend(result.as_ref().ok().cloned());
                    done.push(Done::CreateProduct(reply, result));
                }
            }
        }
        if let Err(e) = tx.commit() {
            tracing::error!(error = %e, size, "order batch failed to commit");
            self.reload_definitions();
            let why = format!("commit failed: {e}");
            for d in done {
                match d {
                    Done::Place(r, _) => answer(r, backend(&why)),
                    Done::Cancel(r, _) => answer(r, backend(&why)),
                    Done::CreateProduct(r, _) => answer(r, backend(&why)),
                }
            }
            return;
        }
        self.keys.extend(new_keys.iter().map(String::as_str));
        self.publish(&done, created);
        for d in done {
            match d {
                Done::Place(r, res) => answer(r, res.map(|(p, _)| p)),
                Done::Cancel(r, res) => answer(r, res.map(|(o, _)| o)),
                Done::CreateProduct(r, res) => answer(r, res),
            }
        }
    }

    /// Makes committed stock and products visible to readers and the fast path.
    fn publish(&self, done: &[Done], created: Vec<ProductView>) {
        let mut changed = !created.is_empty();
        {
            let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
            for view in created {
                live.upsert(view);
            }
            for d in done {
                let stock = match d {
                    Done::Place(_, Ok((_, s))) | Done::Cancel(_, Ok((_, s))) => s,
                    _ => continue,
                };
                for (id, left) in stock {
                    live.set_stock(id, *left);
                    changed = true;
                }
            }
        }
        if changed {
            self.changes.send_modify(|version| *version += 1);
        }
    }

    fn reload_definitions(&mut self) {
        match rows::load_products(&self.conn) {
            Ok(all) => self.definitions = all.into_iter().map(|v| (v.product.id.clone(), v.product)).collect(),
            Err(e) => tracing::error!(error = %e, "could not reload product definitions"),
        }
    }
}

/// Runs `f` in a savepoint that is released on success and rolled back on error.
fn in_savepoint<T>(
    tx: &mut rusqlite::Transaction<'_>,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let sp = tx.savepoint()?;
    let result = f(&sp)?;
    sp.commit()?;
    Ok(result)
}

fn fail(cmd: Command, why: &str) {
    match cmd {
        Command::Place { reply, .. } => answer(reply, backend(why)),
        Command::Cancel { reply, .. } => answer(reply, backend(why)),
        Command::CreateProduct { reply, .. } => answer(reply, backend(why)),
    }
}

fn backend<T>(why: &str) -> Result<T, StoreError> {
    Err(StoreError::Backend(why.to_owned()))
}

/// Sends an answer; a caller that stopped waiting (client gone) is not an error.
fn answer<T>(reply: Reply<T>, result: Result<T, StoreError>) {
    let _ = reply.send(result);
}
