//! A flash sale against a real server process: a product, and buyers who keep ordering.

use super::process::Server;
use reqwest::Client;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

pub const TOKEN: &str = "crash-test-token";
pub const STOCK: u64 = 100_000;

pub async fn create_product(client: &Client, server: &Server, id: &str) {
    let body = json!({"id": id, "name": "Crash deal", "category": "flash-sale", "price": {"amount": 100, "currency": "USD"}, "stock": STOCK});
    let resp = client.post(server.url("/api/admin/products")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
}

pub fn body(buyer: usize) -> Value {
    json!({"userId": format!("b{buyer}"), "productId": "deal", "quantity": 1})
}

/// Buys from 32 concurrent clients until stopped; returns (buyer, order id) for every 201.
pub fn start_buying(
    client: &Client,
    base: &str,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Arc<Mutex<Vec<(usize, String)>>> {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..32 {
        let (client, url, stop, acked, next) =
            (client.clone(), format!("{base}/api/orders"), stop.clone(), acked.clone(), next.clone());
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let sent = client.post(&url).header("Idempotency-Key", format!("key-{i}")).json(&body(i)).send().await;
                let Ok(resp) = sent else { continue };
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
        let acked = start_buying(&client, &server.base, stop.clone());
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
