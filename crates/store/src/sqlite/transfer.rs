//! `stampede export` and `stampede import` on the SQLite file. The export reads everything in
//! one read transaction (a WAL snapshot: the shop keeps selling meanwhile); the import writes
//! everything in one transaction, so a failure leaves the database as it was.

use super::{accounts::user_row, rows, schema};
use crate::accounts::{USER_COLUMNS, to_user};
use crate::transfer::{
    AccountOrder, AuditRecord, EventRecord, Header, Holding, OrderRecord, ProductRecord, Record, SavedCart, Shop,
    UserRecord,
};
use crate::{IdempotencyKey, StoreError};
use rusqlite::{Connection, OpenFlags, params};
use stampede_domain::Millis;
use std::path::Path;

/// Writes every record of the database at `db` to `out`, the header first.
pub fn export(
    db: &Path,
    exported_at: Millis,
    out: &mut dyn FnMut(&Record) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut conn = open_current(db)?;
    // Every read below sees the snapshot the first one starts.
    let tx = conn.transaction()?;
    out(&Record::Header(Header::new("sqlite", exported_at)))?;
    for view in rows::load_products(&tx)? {
        out(&Record::Product(ProductRecord { product: view.product, stock: view.stock }))?;
    }
    export_orders(&tx, out)?;
    export_users(&tx, out)?;
    export_account_records(&tx, out)?;
    for event in super::outbox_rows::undelivered(&tx)? {
        out(&Record::Event(EventRecord::new(event)))?;
    }
    Ok(())
}

/// The database at `db`, read-only, refused unless its schema is this build's.
fn open_current(db: &Path) -> Result<Connection, StoreError> {
    if !db.exists() {
        return Err(StoreError::NotFound { what: "database", id: db.display().to_string() });
    }
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version != schema::latest_version() {
        return Err(StoreError::Backend(format!(
            "{} has schema version {version}, this build writes {}: start `stampede serve` on it once with this build first",
            db.display(),
            schema::latest_version()
        )));
    }
    Ok(conn)
}

/// Orders in id order, each with its idempotency key.
fn export_orders(tx: &Connection, out: &mut dyn FnMut(&Record) -> Result<(), StoreError>) -> Result<(), StoreError> {
    let mut ids = tx.prepare("SELECT id, idempotency_key, request_fingerprint FROM orders ORDER BY id")?;
    let mut found = ids.query([])?;
    while let Some(r) = found.next()? {
        let id: String = r.get(0)?;
        let fingerprint: Option<String> = r.get(2)?;
        let key = r
            .get::<_, Option<String>>(1)?
            .map(|key| IdempotencyKey { key, fingerprint: fingerprint.unwrap_or_default() });
        let order = rows::load_order(tx, &id)?
            .ok_or_else(|| StoreError::Backend(format!("order {id} vanished inside a read transaction")))?;
        out(&Record::Order(OrderRecord::new(order, key)))?;
    }
    Ok(())
}

fn export_users(tx: &Connection, out: &mut dyn FnMut(&Record) -> Result<(), StoreError>) -> Result<(), StoreError> {
    let mut users = tx.prepare(&format!("SELECT {USER_COLUMNS}, password_hash FROM users ORDER BY id"))?;
    let mut found = users.query([])?;
    while let Some(r) = found.next()? {
        out(&Record::User(UserRecord::new(to_user(user_row(r)?)?, r.get(8)?)))?;
    }
    Ok(())
}

/// Accounts' order links, customers' holdings, the audit log and saved carts.
fn export_account_records(
    tx: &Connection,
    out: &mut dyn FnMut(&Record) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    each(tx, "SELECT user_id, order_id FROM account_orders ORDER BY user_id, order_id", out, |r| {
        Ok(Record::AccountOrder(AccountOrder { user_id: r.get(0)?, order_id: r.get(1)? }))
    })?;
    each(
        tx,
        "SELECT customer_key, product_id, quantity FROM customer_holdings ORDER BY customer_key, product_id",
        out,
        |r| Ok(Record::Holding(Holding { customer_key: r.get(0)?, product_id: r.get(1)?, quantity: r.get(2)? })),
    )?;
    each(tx, "SELECT at, actor, action, target, detail FROM audit_log ORDER BY id", out, |r| {
        Ok(Record::Audit(AuditRecord {
            at: r.get(0)?,
            actor: r.get(1)?,
            action: r.get(2)?,
            target: r.get(3)?,
            detail: r.get(4)?,
        }))
    })?;
    each(tx, "SELECT user_id, cart, updated_at FROM saved_carts ORDER BY user_id", out, |r| {
        Ok(Record::SavedCart(SavedCart { user_id: r.get(0)?, cart: r.get(1)?, updated_at: r.get(2)? }))
    })?;
    Ok(())
}

fn each(
    conn: &Connection,
    sql: &str,
    out: &mut dyn FnMut(&Record) -> Result<(), StoreError>,
    record: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<Record>,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        out(&record(r)?)?;
    }
    Ok(())
}

/// Writes `shop` into the database at `db` (created and migrated if missing), which must hold
/// no products, orders or accounts. One transaction: all of it or nothing. The caller holds
/// the data directory's lock, so no server writes meanwhile. `done` hears of each record.
pub fn import(db: &Path, shop: &Shop, now: Millis, done: &mut dyn FnMut()) -> Result<(), StoreError> {
    let mut conn = open_migrated(db)?;
    let tx = conn.transaction()?;
    refuse_unless_empty(&tx, db)?;
    write_products(&tx, shop, now, done)?;
    for o in &shop.orders {
        rows::insert_order(&tx, &o.order, o.idempotency_key.as_deref(), o.request_fingerprint.as_deref())?;
        done();
    }
    write_users(&tx, shop, done)?;
    write_account_records(&tx, shop, done)?;
    write_events(&tx, shop, done)?;
    tx.commit()?;
    Ok(())
}

/// The database at `db`, its directory and schema created (or upgraded) first.
fn open_migrated(db: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut conn = Connection::open(db)?;
    schema::configure_writer(&conn)?;
    schema::migrate(&mut conn)?;
    Ok(conn)
}

fn refuse_unless_empty(tx: &Connection, db: &Path) -> Result<(), StoreError> {
    let held: i64 = tx.query_row(
        "SELECT (SELECT COUNT(*) FROM products) + (SELECT COUNT(*) FROM orders) + (SELECT COUNT(*) FROM users)",
        [],
        |r| r.get(0),
    )?;
    if held > 0 {
        return Err(StoreError::Conflict(format!(
            "{} is not empty (it has products, orders or accounts): import into a new data directory \
             (a server started there with --no-seed stays empty)",
            db.display()
        )));
    }
    Ok(())
}

/// Products at their menu positions, in the file's order.
fn write_products(tx: &Connection, shop: &Shop, now: Millis, done: &mut dyn FnMut()) -> Result<(), StoreError> {
    for (position, p) in shop.products.iter().enumerate() {
        tx.execute(
            "INSERT INTO products (id, position, definition, stock, created_at, updated_at, stock_shards)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            params![
                p.product.id,
                position + 1,
                serde_json::to_string(&p.product)?,
                p.stock,
                now,
                p.product.stock_shards
            ],
        )?;
        done();
    }
    Ok(())
}

fn write_users(tx: &Connection, shop: &Shop, done: &mut dyn FnMut()) -> Result<(), StoreError> {
    for u in &shop.users {
        tx.execute(
            "INSERT INTO users (id, email, name, role, password_hash, created_at, email_verified, active, must_change_password)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![u.id, u.email, u.name, u.role, u.password_hash, u.created_at, u.email_verified, u.active, u.must_change_password],
        )?;
        done();
    }
    Ok(())
}

/// Accounts' order links, customers' holdings, the audit log and saved carts.
fn write_account_records(tx: &Connection, shop: &Shop, done: &mut dyn FnMut()) -> Result<(), StoreError> {
    for a in &shop.account_orders {
        tx.execute("INSERT INTO account_orders (user_id, order_id) VALUES (?1, ?2)", [&a.user_id, &a.order_id])?;
        done();
    }
    for h in &shop.holdings {
        tx.execute(
            "INSERT INTO customer_holdings (customer_key, product_id, quantity) VALUES (?1, ?2, ?3)",
            params![h.customer_key, h.product_id, h.quantity],
        )?;
        done();
    }
    for a in &shop.audit {
        tx.execute(
            "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![a.at, a.actor, a.action, a.target, a.detail],
        )?;
        done();
    }
    for c in &shop.saved_carts {
        tx.execute(
            "INSERT INTO saved_carts (user_id, cart, updated_at) VALUES (?1, ?2, ?3)",
            params![c.user_id, c.cart, c.updated_at],
        )?;
        done();
    }
    Ok(())
}

/// The outbox, as exported: attempts, failures and channels already done kept.
fn write_events(tx: &Connection, shop: &Shop, done: &mut dyn FnMut()) -> Result<(), StoreError> {
    for e in &shop.events {
        tx.execute(
            "INSERT INTO outbox (id, kind, order_id, payload, created_at, attempts, next_attempt_at, failed_at,
                                 last_error, done_channels)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                e.id,
                e.event,
                e.order_id,
                e.payload.to_string(),
                e.created_at,
                e.attempts,
                e.next_attempt_at,
                e.failed_at,
                e.last_error,
                serde_json::to_string(&e.done_channels)?
            ],
        )?;
        done();
    }
    Ok(())
}
