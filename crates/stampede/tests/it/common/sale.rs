//! A flash sale against real server processes: a product, buyers who keep ordering, and a
//! webhook receiver that counts the receipts.

use super::process::Server;
use axum::extract::State;
use axum::http::StatusCode;
use reqwest::Client;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

pub const TOKEN: &str = "crash-test-token";
pub const STOCK: u64 = 100_000;

pub async fn create_product(client: &Client, server: &Server, id: &str) {
    create_product_with(client, server, json!({"id": id, "stock": STOCK})).await;
}

/// Creates the crash-deal product with `fields` (`id`, `stock`, `stockShards`, ...) on `server`.
pub async fn create_product_with(client: &Client, server: &Server, fields: Value) {
    let mut body = json!({"name": "Crash deal", "category": "flash-sale", "price": {"amount": 100, "currency": "USD"}});
    body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    let resp = client.post(server.url("/api/admin/products")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
}

pub fn body(buyer: usize) -> Value {
    json!({"userId": format!("b{buyer}"), "productId": "deal", "quantity": 1})
}

/// Buys from 32 concurrent clients, spread over the servers at `bases`, until stopped;
/// returns (buyer, order id) for every 201. Buyer `i` orders with the key `key-{i}`.
pub fn start_buying(
    client: &Client,
    bases: &[&str],
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Arc<Mutex<Vec<(usize, String)>>> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for n in 0..32 {
        let url = format!("{}/api/orders", bases[n % bases.len()]);
        let (client, stop, acked, next) = (client.clone(), stop.clone(), acked.clone(), next.clone());
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let sent = client.post(&url).header("Idempotency-Key", format!("key-{i}")).json(&body(i)).send().await;
                let Ok(resp) = sent else {
                    // A killed server refuses at once: do not spin on it.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                };
                if resp.status() == 201
                    && let Ok(order) = resp.json::<Value>().await
                {
                    acked.lock().unwrap().push((i, order["id"].as_str().unwrap().to_owned()));
                }
            }
        });
    }
    acked
}

pub async fn sales(client: &Client, server: &Server) -> Value {
    admin_json(client, server, "/api/admin/products/deal/sales").await
}

/// Buyer `buyer` retries its order on `server` with its key (as `start_buying` sent it): the
/// answer is order `id` again, marked replayed, not a new order.
pub async fn assert_replayed(client: &Client, server: &Server, buyer: usize, id: &str) {
    let resp = client
        .post(server.url("/api/orders"))
        .header("Idempotency-Key", format!("key-{buyer}"))
        .json(&body(buyer))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["idempotent-replayed"], "true");
    assert_eq!(resp.json::<Value>().await.unwrap()["id"], id);
}

/// GETs an admin endpoint of `server` and returns its JSON.
pub async fn admin_json(client: &Client, server: &Server, path: &str) -> Value {
    client.get(server.url(path)).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap()
}

/// A server with a sale under way: buyers keep ordering until `stop` is set.
pub struct RunningSale {
    pub client: Client,
    pub server: Server,
    pub stop: Arc<std::sync::atomic::AtomicBool>,
    pub acked: Arc<Mutex<Vec<(usize, String)>>>,
}

impl RunningSale {
    /// Starts a server on `dir` (with `extra` flags), creates the `deal` product and buys
    /// until at least `min_acked` orders were acknowledged.
    pub async fn start(dir: &std::path::Path, extra: &[&str], min_acked: usize) -> RunningSale {
        let client = Client::builder().timeout(std::time::Duration::from_secs(10)).build().unwrap();
        let mut args = vec!["--admin-token", TOKEN];
        args.extend_from_slice(extra);
        let server = Server::start(dir, &args);
        create_product(&client, &server, "deal").await;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let acked = start_buying(&client, &[&server.base], stop.clone());
        while acked.lock().unwrap().len() < min_acked {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        RunningSale { client, server, stop, acked }
    }

    /// Stops the buyers, lets answers in flight land, and returns every acknowledged (buyer, order id).
    pub async fn stopped(
        stop: Arc<std::sync::atomic::AtomicBool>,
        acked: Arc<Mutex<Vec<(usize, String)>>>,
    ) -> Vec<(usize, String)> {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        acked.lock().unwrap().clone()
    }
}

/// A webhook receiver on loopback that keeps the order id of every `order.placed` event it
/// gets, repeats included.
pub struct Webhooks {
    pub url: String,
    placed: Arc<Mutex<Vec<String>>>,
}

async fn hook(State(placed): State<Arc<Mutex<Vec<String>>>>, body: axum::body::Bytes) -> StatusCode {
    let event: Value = serde_json::from_slice(&body).unwrap();
    if event["type"] == "order.placed" {
        placed.lock().unwrap().push(event["orderId"].as_str().unwrap().to_owned());
    }
    StatusCode::NO_CONTENT
}

impl Webhooks {
    pub async fn start() -> Webhooks {
        let placed = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new().route("/hook", axum::routing::post(hook)).with_state(placed.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Webhooks { url, placed }
    }

    /// The orders whose `order.placed` event arrived at least once.
    pub fn orders(&self) -> HashSet<String> {
        self.placed.lock().unwrap().iter().cloned().collect()
    }

    /// Every `order.placed` delivery, repeats included.
    pub fn deliveries(&self) -> usize {
        self.placed.lock().unwrap().len()
    }

    /// Waits up to `secs` until `server`'s outbox has nothing pending and the events of
    /// `orders` orders have arrived here, then checks that none was parked, that the outbox
    /// delivered one event per order, and that every order of `acked` arrived.
    pub async fn expect_every_event<'a>(
        &self,
        client: &Client,
        server: &Server,
        secs: u64,
        orders: u64,
        acked: impl IntoIterator<Item = &'a str>,
    ) {
        let outbox = super::eventually(secs, "every event delivered", || async {
            let page = admin_json(client, server, "/api/admin/outbox?state=pending").await;
            (page["counts"]["pending"] == 0 && self.orders().len() as u64 == orders).then_some(page)
        })
        .await;
        assert_eq!(outbox["counts"]["failed"], 0, "{outbox}");
        assert_eq!(outbox["counts"]["delivered"].as_u64(), Some(orders), "one event per order: {outbox}");
        let received = self.orders();
        assert!(acked.into_iter().all(|id| received.contains(id)), "an acknowledged order's event was lost");
    }
}
