//! Two `stampede serve` instances on one shared store (a DynamoDB table, a PostgreSQL
//! database), as several servers behind a load balancer run: the same sale through both.

use super::process::Server;
use super::{ADMIN_TOKEN, admin_json, next_stock, order_body};
use reqwest::Client;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The stock `server` shows; `None` while it does not know the product yet.
async fn stock(client: &Client, server: &Server, id: &str) -> Option<u64> {
    let body: Value =
        client.get(server.url(&format!("/api/products/{id}"))).send().await.unwrap().json().await.unwrap();
    body["stock"].as_u64()
}

/// Polls until `server` shows `want` units of `id` (its catalog snapshot lags by a second).
async fn wait_for_stock(client: &Client, server: &Server, id: &str, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while stock(client, server, id).await != Some(want) {
        assert!(Instant::now() < deadline, "{} never showed {want} units of {id}", server.base);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Creates a 16-unit product (4 counters, one per customer) on `a` and sells it through both:
/// no oversell, B's live stock hears of A's sales, an order made on A is cancelled on B, and
/// the two relays deliver each of the 17 events once.
pub async fn sell_one_product_through_both(a: &Server, b: &Server) {
    let client = Client::new();

    let product = json!({"id": "drop", "name": "Sneaker drop", "category": "flash-sale",
        "price": {"amount": 12000, "currency": "USD"}, "stock": 16, "stockShards": 4, "sale": {"perCustomerMax": 1}});
    let made = client.post(a.url("/api/admin/products")).bearer_auth(ADMIN_TOKEN).json(&product).send().await.unwrap();
    assert_eq!(made.status(), 201, "{}", made.text().await.unwrap());
    wait_for_stock(&client, b, "drop", 16).await;

    // B's live-stock stream hears of a sale made on A.
    let mut stream = client.get(b.url("/api/stock/events")).send().await.unwrap();
    let mut buffer = String::new();
    let level = |levels: &Value| {
        let drop = levels.as_array().unwrap().iter().find(|p| p["id"] == "drop");
        drop.map_or(Value::Null, |p| p["stock"].clone())
    };
    // B's product page finds a new product at once; its menu (and so the stream) from its
    // next catalog read.
    assert_eq!(level(&next_stock(&mut stream, &mut buffer, |l| !level(l).is_null()).await), 16);
    let first =
        client.post(a.url("/api/orders")).json(&order_body("first@example.com", "drop", 1)).send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(level(&next_stock(&mut stream, &mut buffer, |l| level(l) != 16).await), 15);

    // The rest of the sale through both at once: 40 buyers for the 15 units left.
    let mut buyers = tokio::task::JoinSet::new();
    for i in 0..40 {
        let url = if i % 2 == 0 { a.url("/api/orders") } else { b.url("/api/orders") };
        let client = client.clone();
        buyers.spawn(async move {
            let resp =
                client.post(url).json(&order_body(&format!("buyer{i}@example.com"), "drop", 1)).send().await.unwrap();
            resp.status().as_u16()
        });
    }
    let statuses: Vec<u16> = buyers.join_all().await;
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 15, "{statuses:?}");
    assert!(statuses.iter().all(|s| [201, 409].contains(s)), "sold out is a 409: {statuses:?}");
    wait_for_stock(&client, a, "drop", 0).await;
    wait_for_stock(&client, b, "drop", 0).await;

    // An order placed on A is the customer's on B too (one signing secret), and cancelling it
    // there returns its unit for both.
    let id = first["id"].as_str().unwrap();
    let token = first["accessToken"].as_str().unwrap();
    let cancel =
        client.post(b.url(&format!("/api/orders/{id}/cancel"))).header("Order-Token", token).send().await.unwrap();
    assert_eq!(cancel.status(), 200, "{}", cancel.text().await.unwrap());
    wait_for_stock(&client, a, "drop", 1).await;

    // 16 placed + 1 cancelled = 17 events, each delivered once by one of the two relays.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = admin_json(&client, &a.url("/api/admin/outbox?state=delivered")).await;
        if page["counts"] == json!({"pending": 0, "delivered": 17, "failed": 0}) {
            break;
        }
        assert!(Instant::now() < deadline, "the outbox never settled: {}", page["counts"]);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let sales = admin_json(&client, &b.url("/api/admin/products/drop/sales")).await;
    assert_eq!(sales, json!({"stock": 1, "unitsSold": 15, "orders": 15, "maxUnitsPerCustomer": 1}));
}
