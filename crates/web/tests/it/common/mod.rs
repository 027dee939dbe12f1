//! `TestApp`: the real router served on a random loopback port over a fresh SQLite file, and
//! the helpers of tests that drive it (`browser` for the HTML pages). The stampede crate's
//! tests include this file too (its `tests/it/common/mod.rs`), for the tests that need the
//! router next to the outbox relay or the binary.
#![allow(dead_code)]

pub mod browser;

use reqwest::{Client, Response};
use serde_json::{Value, json};
use stampede_domain::{Currency, Money, Product, SaleRules};
use stampede_store::{Role, SqliteAccounts, SqliteConfig, SqliteStore, Store, User};
use stampede_web::AppState;
use stampede_web::auth::Auth;
use stampede_web::auth::cookies::CookiePolicy;
use stampede_web::auth::login_limits::{LoginLimits, LoginPolicy};
use stampede_web::rate_limit::OrderRateLimits;
use std::path::PathBuf;
use std::sync::Arc;

pub const ADMIN_TOKEN: &str = "test-admin-token";

/// The password of the accounts the tests create (long enough for the password rule).
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub store: Arc<SqliteStore>,
    pub db_path: PathBuf,
    /// The server's signing secret, so tests can build what the server would sign.
    pub signer: stampede_domain::Signer,
    _dir: Option<tempfile::TempDir>,
}

impl TestApp {
    /// An empty shop with default settings.
    pub async fn start() -> TestApp {
        TestApp::with_config(|_| {}).await
    }

    /// An empty shop whose app state `tune` adjusts (shop settings, say).
    pub async fn start_with(tune: impl FnOnce(AppState) -> AppState) -> TestApp {
        TestApp::in_new_dir(|_| {}, false, LoginPolicy::default(), tune).await
    }

    /// An empty shop; `tune` adjusts the store settings first.
    pub async fn with_config(tune: impl FnOnce(&mut SqliteConfig)) -> TestApp {
        TestApp::in_new_dir(tune, false, LoginPolicy::default(), |state| state).await
    }

    /// An empty shop with these sign-in limits.
    pub async fn with_login(login: LoginPolicy) -> TestApp {
        TestApp::in_new_dir(|_| {}, false, login, |state| state).await
    }

    /// A fresh store in a temporary directory that lives as long as the app: `config`
    /// adjusts the store settings, `demo` seeds the demo shop, and the rest is
    /// [`TestApp::serve_tuned`] without order rate limits.
    async fn in_new_dir(
        config: impl FnOnce(&mut SqliteConfig),
        demo: bool,
        login: LoginPolicy,
        tune: impl FnOnce(AppState) -> AppState,
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = SqliteConfig::in_dir(dir.path());
        config(&mut settings);
        let db_path = settings.path.clone();
        let store = Arc::new(SqliteStore::open(settings).unwrap());
        if demo {
            stampede_store::seed::demo_shop(store.as_ref()).await.unwrap();
        }
        let mut app = TestApp::serve_tuned(store, &db_path, OrderRateLimits::off(), login, tune).await;
        app._dir = Some(dir);
        app
    }

    /// Another router over an existing store, with the given order rate limits.
    pub async fn serve(store: Arc<SqliteStore>, db: &std::path::Path, limits: OrderRateLimits) -> TestApp {
        TestApp::serve_with(store, db, limits, LoginPolicy::default()).await
    }

    /// The demo shop, served with the state `tune` adjusts (CORS, rate limits, ...).
    pub async fn pizza_shop_with(tune: impl FnOnce(AppState) -> AppState) -> TestApp {
        TestApp::in_new_dir(|_| {}, true, LoginPolicy::default(), tune).await
    }

    /// Another router over an existing store, with order rate limits and sign-in limits.
    pub async fn serve_with(
        store: Arc<SqliteStore>,
        db: &std::path::Path,
        limits: OrderRateLimits,
        login: LoginPolicy,
    ) -> TestApp {
        TestApp::serve_tuned(store, db, limits, login, |state| state).await
    }

    /// [`TestApp::serve_with`], with `tune` adjusting the app state last.
    pub async fn serve_tuned(
        store: Arc<SqliteStore>,
        db: &std::path::Path,
        limits: OrderRateLimits,
        login: LoginPolicy,
        tune: impl FnOnce(AppState) -> AppState,
    ) -> TestApp {
        let auth = Auth {
            accounts: Arc::new(SqliteAccounts::open(db).unwrap()),
            backoffice: Some(store.clone()),
            cookies: CookiePolicy::default(),
            limits: LoginLimits::new(login),
            oidc: None,
        };
        let signer = stampede_web::random_signer();
        let state = AppState::new(store.clone(), Some(Arc::from(ADMIN_TOKEN)))
            .with_signer(signer.clone())
            .with_order_limits(limits)
            .with_dev_mailbox(stampede_web::DevMailbox::Open)
            .with_auth(auth);
        let state = tune(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = stampede_web::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = Client::builder().pool_max_idle_per_host(64).build().unwrap();
        TestApp { base: format!("http://{addr}"), client, store, db_path: db.to_owned(), signer, _dir: None }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Adds a product without options.
    pub async fn add_product(&self, id: &str, cents: i64, stock: u32, sale: SaleRules) {
        let product = Product {
            sale,
            ..Product::new(id, format!("Product {id}"), "flash-sale", Money::new(cents, Currency::USD))
        };
        self.store.create_product(product, stock).await.unwrap();
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn order(&self, body: &Value, key: Option<&str>) -> Response {
        let mut req = self.client.post(self.url("/api/orders")).json(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        req.send().await.unwrap()
    }

    /// `POST /api/orders/{id}/cancel`, with the order's access token when given.
    pub async fn cancel(&self, id: &str, token: Option<&str>) -> Response {
        let mut req = self.client.post(self.url(&format!("/api/orders/{id}/cancel")));
        if let Some(t) = token {
            req = req.header("Order-Token", t);
        }
        req.send().await.unwrap()
    }

    pub async fn stock(&self, id: &str) -> u64 {
        let body: Value = self.get(&format!("/api/products/{id}")).await.json().await.unwrap();
        body["stock"].as_u64().unwrap()
    }

    /// Counts rows straight from the database file.
    pub fn count(&self, sql: &str) -> i64 {
        let conn = rusqlite::Connection::open(&self.db_path).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    pub fn order_rows(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM orders")
    }
}

/// A one-item order in the full form.
/// Sends `req` and reads the answer's body as JSON, whatever its status.
pub async fn send_json(req: reqwest::RequestBuilder) -> Value {
    req.send().await.unwrap().json().await.unwrap()
}

/// Sends `req` and reads the answer's body as text, whatever its status.
pub async fn send_text(req: reqwest::RequestBuilder) -> String {
    req.send().await.unwrap().text().await.unwrap()
}

pub fn order_body(email: &str, product: &str, quantity: i64) -> Value {
    json!({"customer": {"email": email, "name": "Test"}, "items": [{"productId": product, "quantity": quantity}]})
}

/// Ana's delivery, as the checkout form sends it.
pub const DELIVERY_FORM: [(&str, &str); 7] = [
    ("name", "Ana"),
    ("email", "ana@example.com"),
    ("phone", "555 0100"),
    ("fulfilment", "delivery"),
    ("address", "1 Main St"),
    ("city", "Springfield"),
    ("postcode", "12345"),
];

/// The same delivery as the API's `fulfilment` field.
pub fn delivery() -> Value {
    json!({"type": "delivery", "address": "1 Main St", "city": "Springfield", "postcode": "12345", "phone": "555 0100"})
}

/// Reads the stream until an event whose data satisfies `want`, or fails after 5 s.
pub async fn next_stock(resp: &mut Response, buffer: &mut String, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                let levels: Value = serde_json::from_str(data).unwrap();
                if want(&levels) {
                    assert!(event.contains("event: stock"));
                    return levels;
                }
            }
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let chunk = tokio::time::timeout(left, resp.chunk()).await.expect("an event within 5 s").unwrap().unwrap();
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

/// Asserts a problem+json response with the given status and type, returning the body.
pub async fn expect_problem(resp: Response, status: u16, kind: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status for {kind}");
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(ct, "application/problem+json", "content type for {kind}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["type"], format!("/problems/{kind}"), "{body}");
    assert_eq!(body["status"], status);
    assert!(!body["title"].as_str().unwrap().is_empty());
    assert!(!body["detail"].as_str().unwrap().is_empty());
    body
}

/// Polls `check` until it returns `Some`, failing the test after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {secs} s waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

impl TestApp {
    /// The shop with the demo menu (pizzas with options).
    pub async fn pizza_shop() -> TestApp {
        let app = TestApp::start().await;
        stampede_store::seed::demo_shop(app.store.as_ref()).await.unwrap();
        app
    }

    /// Outbox rows in a state, straight from the database.
    pub fn outbox(&self, filter: &str) -> i64 {
        self.count(&format!("SELECT COUNT(*) FROM outbox WHERE {filter}"))
    }

    /// Admin POST with the bearer token.
    pub async fn admin_post(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).bearer_auth(ADMIN_TOKEN).json(body).send().await.unwrap()
    }

    /// Creates an account with [`PASSWORD`] straight in the store, as `stampede admin
    /// create-user` does.
    pub async fn create_user(&self, email: &str, name: Option<&str>, role: Role) -> User {
        let accounts = SqliteAccounts::open(&self.db_path).unwrap();
        stampede_web::auth::register(&accounts, email, name, PASSWORD, role).await.unwrap()
    }

    /// Admin GET with the bearer token.
    pub async fn admin_get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).bearer_auth(ADMIN_TOKEN).send().await.unwrap()
    }
}
