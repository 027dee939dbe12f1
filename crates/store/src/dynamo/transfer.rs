//! `stampede export` and `stampede import` on the DynamoDB table (docs/operations.md).
//!
//! DynamoDB has no snapshot a scan can read in, so the export reads against a watermark, the
//! time it starts: stock first (every counter, read consistently), then consistent scans, in
//! which orders, accounts, audit entries and events made after the watermark are left out.
//! Changes made during the export to what it keeps (a cancellation, a status step, a holding)
//! may show in it, while the stock was read before them: a cancellation during the export
//! leaves its units out of the exported stock, so the shop may count too little, never too
//! much. Memory holds the exported users' ids, not the orders.
//!
//! The import writes with idempotent batch puts, every item built from the file alone, under
//! a marker item naming the file: running it again after a crash rewrites the same items and
//! finishes the job, while any other table that is not empty is refused.

use super::accounts::{audit_from, audit_item, email_item, user_from, user_item};
use super::catalog;
use super::item::{self, DELIVERED, FAILED, Taken, get_n, get_s, n, opt_s, s};
use super::keys::{self, Item};
use super::op_counts::Op;
use super::{DynamoStore, error};
use crate::transfer::{
    AccountOrder, AuditRecord, EventRecord, Header, Holding, OrderRecord, ProductRecord, Record, RecordSink, SavedCart,
    Shop, UserRecord,
};
use crate::{AuditEntry, IdempotencyKey, Role, StoreError, User};
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use stampede_domain::{Millis, OrderStatus};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

type Out<'a> = &'a mut RecordSink<'a>;

/// Writes every record of the table to `out`, the header first, leaving out what was made
/// after `exported_at` (the watermark).
pub async fn export(store: &DynamoStore, exported_at: Millis, out: Out<'_>) -> Result<(), StoreError> {
    out(&Record::Header(Header::new("dynamodb", exported_at)))?;
    let products = catalog::menu(store, true).await?;
    for view in catalog::with_stock(store, products, true).await? {
        out(&Record::Product(ProductRecord { product: view.product, stock: view.stock }))?;
    }
    let users = export_records(store, exported_at, out).await?;
    export_account_items(store, exported_at, &users, out).await?;
    export_audit(store, exported_at, out).await
}

/// Orders, holdings, events and account profiles made by the watermark; the ids of the
/// accounts written.
async fn export_records(store: &DynamoStore, exported_at: Millis, out: Out<'_>) -> Result<HashSet<String>, StoreError> {
    let mut users = HashSet::new();
    // Orders, holdings, events and account profiles: no record among them needs another first.
    let first = "begins_with(pk, :order) OR begins_with(pk, :hold) OR begins_with(pk, :outbox) \
                 OR (begins_with(pk, :user) AND sk = :profile)";
    let values = [(":order", "ORDER#"), (":hold", "HOLD#"), (":outbox", "OUTBOX#"), (":user", "USER#")];
    let values = values.into_iter().chain([(":profile", keys::USER_SK)]).collect::<Vec<_>>();
    scan(store, first, &values, &mut |item| {
        let pk = get_s(item, keys::PK)?;
        if pk.starts_with("ORDER#") {
            let order = item::order_from(item)?;
            if made_by(&order.id, order.created_at, exported_at) {
                out(&Record::Order(OrderRecord::new(order, item::idempotency_from(item))))?;
            }
        } else if let Some(rest) = pk.strip_prefix("HOLD#") {
            // `HOLD#<product>#<bucket>`: product ids are slugs, so the last `#` ends the id.
            let product_id = rest.rsplit_once('#').map_or(rest, |(id, _)| id).to_owned();
            let (customer_key, quantity) = (get_s(item, keys::SK)?.to_owned(), get_n(item, "qty")?);
            out(&Record::Holding(Holding { customer_key, product_id, quantity }))?;
        } else if pk.starts_with("OUTBOX#") {
            let event = item::event_from(item)?;
            if opt_s(item, "state") != Some(DELIVERED) && event.created_at <= exported_at {
                out(&Record::Event(EventRecord::new(event)))?;
            }
        } else {
            let credentials = user_from(item)?;
            if credentials.user.created_at <= exported_at {
                users.insert(credentials.user.id.clone());
                out(&Record::User(UserRecord::new(credentials.user, credentials.password_hash)))?;
            }
        }
        Ok(())
    })
    .await?;
    Ok(users)
}

/// Orders linked to the written accounts, and their saved carts.
async fn export_account_items(
    store: &DynamoStore,
    exported_at: Millis,
    users: &HashSet<String>,
    out: Out<'_>,
) -> Result<(), StoreError> {
    // What hangs off an account, once every account is written.
    let values = [(":user", "USER#"), (":profile", keys::USER_SK)];
    scan(store, "begins_with(pk, :user) AND sk <> :profile", &values, &mut |item| {
        let user_id = get_s(item, keys::PK)?.trim_start_matches("USER#");
        if !users.contains(user_id) {
            return Ok(());
        }
        let sk = get_s(item, keys::SK)?;
        if let Some(order_id) = sk.strip_prefix(keys::ACCOUNT_ORDER_PREFIX) {
            if made_by(order_id, Millis::MIN, exported_at) {
                out(&Record::AccountOrder(AccountOrder {
                    user_id: user_id.to_owned(),
                    order_id: order_id.to_owned(),
                }))?;
            }
        } else {
            let (cart, updated_at) = (get_s(item, "cart")?.to_owned(), get_n(item, "updated_at")?);
            out(&Record::SavedCart(SavedCart { user_id: user_id.to_owned(), cart, updated_at }))?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

async fn export_audit(store: &DynamoStore, exported_at: Millis, out: Out<'_>) -> Result<(), StoreError> {
    // The audit log in its own order: one partition, read by a query.
    let query = store
        .client
        .query()
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s(keys::AUDIT))
        .consistent_read(true);
    for page in store.query_pages(query, |_| false).await? {
        for entry in page.items().iter().map(audit_from) {
            let AuditEntry { at, actor, action, target, detail, .. } = entry?;
            if at <= exported_at {
                out(&Record::Audit(AuditRecord { at, actor, action, target, detail }))?;
            }
        }
    }
    Ok(())
}

/// Whether an order (or an account's link to it) was made by the watermark: its UUIDv7 id
/// carries the time it was made, which an account's link to it shares; `created_at` too.
fn made_by(id: &str, created_at: Millis, watermark: Millis) -> bool {
    let minted = uuid::Uuid::parse_str(id).ok().filter(|u| u.get_version_num() == 7).and_then(|u| u.get_timestamp());
    let minted = minted.map(|t| {
        let (secs, nanos) = t.to_unix();
        i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1_000) + i64::from(nanos / 1_000_000)
    });
    created_at <= watermark && minted.is_none_or(|at| at <= watermark)
}

/// Every item matching `filter`, read consistently, one page at a time, into `each`.
async fn scan(
    store: &DynamoStore,
    filter: &str,
    values: &[(&str, &str)],
    each: &mut (dyn FnMut(&Item) -> Result<(), StoreError> + Send),
) -> Result<(), StoreError> {
    let mut request = store.client.scan().table_name(store.table()).consistent_read(true).filter_expression(filter);
    for (name, value) in values {
        request = request.expression_attribute_values(*name, s(*value));
    }
    let mut pages = request.into_paginator().send();
    while let Some(page) = pages.next().await {
        store.count(Op::Read);
        for item in page.map_err(|e| store.sdk(e))?.items() {
            each(item)?;
        }
    }
    Ok(())
}

/// What names a file's import on the marker: its source, export time and counts.
fn identity(shop: &Shop) -> String {
    let (source, at) = shop.header.as_ref().map_or(("?", 0), |h| (h.source.as_str(), h.exported_at));
    format!("{source} export of {at} ({})", shop.counts)
}

/// Claims the table for this file's import: `true` if an earlier run of the same file left
/// it unfinished (it is finished now), `false` if the table was empty. Refuses anything else.
async fn begin(store: &DynamoStore, file: &str) -> Result<bool, StoreError> {
    let table = store.table();
    if let Some(marker) = store.get(keys::import_marker()).await? {
        let found = get_s(&marker, "file")?;
        if found == file {
            return Ok(true);
        }
        return Err(StoreError::Conflict(format!(
            "table {table} holds an unfinished import of another file ({found}): run that import again to \
             finish it, or import into a new table"
        )));
    }
    store.count(Op::Read);
    let any = store.client.scan().table_name(table).limit(1).consistent_read(true).send().await;
    let any = any.map_err(|e| store.sdk(e))?;
    if !any.items().is_empty() || any.last_evaluated_key.is_some() {
        return Err(StoreError::Conflict(format!(
            "table {table} is not empty: import into a new table (`stampede dynamodb create-table NAME`; a \
             server started on it with --no-seed leaves it empty)"
        )));
    }
    let mut marker = keys::import_marker();
    marker.insert("file".into(), s(file));
    marker.insert("started_at".into(), n(crate::clock::now_millis()));
    store.count(Op::Write);
    let put = store
        .client
        .put_item()
        .table_name(table)
        .set_item(Some(marker))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    match put {
        Ok(_) => Ok(false),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
            Err(StoreError::Conflict(format!("another import into table {table} started at the same time")))
        }
        Err(e) => Err(store.sdk(e)),
    }
}

/// Puts, 25 to a `BatchWriteItem` (its most), retrying what DynamoDB hands back unprocessed.
struct Batch<'a> {
    store: &'a DynamoStore,
    items: Vec<Item>,
}

impl Batch<'_> {
    async fn put(&mut self, item: Item) -> Result<(), StoreError> {
        self.items.push(item);
        if self.items.len() == 25 {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        let store = self.store;
        let mut requests = self
            .items
            .drain(..)
            .map(|item| {
                let put = PutRequest::builder().set_item(Some(item)).build().map_err(error::build)?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        while !requests.is_empty() {
            store.count(Op::Write);
            let out = store.client.batch_write_item().request_items(store.table(), requests).send().await;
            let out = out.map_err(|e| store.sdk(e))?;
            requests = out.unprocessed_items.and_then(|mut u| u.remove(store.table())).unwrap_or_default();
            if !requests.is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }
}

/// A menu position for the `index`th product of an export made at `exported_at`: shaped like
/// the UUIDv7 `create_product` uses, so imported products keep the file's order and come
/// before any product added after the export.
fn position(exported_at: Millis, index: usize) -> String {
    let ms = u64::try_from(exported_at).unwrap_or(0);
    format!("{:08x}-{:04x}-7000-8000-{index:012x}", (ms >> 16) & 0xffff_ffff, ms & 0xffff)
}

/// Units sold and orders per product, from the orders not cancelled: the counters' sales
/// figures, kept on each product's first counter.
fn sales(shop: &Shop) -> HashMap<&str, (u64, u64)> {
    let mut sold: HashMap<&str, (u64, u64)> = HashMap::new();
    for o in shop.orders.iter().filter(|o| o.order.status != OrderStatus::Cancelled) {
        for (product, units) in units_per_product(o) {
            let entry = sold.entry(product).or_default();
            *entry = (entry.0 + u64::from(units), entry.1 + 1);
        }
    }
    sold
}

fn units_per_product(o: &OrderRecord) -> BTreeMap<&str, u32> {
    let mut units = BTreeMap::new();
    for line in &o.order.lines {
        *units.entry(line.product_id.as_str()).or_default() += line.quantity;
    }
    units
}

/// Writes `shop` into the table, which must be empty (or hold an unfinished import of the same
/// file, which this finishes). `done` hears of each record. Returns whether it resumed. The
/// caller checks the table against the file, then calls [`finish_import`].
pub async fn import(store: &DynamoStore, shop: &Shop, done: &mut (dyn FnMut() + Send)) -> Result<bool, StoreError> {
    let resumed = begin(store, &identity(shop)).await?;
    let exported_at = shop.header.as_ref().map_or(0, |h| h.exported_at);
    let mut batch = Batch { store, items: Vec::new() };
    batch.put_products(shop, exported_at, done).await?;
    batch.put_orders(shop, done).await?;
    let active_admins = batch.put_users(shop, done).await?;
    batch.put_account_records(shop, done).await?;
    batch.put_events(shop, done).await?;
    batch.put_totals(shop, active_admins).await?;
    batch.flush().await?;
    Ok(resumed)
}

/// The import's items, kind by kind in the file's order; `done` hears of each record.
impl Batch<'_> {
    /// Products at their menu positions, with their counters; the first counter carries the
    /// product's sales figures.
    async fn put_products(
        &mut self,
        shop: &Shop,
        exported_at: Millis,
        done: &mut (dyn FnMut() + Send),
    ) -> Result<(), StoreError> {
        let sold = sales(shop);
        for (index, p) in shop.products.iter().enumerate() {
            self.put(catalog::product_item(&p.product, &position(exported_at, index), exported_at)?).await?;
            for (shard, mut counter) in catalog::counter_items(&p.product, p.stock).into_iter().enumerate() {
                if let (0, Some((units, orders))) = (shard, sold.get(p.product.id.as_str())) {
                    counter.insert("sold".into(), n(units));
                    counter.insert("orders".into(), n(orders));
                }
                self.put(counter).await?;
            }
            done();
        }
        Ok(())
    }

    /// Orders, each with its idempotency record when it came with a key.
    async fn put_orders(&mut self, shop: &Shop, done: &mut (dyn FnMut() + Send)) -> Result<(), StoreError> {
        let store = self.store;
        for o in &shop.orders {
            // Units of a live order are taken from each product's first counter, where a
            // cancellation gives them back.
            let taken: Taken = match o.order.status {
                OrderStatus::Cancelled => Taken::new(),
                _ => units_per_product(o).into_iter().map(|(p, units)| (p.to_owned(), vec![(0, units)])).collect(),
            };
            let idempotency = o.idempotency_key.as_ref().map(|key| IdempotencyKey {
                key: key.clone(),
                fingerprint: o.request_fingerprint.clone().unwrap_or_default(),
            });
            self.put(item::order_item(&o.order, idempotency.as_ref(), &taken)?).await?;
            if let Some(idempotency) = idempotency {
                let mut record = keys::idempotency(&idempotency.key);
                record.insert("order_id".into(), s(&o.order.id));
                record.insert("fingerprint".into(), s(&idempotency.fingerprint));
                if let Some(at) = store.expires_at() {
                    record.insert(keys::EXPIRES_AT.into(), n(at));
                }
                self.put(record).await?;
            }
            done();
        }
        Ok(())
    }

    /// Accounts with their email items; how many active admins there are.
    async fn put_users(&mut self, shop: &Shop, done: &mut (dyn FnMut() + Send)) -> Result<u64, StoreError> {
        let mut active_admins = 0u64;
        for u in &shop.users {
            let role = Role::parse(&u.role).ok_or_else(|| StoreError::Backend(format!("role `{}`", u.role)))?;
            let user = User {
                id: u.id.clone(),
                email: u.email.clone(),
                name: u.name.clone(),
                role,
                created_at: u.created_at,
                email_verified: u.email_verified,
                active: u.active,
                must_change_password: u.must_change_password,
            };
            active_admins += u64::from(role == Role::Admin && u.active);
            self.put(user_item(&user, &u.password_hash)).await?;
            self.put(email_item(&u.email, &u.id)).await?;
            done();
        }
        Ok(active_admins)
    }

    /// Accounts' order links, customers' holdings, the audit log and saved carts.
    async fn put_account_records(&mut self, shop: &Shop, done: &mut (dyn FnMut() + Send)) -> Result<(), StoreError> {
        for a in &shop.account_orders {
            self.put(keys::account_order(&a.user_id, &a.order_id)).await?;
            done();
        }
        for h in &shop.holdings {
            let mut holding = keys::holding(&h.product_id, &h.customer_key);
            holding.insert("qty".into(), n(h.quantity));
            self.put(holding).await?;
            done();
        }
        // Ids by file order, as the SQL stores number them.
        for (id, a) in (1..).zip(&shop.audit) {
            self.put(audit_item(id, a.at, &a.actor, &a.action, &a.target, &a.detail)).await?;
            done();
        }
        for c in &shop.saved_carts {
            let mut cart = keys::saved_cart(&c.user_id);
            cart.insert("cart".into(), s(&c.cart));
            cart.insert("updated_at".into(), n(c.updated_at));
            self.put(cart).await?;
            done();
        }
        Ok(())
    }

    async fn put_events(&mut self, shop: &Shop, done: &mut (dyn FnMut() + Send)) -> Result<(), StoreError> {
        for e in &shop.events {
            self.put(event_item(e)?).await?;
            done();
        }
        Ok(())
    }

    /// The items that count over the whole file: the history's start, active admins and the
    /// audit sequence.
    async fn put_totals(&mut self, shop: &Shop, active_admins: u64) -> Result<(), StoreError> {
        // Orders older than the products' `created_at` (the export's time): the order search and
        // flash-sale figures must look back to them.
        if let Some(first) = shop.orders.iter().map(|o| o.order.created_at).min() {
            self.put(super::history::start_marker(first)).await?;
        }
        let mut admins = keys::active_admins();
        admins.insert("n".into(), n(active_admins));
        self.put(admins).await?;
        let mut sequence = keys::audit_sequence();
        sequence.insert("n".into(), n(shop.audit.len()));
        self.put(sequence).await?;
        Ok(())
    }
}

/// An undelivered event's item: pending, or parked in `failed` if it was.
fn event_item(e: &EventRecord) -> Result<Item, StoreError> {
    let mut item = item::event_item(&e.id, &e.event, &e.order_id, &e.payload, e.created_at);
    item.insert("attempts".into(), n(e.attempts));
    item.insert("next_attempt_at".into(), n(e.next_attempt_at));
    item.insert("done_channels".into(), s(serde_json::to_string(&e.done_channels)?));
    if let Some(error) = &e.last_error {
        item.insert("last_error".into(), s(error));
    }
    if let Some(at) = e.failed_at {
        item.insert("failed_at".into(), n(at));
        item.insert("state".into(), s(FAILED));
        item.insert("gsi3pk".into(), s(keys::outbox_partition(FAILED, keys::bucket(&e.id))));
    }
    Ok(item)
}

/// The file an unfinished import was writing into the table, if one is: such a table is not
/// to be served or exported until the import is run again to its end.
pub async fn unfinished_import(store: &DynamoStore) -> Result<Option<String>, StoreError> {
    let marker = store.get(keys::import_marker()).await?;
    Ok(marker.as_ref().and_then(|m| opt_s(m, "file")).map(str::to_owned))
}

/// Ends an import the caller has checked: removes its marker, so the table may be served.
pub async fn finish_import(store: &DynamoStore) -> Result<(), StoreError> {
    store.count(Op::Write);
    let out = store.client.delete_item().table_name(store.table()).set_key(Some(keys::import_marker())).send().await;
    out.map_err(|e| store.sdk(e)).map(drop)
}
