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
    client
        .get(server.url("/api/admin/products/deal/sales"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
