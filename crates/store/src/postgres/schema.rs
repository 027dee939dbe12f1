//! Versioned migrations, recorded in `schema_migrations`. Applied on start by every
//! instance and by `stampede migrate`; an advisory lock makes instances starting together
//! apply each step once.

use super::error::pg_error;
use crate::StoreError;
use tokio_postgres::Client;

/// Each entry moves the schema one version forward. Append only: never edit a shipped step.
/// Times are Unix milliseconds (`Millis`), money integer minor units, as on SQLite.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE products (
    id           TEXT PRIMARY KEY,
    position     BIGINT GENERATED ALWAYS AS IDENTITY,
    definition   TEXT NOT NULL,                -- JSON of the domain Product
    stock_shards INTEGER NOT NULL CHECK (stock_shards >= 1),
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
-- A product's stock, split over `stock_shards` counter rows: an order draws from one chosen
-- at random, so instances selling a hot product do not all queue on one row lock.
CREATE TABLE product_stock (
    product_id TEXT NOT NULL REFERENCES products (id),
    shard      INTEGER NOT NULL,
    stock      BIGINT NOT NULL CHECK (stock >= 0),
    PRIMARY KEY (product_id, shard)
);
CREATE TABLE orders (
    id                  TEXT PRIMARY KEY,      -- UUIDv7: sorts by creation time
    customer_key        TEXT NOT NULL,
    customer_email      TEXT,
    customer_name       TEXT,
    status              TEXT NOT NULL,
    total_amount        BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    idempotency_key     TEXT UNIQUE,
    request_fingerprint TEXT,
    fulfilment          TEXT                   -- JSON of the domain Fulfilment
);
CREATE INDEX orders_by_customer ON orders (customer_key, id);
CREATE INDEX orders_by_created ON orders (created_at, id);
CREATE INDEX orders_by_status ON orders (status, id);
CREATE TABLE order_lines (
    order_id     TEXT NOT NULL REFERENCES orders (id),
    line_no      INTEGER NOT NULL,
    product_id   TEXT NOT NULL,
    product_name TEXT NOT NULL,
    quantity     BIGINT NOT NULL CHECK (quantity > 0),
    options      TEXT NOT NULL,                -- JSON of the priced SelectedOptions
    unit_amount  BIGINT NOT NULL,
    line_amount  BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_lines_by_product ON order_lines (product_id);
-- Units each customer holds per product; the row is locked while an order of that customer
-- is judged, so concurrent orders of one customer respect a per-customer limit.
CREATE TABLE customer_holdings (
    customer_key TEXT NOT NULL,
    product_id   TEXT NOT NULL,
    quantity     BIGINT NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (customer_key, product_id)
);
-- Transactional outbox: written in the same transaction as the change it announces.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,           -- while claimed: the end of the lease
    delivered_at    BIGINT,
    failed_at       BIGINT,
    last_error      TEXT,
    claim_token     TEXT,
    done_channels   TEXT NOT NULL DEFAULT '[]' -- JSON array of channels that took it
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_failed ON outbox (failed_at) WHERE failed_at IS NOT NULL;
CREATE INDEX outbox_open_by_order ON outbox (order_id, id) WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE TABLE dev_mailbox (
    id         TEXT PRIMARY KEY,               -- UUIDv7, sorts by arrival
    event_id   TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    text_body  TEXT NOT NULL,
    html_body  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (event_id, recipient)
);
"#,
    r#"
-- The customer's phone (delivery needs one) and the pickup or delivery time chosen (Unix ms,
-- UTC; NULL is as soon as possible), as on SQLite.
ALTER TABLE orders ADD COLUMN phone TEXT;
ALTER TABLE orders ADD COLUMN slot_at BIGINT;
-- The key per-customer limits count under, where it differs from customer_key (an email
-- without its +tag): holdings are kept under it, and a cancel gives back to it.
ALTER TABLE orders ADD COLUMN limit_key TEXT;
"#,
    r#"
-- Waiting rooms (#14), as on SQLite: one ticket per customer and product, ordered by the rank
-- its signed ticket gives it (below 2^63), and each room's watermark steps (JSON of the
-- domain RoomState) with the version its conditional saves go by.
CREATE TABLE queue_tickets (
    product_id   TEXT NOT NULL,
    customer_key TEXT NOT NULL,
    rank         BIGINT NOT NULL,
    ticket       TEXT NOT NULL,
    joined_at    BIGINT NOT NULL,
    PRIMARY KEY (product_id, customer_key)
);
CREATE INDEX queue_tickets_by_rank ON queue_tickets (product_id, rank);
CREATE TABLE waiting_rooms (
    product_id TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    version    BIGINT NOT NULL
);
"#,
    r#"
-- Accounts, the back office and analytics, as on SQLite, shared by every instance: customers
-- and staff (emails lower-cased), signed-in sessions by the SHA-256 of their token, the audit
-- log of staff actions, orders placed while signed in, one-time emailed links (by the hash of
-- their token) and carts saved on accounts.
CREATE TABLE users (
    id                   TEXT PRIMARY KEY,     -- UUIDv7
    email                TEXT NOT NULL UNIQUE,
    name                 TEXT,
    role                 TEXT NOT NULL CHECK (role IN ('customer', 'kitchen', 'admin')),
    password_hash        TEXT NOT NULL,        -- argon2id PHC string
    created_at           BIGINT NOT NULL,
    email_verified       BOOLEAN NOT NULL DEFAULT FALSE,
    active               BOOLEAN NOT NULL DEFAULT TRUE,
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE TABLE audit_log (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE account_orders (
    user_id  TEXT NOT NULL REFERENCES users (id),
    order_id TEXT NOT NULL,
    PRIMARY KEY (user_id, order_id)
);
CREATE TABLE email_links (
    token_hash TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    email      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX email_links_by_email ON email_links (email, created_at);
CREATE INDEX email_links_by_expiry ON email_links (expires_at);
CREATE TABLE saved_carts (
    user_id    TEXT PRIMARY KEY,
    cart       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
"#,
    r#"
-- The order by which a waiting-room ticket's holder bought, as on SQLite.
ALTER TABLE queue_tickets ADD COLUMN bought_by TEXT;
-- The marked ones by rank: an advance reads those among the tickets it let in lately.
CREATE INDEX queue_tickets_bought ON queue_tickets (product_id, rank) WHERE bought_by IS NOT NULL;
"#,
];

/// The schema version the last migration leaves behind.
pub fn latest_version() -> i32 {
    MIGRATIONS.len() as i32
}

/// Any constant both `serve` and `migrate` agree on: the key of the advisory lock.
const MIGRATION_LOCK: i64 = 0x5354_414d_5045_4445; // "STAMPEDE"

/// Applies every migration the database has not seen, all in one transaction (PostgreSQL's
/// DDL is transactional, so a failed step leaves the schema as it was). Returns the
/// versions applied.
pub async fn migrate(client: &mut Client) -> Result<Vec<i32>, StoreError> {
    let tx = client.transaction().await.map_err(pg_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(pg_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await
    .map_err(pg_error)?;
    let current: i32 =
        tx.query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[]).await.map_err(pg_error)?.get(0);
    if current > latest_version() {
        return Err(StoreError::Backend(format!(
            "the database's schema is at version {current}, newer than this build knows ({}): upgrade Stampede",
            latest_version()
        )));
    }
    let mut applied = Vec::new();
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as i32 + 1;
        tx.batch_execute(sql).await.map_err(|e| StoreError::Backend(format!("migration {version}: {e}")))?;
        tx.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[&version]).await.map_err(pg_error)?;
        applied.push(version);
    }
    tx.commit().await.map_err(pg_error)?;
    for version in &applied {
        tracing::info!(version, "applied schema migration");
    }
    Ok(applied)
}
