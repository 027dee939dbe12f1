//! The DynamoDB store itself: its settings, the SDK client, the per-instance caches and
//! counters, and the small calls every part makes (get, batch get, paged query, error
//! mapping, change signals). Its `Store`, `Outbox`, `WaitingRoom` and `Mailbox` impls live
//! in mod.rs, which composes the children; the children use this file, never mod.rs, so
//! the module graph has no circle.

use super::error;
use super::keys::Item;
use super::miss_budget::MissBudget;
use super::op_counts::{Counters, Op, OpCounts};
use super::stock_memory::StockMemory;
use crate::{ProductView, StoreError};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::ReturnConsumedCapacity;
use stampede_domain::{Millis, Product};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How the DynamoDB store is set up.
#[derive(Debug, Clone)]
pub struct DynamoConfig {
    /// The table (see `deploy/template.yaml`, or [`create_table`](super::create_table) for tests and local use).
    pub table: String,
    /// Transactions one order may send before it is answered 503: a cancelled one (a counter
    /// short or held by another order) is retried after a jittered pause, so this only runs
    /// out under extreme contention.
    pub max_attempts: u32,
    /// What `Retry-After` tells a client turned away.
    pub retry_after: Duration,
    /// How long menus and product views may show a catalog snapshot (eventually consistent
    /// reads) before it is read again: stock shown may lag by this much. Zero reads every time.
    pub catalog_ttl: Duration,
    /// How long an instance trusts what it learnt about stock: a counter found short is
    /// skipped, a product read sold out is refused without a call. Cancellations on other
    /// instances become sellable here after at most this long.
    pub stock_memory_ttl: Duration,
    /// How long an instance prices orders from a product definition it read before reading it
    /// again: a staff edit (price, archiving, sale rules) made on another instance applies to
    /// this one's orders after at most this long (at once on the instance that made it, and
    /// whenever this one reads its menu snapshot).
    pub definitions_ttl: Duration,
    /// How long delivered events, dev-mailbox messages and idempotency records are kept:
    /// they carry a TTL attribute ([`super::keys::EXPIRES_AT`]) this far ahead, and DynamoDB deletes
    /// them after it (within a few days). `None` keeps them. The same setting as SQLite's
    /// `--notify-retention-days`.
    pub retention: Option<Duration>,
    /// Pending outbox events a relay's claim first reads from each of the index's buckets,
    /// oldest first; it reads more (eight times as many, and so on) only when those hold too
    /// few it can claim. Bounds what a claim reads during a backlog of receipts.
    pub outbox_first_look: u32,
}

impl DynamoConfig {
    /// Defaults for `table`.
    pub fn new(table: impl Into<String>) -> DynamoConfig {
        DynamoConfig {
            table: table.into(),
            max_attempts: 25,
            retry_after: Duration::from_secs(1),
            catalog_ttl: Duration::from_secs(1),
            stock_memory_ttl: Duration::from_secs(2),
            definitions_ttl: Duration::from_secs(10),
            retention: Some(Duration::from_secs(30 * 86_400)),
            outbox_first_look: 16,
        }
    }
}

/// The DynamoDB-backed store.
pub struct DynamoStore {
    pub(super) client: Client,
    pub(super) config: DynamoConfig,
    /// Definitions, and when each was read: an order reads only its stock counters, not the
    /// catalog, until `definitions_ttl` has passed or a menu read brings a newer one.
    pub(super) definitions: RwLock<HashMap<String, Cached>>,
    /// The menu as last read, and when: served to views for `catalog_ttl`.
    pub(super) snapshot: RwLock<Option<(Instant, Vec<ProductView>)>>,
    /// Table reads left for products the snapshot lacks.
    pub(super) misses: Mutex<MissBudget>,
    /// Counters lately found short and products lately found sold out.
    pub(super) memory: Mutex<StockMemory>,
    pub(super) counters: Counters,
    pub(super) changes: tokio::sync::watch::Sender<u64>,
    pub(super) outbox_changes: tokio::sync::watch::Sender<u64>,
}

impl DynamoStore {
    /// A store on `client`'s account and region, using `config.table`.
    pub fn new(client: Client, config: DynamoConfig) -> DynamoStore {
        let memory = Mutex::new(StockMemory::new(config.stock_memory_ttl));
        DynamoStore {
            client,
            config,
            definitions: RwLock::new(HashMap::new()),
            snapshot: RwLock::new(None),
            misses: Mutex::new(MissBudget::new()),
            memory,
            counters: Counters::default(),
            changes: tokio::sync::watch::channel(0).0,
            outbox_changes: tokio::sync::watch::channel(0).0,
        }
    }

    /// A client for the region and credentials the environment names (a Lambda's role), or
    /// for `endpoint_url` when given. TLS through rustls with ring, like the SNS/SES channels.
    pub async fn client(endpoint_url: Option<&str>) -> Client {
        let mut loader = loader();
        if let Some(url) = endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        let sdk = match sdk.region() {
            Some(_) => sdk,
            None => sdk.into_builder().region(aws_config::Region::new("us-east-1")).build(),
        };
        Client::new(&sdk)
    }

    /// A client for a local DynamoDB-compatible server (moto, DynamoDB Local), which accepts
    /// any credentials: fixed dummy ones, so nothing from the environment can leak to it.
    pub async fn local_client(endpoint_url: &str) -> Client {
        let credentials = aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "stampede-local");
        let sdk = loader()
            .endpoint_url(endpoint_url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(credentials)
            .load()
            .await;
        Client::new(&sdk)
    }

    /// A client for `endpoint_url` if given and not empty (a local server, with dummy
    /// credentials: [`DynamoStore::local_client`]), else for the environment's AWS account.
    pub async fn client_or_local(endpoint_url: Option<&str>) -> Client {
        match endpoint_url.filter(|u| !u.is_empty()) {
            Some(url) => DynamoStore::local_client(url).await,
            None => DynamoStore::client(None).await,
        }
    }

    /// The TTL value (epoch seconds) for an item kept for the retention period from now.
    pub(super) fn expires_at(&self) -> Option<u64> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        self.config.retention.map(|keep| (now + keep).as_secs())
    }

    /// DynamoDB calls and capacity units used so far by this instance.
    pub fn op_counts(&self) -> OpCounts {
        self.counters.snapshot()
    }

    /// The pages of `query` until it is done or `enough` says so, each counted as one read
    /// with the capacity it reports: the SDK's paginator with the store's bookkeeping.
    pub(super) async fn query_pages(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        mut enough: impl FnMut(&aws_sdk_dynamodb::operation::query::QueryOutput) -> bool,
    ) -> Result<Vec<aws_sdk_dynamodb::operation::query::QueryOutput>, StoreError> {
        let mut pages = query
            .table_name(self.table())
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            self.count(Op::Read);
            let page = page.map_err(|e| self.sdk(e))?;
            self.counters.consumed(page.consumed_capacity());
            self.counters.queried(page.items().len());
            let done = enough(&page);
            out.push(page);
            if done {
                break;
            }
        }
        Ok(out)
    }

    pub(super) fn count(&self, op: Op) {
        self.counters.count(op);
    }

    pub(super) fn memory(&self) -> std::sync::MutexGuard<'_, StockMemory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn table(&self) -> &str {
        &self.config.table
    }

    pub(super) fn sdk<E, R>(&self, e: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        error::sdk(e, self.config.retry_after)
    }

    /// An update of the one item at `key`, counted as a write here so no caller forgets to;
    /// the caller gives its expressions and sends it.
    pub(super) fn update_item(&self, key: Item) -> UpdateItemFluentBuilder {
        self.count(Op::Write);
        self.client.update_item().table_name(self.table()).set_key(Some(key))
    }

    /// One item by key, read consistently.
    pub(super) async fn get(&self, key: Item) -> Result<Option<Item>, StoreError> {
        self.count(Op::Read);
        let out = self
            .client
            .get_item()
            .table_name(self.table())
            .set_key(Some(key))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| self.sdk(e))?;
        self.counters.consumed(out.consumed_capacity());
        Ok(out.item)
    }

    /// Items by key, in any order; missing ones are left out. `consistent` costs twice the
    /// read units and always hits the partition's leader; without it a read may lag a second.
    pub(super) async fn get_many(&self, keys: Vec<Item>, consistent: bool) -> Result<Vec<Item>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = Vec::with_capacity(keys.len());
        // BatchGetItem takes at most 100 keys and may hand some back unprocessed.
        for chunk in keys.chunks(100) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(consistent)
                    .build()
                    .map_err(error::build)?,
            );
            while let Some(request) = pending.take() {
                self.count(Op::Read);
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(self.table(), request)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(|e| self.sdk(e))?;
                self.counters.consumed(out.consumed_capacity());
                found.extend(out.responses.and_then(|mut r| r.remove(self.table())).unwrap_or_default());
                pending = out.unprocessed_keys.and_then(|mut u| u.remove(self.table())).filter(|k| !k.keys.is_empty());
                if pending.is_some() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        Ok(found)
    }

    /// After this instance changed stock: its own menu shows the change at once (other
    /// instances' snapshots catch up within `catalog_ttl`), and live-stock streams wake.
    /// Makes this instance's live stock follow every instance's sales: every `every`, reads
    /// the catalog snapshot (eventually consistent, as a menu view does) and, when any product's
    /// stock moved, wakes the live-stock streams. For servers running beside others on one
    /// table (`stampede serve --store dynamodb`); a Lambda is frozen between requests and polls
    /// from the browser instead. Stops when the store is dropped.
    pub fn follow_other_instances(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        crate::follow::poll_stock_levels(self, every, |store| store.changes.send_modify(|n| *n = n.wrapping_add(1)))
    }

    pub(super) fn tick_stock(&self) {
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = None;
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(super) fn tick_outbox(&self) {
        self.outbox_changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

fn loader() -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http)
}

/// A definition as this instance last read it.
pub(super) struct Cached {
    pub(super) product: Product,
    /// The item's `updated_at` (its `created_at` if never edited): an eventually consistent
    /// menu read that returns an older version does not replace a newer one.
    pub(super) version: Millis,
    pub(super) read_at: Instant,
}
