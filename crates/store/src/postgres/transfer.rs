//! `stampede export` and `stampede import` on a PostgreSQL database. The export reads in one
//! REPEATABLE READ transaction (one snapshot while instances keep selling); the import writes
//! in one transaction, so a failure leaves the database as it was.

use super::error::pg_error;
use super::store::{connect_one, snapshot};
use super::{accounts::user_row, rows, schema};
use crate::accounts::{USER_COLUMNS, to_user};
use crate::shards;
use crate::transfer::{
    AccountOrder, AuditRecord, EventRecord, Header, Holding, OrderRecord, ProductRecord, Record, RecordSink, SavedCart,
    Shop, UserRecord,
};
use crate::{IdempotencyKey, Order, StoreError};
use deadpool_postgres::ClientWrapper;
use stampede_domain::{Millis, Phone};
use tokio_postgres::{Row, Transaction};

/// Writes every record of the database at `url` to `out`, the header first.
pub async fn export(url: &str, exported_at: Millis, out: &mut RecordSink<'_>) -> Result<(), StoreError> {
    let (client, driver) = connect_one(url).await?;
    // The rows' readers take a connection with a statement cache, as the pool's are; the
    // wrapper aborts the handle it holds when dropped, so it gets a finished one and this
    // function still waits for the connection to close cleanly.
    let mut client = ClientWrapper::new(client, tokio::spawn(async {}));
    let tx = snapshot(&mut client).await?;
    out(&Record::Header(Header::new("postgres", exported_at)))?;
    for view in rows::products(&tx).await? {
        out(&Record::Product(ProductRecord { product: view.product, stock: view.stock }))?;
    }
    // Ordered as SQLite orders text (bytewise), so exports of one shop from either are equal.
    for r in query(&tx, "SELECT id, idempotency_key, request_fingerprint FROM orders ORDER BY id COLLATE \"C\"").await?
    {
        let id: &str = r.get(0);
        let key = r
            .get::<_, Option<String>>(1)
            .map(|key| IdempotencyKey { key, fingerprint: r.get::<_, Option<String>>(2).unwrap_or_default() });
        let order = rows::load_order(&tx, id)
            .await?
            .ok_or_else(|| StoreError::Backend(format!("order {id} vanished inside a snapshot")))?;
        out(&Record::Order(OrderRecord::new(order, key)))?;
    }
    let users = format!("SELECT {USER_COLUMNS}, password_hash FROM users ORDER BY id COLLATE \"C\"");
    for r in query(&tx, &users).await? {
        out(&Record::User(UserRecord::new(to_user(user_row(&r))?, r.get(8))))?;
    }
    let sql = "SELECT user_id, order_id FROM account_orders ORDER BY user_id COLLATE \"C\", order_id COLLATE \"C\"";
    for r in query(&tx, sql).await? {
        out(&Record::AccountOrder(AccountOrder { user_id: r.get(0), order_id: r.get(1) }))?;
    }
    let sql = "SELECT customer_key, product_id, quantity FROM customer_holdings
               ORDER BY customer_key COLLATE \"C\", product_id COLLATE \"C\"";
    for r in query(&tx, sql).await? {
        let quantity = rows::count(r.get(2))?;
        out(&Record::Holding(Holding { customer_key: r.get(0), product_id: r.get(1), quantity }))?;
    }
    for r in query(&tx, "SELECT at, actor, action, target, detail FROM audit_log ORDER BY id").await? {
        out(&Record::Audit(AuditRecord {
            at: r.get(0),
            actor: r.get(1),
            action: r.get(2),
            target: r.get(3),
            detail: r.get(4),
        }))?;
    }
    for r in query(&tx, "SELECT user_id, cart, updated_at FROM saved_carts ORDER BY user_id COLLATE \"C\"").await? {
        out(&Record::SavedCart(SavedCart { user_id: r.get(0), cart: r.get(1), updated_at: r.get(2) }))?;
    }
    for event in super::outbox::undelivered(&tx).await? {
        out(&Record::Event(EventRecord::new(event)))?;
    }
    tx.commit().await.map_err(pg_error)?;
    drop(client);
    let _ = driver.await;
    Ok(())
}

async fn query(tx: &Transaction<'_>, sql: &str) -> Result<Vec<Row>, StoreError> {
    tx.query(sql, &[]).await.map_err(pg_error)
}

/// Writes `shop` into the database at `url` (its schema created or upgraded first), which
/// must hold no products, orders or accounts. One transaction: all of it or nothing. Stock is
/// split over each product's `stockShards` counters. `done` hears of each record.
pub async fn import(url: &str, shop: &Shop, now: Millis, done: &mut (dyn FnMut() + Send)) -> Result<(), StoreError> {
    let (mut client, driver) = connect_one(url).await?;
    schema::migrate(&mut client).await?;
    let tx = client.transaction().await.map_err(pg_error)?;
    // Blocks instances' writes meanwhile, and a second import started at once waits here, then
    // finds this one's rows and is refused.
    tx.execute("LOCK TABLE products, orders, users IN EXCLUSIVE MODE", &[]).await.map_err(pg_error)?;
    let held: i64 = tx
        .query_one(
            "SELECT (SELECT COUNT(*) FROM products) + (SELECT COUNT(*) FROM orders) + (SELECT COUNT(*) FROM users)",
            &[],
        )
        .await
        .map_err(pg_error)?
        .get(0);
    if held > 0 {
        return Err(StoreError::Conflict(
            "the database is not empty (it has products, orders or accounts): import into a new database \
             (an instance started on it with --no-seed leaves it empty)"
                .into(),
        ));
    }
    write_all(&tx, shop, now, done).await?;
    tx.commit().await.map_err(pg_error)?;
    drop(client);
    let _ = driver.await;
    Ok(())
}

/// Writes every record of `shop`, table by table in the file's order; `done` hears of each.
async fn write_all(
    tx: &Transaction<'_>,
    shop: &Shop,
    now: Millis,
    done: &mut (dyn FnMut() + Send),
) -> Result<(), StoreError> {
    write_products(tx, shop, now, done).await?;
    write_orders(tx, shop, done).await?;
    write_users(tx, shop, done).await?;
    write_account_records(tx, shop, done).await?;
    write_events(tx, shop, done).await
}

/// Products, each with its stock split over its counters.
async fn write_products(
    tx: &Transaction<'_>,
    shop: &Shop,
    now: Millis,
    done: &mut (dyn FnMut() + Send),
) -> Result<(), StoreError> {
    // Inserted in file order, so the menu's `position` keeps the export's order.
    let product = tx
        .prepare(
            "INSERT INTO products (id, definition, stock_shards, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .await
        .map_err(pg_error)?;
    let counter = tx
        .prepare("INSERT INTO product_stock (product_id, shard, stock) VALUES ($1, $2, $3)")
        .await
        .map_err(pg_error)?;
    for p in &shop.products {
        let shards_n = p.product.stock_shards.max(1);
        let definition = serde_json::to_string(&p.product)?;
        tx.execute(&product, &[&p.product.id, &definition, &(shards_n as i32), &now]).await.map_err(pg_error)?;
        for (shard, level) in shards::split(p.stock, shards_n).into_iter().enumerate() {
            tx.execute(&counter, &[&p.product.id, &(shard as i32), &i64::from(level)]).await.map_err(pg_error)?;
        }
        done();
    }
    Ok(())
}

/// Orders with their lines.
async fn write_orders(tx: &Transaction<'_>, shop: &Shop, done: &mut (dyn FnMut() + Send)) -> Result<(), StoreError> {
    let order = tx
        .prepare(
            "INSERT INTO orders (id, customer_key, customer_email, customer_name, status, total_amount, currency,
                                 created_at, updated_at, idempotency_key, request_fingerprint, fulfilment, phone,
                                 slot_at, limit_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .await
        .map_err(pg_error)?;
    let line = tx
        .prepare(
            "INSERT INTO order_lines (order_id, line_no, product_id, product_name, quantity, options, unit_amount,
                                      line_amount, currency)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .await
        .map_err(pg_error)?;
    for o in &shop.orders {
        let ord = &o.order;
        let c = &ord.customer;
        let fulfilment = ord.fulfilment.as_ref().map(serde_json::to_string).transpose()?;
        tx.execute(
            &order,
            &[
                &ord.id,
                &c.key.0,
                &c.email,
                &c.name,
                &ord.status.as_str(),
                &ord.total.amount,
                &ord.total.currency.as_str(),
                &ord.created_at,
                &ord.updated_at,
                &o.idempotency_key,
                &o.request_fingerprint,
                &fulfilment,
                &ord.phone.as_ref().map(Phone::as_str),
                &ord.slot,
                &c.limit_key.as_ref().map(|k| k.0.as_str()),
            ],
        )
        .await
        .map_err(pg_error)?;
        write_lines(tx, &line, ord).await?;
        done();
    }
    Ok(())
}

/// An order's lines, with the prepared `INSERT INTO order_lines`.
async fn write_lines(tx: &Transaction<'_>, line: &tokio_postgres::Statement, ord: &Order) -> Result<(), StoreError> {
    for (n, l) in ord.lines.iter().enumerate() {
        let options = serde_json::to_string(&l.options)?;
        tx.execute(
            line,
            &[
                &ord.id,
                &(n as i32),
                &l.product_id,
                &l.product_name,
                &i64::from(l.quantity),
                &options,
                &l.unit_price.amount,
                &l.line_total.amount,
                &l.unit_price.currency.as_str(),
            ],
        )
        .await
        .map_err(pg_error)?;
    }
    Ok(())
}

async fn write_users(tx: &Transaction<'_>, shop: &Shop, done: &mut (dyn FnMut() + Send)) -> Result<(), StoreError> {
    let user = tx
        .prepare(
            "INSERT INTO users (id, email, name, role, password_hash, created_at, email_verified, active,
                                must_change_password)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .await
        .map_err(pg_error)?;
    for u in &shop.users {
        let row: [&(dyn tokio_postgres::types::ToSql + Sync); 9] = [
            &u.id,
            &u.email,
            &u.name,
            &u.role,
            &u.password_hash,
            &u.created_at,
            &u.email_verified,
            &u.active,
            &u.must_change_password,
        ];
        tx.execute(&user, &row).await.map_err(pg_error)?;
        done();
    }
    Ok(())
}

/// What hangs off accounts and customers: orders linked to accounts, per-customer holdings,
/// the audit log and saved carts.
async fn write_account_records(
    tx: &Transaction<'_>,
    shop: &Shop,
    done: &mut (dyn FnMut() + Send),
) -> Result<(), StoreError> {
    let link = tx.prepare("INSERT INTO account_orders (user_id, order_id) VALUES ($1, $2)").await.map_err(pg_error)?;
    for a in &shop.account_orders {
        tx.execute(&link, &[&a.user_id, &a.order_id]).await.map_err(pg_error)?;
        done();
    }
    let holding = tx
        .prepare("INSERT INTO customer_holdings (customer_key, product_id, quantity) VALUES ($1, $2, $3)")
        .await
        .map_err(pg_error)?;
    for h in &shop.holdings {
        tx.execute(&holding, &[&h.customer_key, &h.product_id, &i64::from(h.quantity)]).await.map_err(pg_error)?;
        done();
    }
    let audit = tx
        .prepare("INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)")
        .await
        .map_err(pg_error)?;
    for a in &shop.audit {
        tx.execute(&audit, &[&a.at, &a.actor, &a.action, &a.target, &a.detail]).await.map_err(pg_error)?;
        done();
    }
    let cart = tx
        .prepare("INSERT INTO saved_carts (user_id, cart, updated_at) VALUES ($1, $2, $3)")
        .await
        .map_err(pg_error)?;
    for c in &shop.saved_carts {
        tx.execute(&cart, &[&c.user_id, &c.cart, &c.updated_at]).await.map_err(pg_error)?;
        done();
    }
    Ok(())
}

/// The outbox, as exported: attempts, failures and channels already done kept.
async fn write_events(tx: &Transaction<'_>, shop: &Shop, done: &mut (dyn FnMut() + Send)) -> Result<(), StoreError> {
    let event = tx
        .prepare(
            "INSERT INTO outbox (id, kind, order_id, payload, created_at, attempts, next_attempt_at, failed_at,
                                 last_error, done_channels)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .await
        .map_err(pg_error)?;
    for e in &shop.events {
        let attempts = i32::try_from(e.attempts).unwrap_or(i32::MAX);
        let (payload, channels) = (e.payload.to_string(), serde_json::to_string(&e.done_channels)?);
        let row: [&(dyn tokio_postgres::types::ToSql + Sync); 10] = [
            &e.id,
            &e.event,
            &e.order_id,
            &payload,
            &e.created_at,
            &attempts,
            &e.next_attempt_at,
            &e.failed_at,
            &e.last_error,
            &channels,
        ];
        tx.execute(&event, &row).await.map_err(pg_error)?;
        done();
    }
    Ok(())
}
