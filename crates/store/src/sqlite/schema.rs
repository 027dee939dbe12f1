//! Connection settings and schema migrations, tracked in SQLite's `user_version`.

use rusqlite::Connection;

/// Each entry moves the schema one version forward. Append only: never edit a shipped step.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE products (
    id          TEXT PRIMARY KEY,
    position    INTEGER NOT NULL,
    definition  TEXT NOT NULL,                 -- JSON of the domain Product
    stock       INTEGER NOT NULL CHECK (stock >= 0),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE orders (
    id                  TEXT PRIMARY KEY,      -- UUIDv7: sorts by creation time, so no time index
    customer_key        TEXT NOT NULL,
    customer_email      TEXT,
    customer_name       TEXT,
    status              TEXT NOT NULL,
    total_amount        INTEGER NOT NULL,
    currency            TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    idempotency_key     TEXT UNIQUE,
    request_fingerprint TEXT
);
CREATE INDEX orders_by_customer ON orders (customer_key, id);
CREATE TABLE order_lines (
    order_id     TEXT NOT NULL REFERENCES orders (id),
    line_no      INTEGER NOT NULL,
    product_id   TEXT NOT NULL,
    product_name TEXT NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    options      TEXT NOT NULL,                -- JSON of the priced SelectedOptions
    unit_amount  INTEGER NOT NULL,
    line_amount  INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;
CREATE INDEX order_lines_by_product ON order_lines (product_id);
-- Units each customer holds per product, kept in step with orders so limits are one lookup.
CREATE TABLE customer_holdings (
    customer_key TEXT NOT NULL,
    product_id   TEXT NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (customer_key, product_id)
) WITHOUT ROWID;
-- Transactional outbox: written in the same transaction as the change it announces.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    failed_at       INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
"#,
    r#"
-- Relay leases: a claim pushes next_attempt_at to the end of its lease and stamps its token;
-- only the token's holder may settle the event.
ALTER TABLE outbox ADD COLUMN claim_token TEXT;
-- JSON array of channels that already took the event, skipped on retries.
ALTER TABLE outbox ADD COLUMN done_channels TEXT NOT NULL DEFAULT '[]';
CREATE INDEX outbox_failed ON outbox (failed_at) WHERE failed_at IS NOT NULL;
-- Finds an order's earlier open event: one order's events are delivered in order.
CREATE INDEX outbox_open_by_order ON outbox (order_id, id) WHERE delivered_at IS NULL AND failed_at IS NULL;
-- What the dev mailbox channel "sent": shown at /dev/mailbox when no mail server is configured.
CREATE TABLE dev_mailbox (
    id         TEXT PRIMARY KEY,               -- UUIDv7, sorts by arrival
    event_id   TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    text_body  TEXT NOT NULL,
    html_body  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (event_id, recipient)
);
"#,
    r#"
-- How the order reaches the customer: JSON of the domain Fulfilment (pickup, or delivery
-- with an address); NULL for orders placed without saying.
ALTER TABLE orders ADD COLUMN fulfilment TEXT;
"#,
    r#"
-- Sales analytics and the orders CSV select orders by placement time. The id cannot serve:
-- the writer mints it after reading the clock, so id order and created_at order may differ
-- within a batch. (created_at, id) also gives the CSV export an exact keyset for paging.
CREATE INDEX orders_by_created ON orders (created_at, id);
"#,
    r#"
-- Customers and staff. Emails are stored lower-cased, as orders key customers.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,            -- UUIDv7
    email         TEXT NOT NULL UNIQUE,
    name          TEXT,
    role          TEXT NOT NULL CHECK (role IN ('customer', 'kitchen', 'admin')),
    password_hash TEXT NOT NULL,               -- argon2id PHC string
    created_at    INTEGER NOT NULL
);
-- Signed-in sessions, by the SHA-256 of their token: the token itself is never stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
-- Every staff action, append only.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
-- The staff order list filters by status, newest first.
CREATE INDEX orders_by_status ON orders (status, id);
"#,
    r#"
-- Stock counters a product is split over on DynamoDB (see Product::stock_shards). SQLite has
-- one writer and needs no split; it keeps the setting so a catalog moves between engines whole.
ALTER TABLE products ADD COLUMN stock_shards INTEGER NOT NULL DEFAULT 1 CHECK (stock_shards >= 1);
"#,
    r#"
-- Whether the account's owner has shown they read its email (a link sent to it was opened).
-- Until then a customer account is not trusted with guest orders placed under that email.
-- Staff accounts are made by an admin, who vouches for the address.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
UPDATE users SET email_verified = 1 WHERE role <> 'customer';
-- Orders placed while signed in: what an account whose email is not verified may see.
CREATE TABLE account_orders (
    user_id  TEXT NOT NULL REFERENCES users (id),
    order_id TEXT NOT NULL,
    PRIMARY KEY (user_id, order_id)
) WITHOUT ROWID;
-- One-time links sent by email (guest order lookup, email verification), by the SHA-256 of
-- their token: the database alone cannot open one.
CREATE TABLE email_links (
    token_hash TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    email      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX email_links_by_email ON email_links (email, created_at);
"#,
    r#"
-- A number the shop can call about the order (required for delivery at checkout), and the
-- pickup or delivery time chosen (Unix ms, UTC); NULL slot is as soon as possible.
ALTER TABLE orders ADD COLUMN phone TEXT;
ALTER TABLE orders ADD COLUMN slot_at INTEGER;
"#,
    r#"
-- The key the order counts under in customer_holdings where it differs from customer_key
-- (the email without its +tag): a cancel takes the units off the same holding.
ALTER TABLE orders ADD COLUMN limit_key TEXT;
"#,
    r#"
-- Staff accounts an admin switched off (kept, for the audit log's sake, but unable to sign
-- in), and accounts whose password an admin reset: the owner chooses a new one first thing.
ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
-- A signed-in customer's cart, in the cart cookie's own format, so it follows them to
-- another browser: merged into that browser's cart when they sign in there.
CREATE TABLE saved_carts (
    user_id    TEXT PRIMARY KEY,
    cart       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    r#"
-- Waiting rooms (#14): one ticket per customer and product, ordered by the rank its signed
-- ticket gives it (fits a signed 64-bit integer: ranks stay below 2^63).
CREATE TABLE queue_tickets (
    product_id   TEXT NOT NULL,
    customer_key TEXT NOT NULL,
    rank         INTEGER NOT NULL,
    ticket       TEXT NOT NULL,
    joined_at    INTEGER NOT NULL,
    PRIMARY KEY (product_id, customer_key)
) WITHOUT ROWID;
CREATE INDEX queue_tickets_by_rank ON queue_tickets (product_id, rank);
-- Each room's serving watermark and its recent steps: JSON of the domain RoomState.
CREATE TABLE waiting_rooms (
    product_id TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    version    INTEGER NOT NULL
);
"#,
    r#"
-- The order by which a waiting-room ticket's holder bought (NULL: none standing): the room
-- counts them as done deciding.
ALTER TABLE queue_tickets ADD COLUMN bought_by TEXT;
-- The marked ones by rank: an advance reads those among the tickets it let in lately.
CREATE INDEX queue_tickets_bought ON queue_tickets (product_id, rank) WHERE bought_by IS NOT NULL;
"#,
];

/// The schema version the last migration leaves behind.
pub fn latest_version() -> usize {
    MIGRATIONS.len()
}

/// Durable settings for the writer: WAL with `synchronous=FULL`, so a committed order
/// survives a process crash and a power cut alike.
pub fn configure_writer(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Each order runs in a savepoint; its statement journal only has to outlive the
    // savepoint, so keep it in memory rather than writing a temp file per order.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // The writer cycles through more distinct statements than rusqlite's default cache of 16.
    conn.set_prepared_statement_cache_capacity(64);
    // Checkpoints run on their own thread (see checkpointer.rs), not inside order commits.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // Keep the WAL file from staying large after a spike.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// The checkpointer's connection only moves WAL frames into the database file.
pub fn configure_checkpointer(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// Reader connections never write, so a bug in a read path cannot change data.
pub fn configure_reader(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "query_only", "ON")?;
    Ok(())
}

/// Applies every migration the database has not seen yet, each in its own transaction.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(version = version + 1, "applied schema migration");
    }
    Ok(())
}
