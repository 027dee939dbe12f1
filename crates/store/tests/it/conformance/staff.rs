//! The staff side of a store: accounts and sessions, the back office and analytics, on
//! SQLite, PostgreSQL (`--features postgres`) and DynamoDB (`--features aws`). Checks are written
//! once (`accounts_checks.rs`, `backoffice_checks.rs`, `analytics_checks.rs`) and each runs
//! on a fresh shop of every such engine.

use async_trait::async_trait;
use stampede_domain::Product;
use stampede_store::{Accounts, Analytics, Backoffice, SqliteAccounts, SqliteConfig, SqliteStore, Store};
use std::sync::Arc;

/// A fresh shop: the same engine behind every trait, and what must outlive it.
pub struct Shop {
    pub store: Arc<dyn Store>,
    pub backoffice: Arc<dyn Backoffice>,
    pub analytics: Arc<dyn Analytics>,
    pub accounts: Arc<dyn Accounts>,
    _guard: Box<dyn std::any::Any + Send>,
}

/// A fresh store with accounts, for the account checks.
pub struct Accounted {
    pub store: Arc<dyn Store>,
    pub accounts: Arc<dyn Accounts>,
    _guard: Box<dyn std::any::Any + Send>,
}

impl Shop {
    /// Just the store and its accounts.
    pub fn accounted(self) -> Accounted {
        Accounted { store: self.store, accounts: self.accounts, _guard: self._guard }
    }
}

pub async fn sqlite_accounts() -> Accounted {
    sqlite(None).await.accounted()
}

#[cfg(feature = "postgres")]
pub async fn postgres_accounts() -> Accounted {
    postgres(None).await.accounted()
}

#[cfg(feature = "aws")]
pub async fn dynamo_accounts() -> Accounted {
    let (store, table) = super::moto::fresh_dynamo(|config| config).await;
    Accounted { store: store.clone(), accounts: store, _guard: Box::new(table) }
}

/// A shop on a fresh DynamoDB table; its history goes in as `stampede import` writes one
/// (order items on the `byDay` index, counters at the stock left, the history marker), since
/// the orders are older than the products' creation.
#[cfg(feature = "aws")]
pub async fn dynamo(history: Option<&History>) -> Shop {
    use stampede_store::DynamoConfig;
    let (store, table) =
        super::moto::fresh_dynamo(|c| DynamoConfig { catalog_ttl: std::time::Duration::ZERO, ..c }).await;
    if let Some(history) = history {
        let shop = history.export();
        stampede_store::dynamo::transfer::import(&store, &shop, &mut || {}).await.unwrap();
        stampede_store::dynamo::transfer::finish_import(&store).await.unwrap();
    }
    Shop {
        store: store.clone(),
        backoffice: store.clone(),
        analytics: store.clone(),
        accounts: store,
        _guard: Box::new(table),
    }
}

#[cfg(feature = "aws")]
impl History {
    /// The history as an export file holds it: products at the stock left, every past order.
    fn export(&self) -> stampede_store::transfer::Shop {
        use stampede_domain::{Currency, Customer, Money, OrderLine, OrderStatus, SelectedOption};
        use stampede_store::Order;
        use stampede_store::transfer::{Header, OrderRecord, ProductRecord, Record, Shop};
        // Exported now: the products were made after the orders, as in a real import.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let mut records = vec![Record::Header(Header::new("test", now))];
        for (p, stock) in &self.products {
            let left = self.stock_left.iter().find(|(id, _)| *id == p.id).map_or(*stock, |(_, left)| *left);
            records.push(Record::Product(ProductRecord { product: p.clone(), stock: left }));
        }
        for o in &self.orders {
            let cur = Currency::parse(o.lines[0].4).unwrap();
            let lines = o
                .lines
                .iter()
                .map(|l| OrderLine {
                    product_id: l.0.into(),
                    product_name: l.1.into(),
                    quantity: l.2,
                    options: serde_json::from_str::<Vec<SelectedOption>>(&l.options_json()).unwrap(),
                    unit_price: Money::new(l.3, Currency::parse(l.4).unwrap()),
                    line_total: Money::new(i64::from(l.2) * l.3, Currency::parse(l.4).unwrap()),
                })
                .collect();
            let order = Order {
                id: o.id.into(),
                customer: Customer::with_email("ana@example.com", Some("Ana")).unwrap(),
                lines,
                total: Money::new(o.total(), cur),
                status: OrderStatus::parse(o.status).unwrap(),
                fulfilment: None,
                phone: None,
                slot: None,
                created_at: o.at,
                updated_at: o.at,
            };
            records.push(Record::Order(OrderRecord::new(order, None)));
        }
        let mut shop = Shop::default();
        for (n, record) in records.iter().enumerate() {
            shop.push_line(n + 1, &record.to_line().unwrap()).unwrap();
        }
        shop
    }
}

/// A past order written straight into the tables, at a chosen time, for analytics figures.
pub struct PastOrder {
    pub id: &'static str,
    pub at: i64,
    pub status: &'static str,
    pub lines: Vec<PastLine>,
}

/// A stored line: product, name, quantity, unit price, currency, options as (group, choice).
pub struct PastLine(
    pub &'static str,
    pub &'static str,
    pub u32,
    pub i64,
    pub &'static str,
    pub &'static [(&'static str, &'static str)],
);

/// A shop's history for analytics: products (with stock), past orders, stock left after them.
pub struct History {
    pub products: Vec<(Product, u32)>,
    pub orders: Vec<PastOrder>,
    pub stock_left: Vec<(&'static str, u32)>,
}

impl PastOrder {
    pub fn total(&self) -> i64 {
        self.lines.iter().map(|l| i64::from(l.2) * l.3).sum()
    }
}

impl PastLine {
    /// The options as stored: the JSON of the priced SelectedOptions.
    pub fn options_json(&self) -> String {
        let items: Vec<_> = self
            .5
            .iter()
            .map(|(g, c)| {
                serde_json::json!({"group_id": g, "group_name": g.to_uppercase(), "choice_id": c,
                                   "choice_name": c.to_uppercase(), "price_delta": 0})
            })
            .collect();
        serde_json::Value::Array(items).to_string()
    }
}

/// Writes a history's orders and stock levels into an engine's tables.
#[async_trait]
trait Rows {
    async fn write(&self, history: &History);
}

pub async fn sqlite(history: Option<&History>) -> Shop {
    let dir = tempfile::tempdir().unwrap();
    if let Some(history) = history {
        let store = SqliteStore::open(SqliteConfig::in_dir(dir.path())).unwrap();
        for (p, stock) in &history.products {
            store.create_product(p.clone(), *stock).await.unwrap();
        }
        drop(store);
        SqliteRows(dir.path().join("stampede.db")).write(history).await;
    }
    // Opened after the rows are written: the store keeps its catalog in memory.
    let store = Arc::new(SqliteStore::open(SqliteConfig::in_dir(dir.path())).unwrap());
    let accounts = Arc::new(SqliteAccounts::open(&dir.path().join("stampede.db")).unwrap());
    Shop { store: store.clone(), backoffice: store.clone(), analytics: store, accounts, _guard: Box::new(dir) }
}

struct SqliteRows(std::path::PathBuf);

#[async_trait]
impl Rows for SqliteRows {
    async fn write(&self, history: &History) {
        use rusqlite::params;
        let conn = rusqlite::Connection::open(&self.0).unwrap();
        for o in &history.orders {
            conn.execute(
                "INSERT INTO orders (id, customer_key, customer_email, customer_name, status, total_amount, currency,
                                     created_at, updated_at)
                 VALUES (?1, 'ana@example.com', 'ana@example.com', 'Ana', ?2, ?3, ?4, ?5, ?5)",
                params![o.id, o.status, o.total(), o.lines[0].4, o.at],
            )
            .unwrap();
            for (n, l) in o.lines.iter().enumerate() {
                conn.execute(
                    "INSERT INTO order_lines (order_id, line_no, product_id, product_name, quantity, options,
                                              unit_amount, line_amount, currency)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![o.id, n, l.0, l.1, l.2, l.options_json(), l.3, i64::from(l.2) * l.3, l.4],
                )
                .unwrap();
            }
        }
        for (id, stock) in &history.stock_left {
            conn.execute("UPDATE products SET stock = ?2 WHERE id = ?1", params![id, stock]).unwrap();
        }
    }
}

#[cfg(feature = "postgres")]
pub async fn postgres(history: Option<&History>) -> Shop {
    let url = super::pg::fresh_database().await;
    let store =
        Arc::new(stampede_store::PostgresStore::connect(stampede_store::PostgresConfig::new(&url)).await.unwrap());
    if let Some(history) = history {
        for (p, stock) in &history.products {
            store.create_product(p.clone(), *stock).await.unwrap();
        }
        PostgresRows(url.clone()).write(history).await;
    }
    Shop {
        store: store.clone(),
        backoffice: store.clone(),
        analytics: store.clone(),
        accounts: store,
        _guard: Box::new(url),
    }
}

#[cfg(feature = "postgres")]
struct PostgresRows(String);

#[cfg(feature = "postgres")]
#[async_trait]
impl Rows for PostgresRows {
    async fn write(&self, history: &History) {
        let (client, connection) = tokio_postgres::connect(&self.0, tokio_postgres::NoTls).await.unwrap();
        let driver = tokio::spawn(connection);
        for o in &history.orders {
            client
                .execute(
                    "INSERT INTO orders (id, customer_key, customer_email, customer_name, status, total_amount,
                                         currency, created_at, updated_at)
                     VALUES ($1, 'ana@example.com', 'ana@example.com', 'Ana', $2, $3, $4, $5, $5)",
                    &[&o.id, &o.status, &o.total(), &o.lines[0].4, &o.at],
                )
                .await
                .unwrap();
            for (n, l) in o.lines.iter().enumerate() {
                client
                    .execute(
                        "INSERT INTO order_lines (order_id, line_no, product_id, product_name, quantity, options,
                                                  unit_amount, line_amount, currency)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        &[
                            &o.id,
                            &(n as i32),
                            &l.0,
                            &l.1,
                            &i64::from(l.2),
                            &l.options_json(),
                            &l.3,
                            &(i64::from(l.2) * l.3),
                            &l.4,
                        ],
                    )
                    .await
                    .unwrap();
            }
        }
        // Every product of a history has one counter.
        for (id, stock) in &history.stock_left {
            client
                .execute("UPDATE product_stock SET stock = $2 WHERE product_id = $1", &[id, &i64::from(*stock)])
                .await
                .unwrap();
        }
        drop(client);
        let _ = driver.await;
    }
}
