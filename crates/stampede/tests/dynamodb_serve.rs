//! `stampede serve --store dynamodb`: two instances of the real binary on one table of a
//! local moto server, as several always-warm servers behind a load balancer would run.
//! Run: `cargo test -p stampede --features aws --test dynamodb_serve`.
#![cfg(feature = "aws")]

mod common;

use common::moto::Moto;
use common::process::Server;
use common::{ADMIN_TOKEN, admin_json, next_stock, order_body};
use reqwest::Client;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const AWS_ENV: [(&str, &str); 4] = [
    ("AWS_ACCESS_KEY_ID", "local"),
    ("AWS_SECRET_ACCESS_KEY", "local"),
    ("AWS_REGION", "us-east-1"),
    ("STAMPEDE_ADMIN_TOKEN", ADMIN_TOKEN),
];

fn instance(moto: &Moto, dir: &std::path::Path) -> Server {
    let args = [
        "--store",
        "dynamodb",
        "--dynamodb-table",
        "shop",
        "--aws-endpoint-url",
        &moto.url,
        "--secret-key",
        "one-secret-for-every-instance",
        "--no-seed",
    ];
    Server::start_with_env(dir, &args, &AWS_ENV)
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_sell_one_table_without_overselling_and_deliver_every_event_once() {
    let moto = Moto::start();
    let created = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["dynamodb", "create-table", "shop", "--aws-endpoint-url", &moto.url])
        .envs(AWS_ENV)
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (instance(&moto, dir_a.path()), instance(&moto, dir_b.path()));
    let client = Client::new();

    let product = json!({"id": "drop", "name": "Sneaker drop", "category": "flash-sale",
        "price": {"amount": 12000, "currency": "USD"}, "stock": 16, "stockShards": 4, "sale": {"perCustomerMax": 1}});
    let made = client.post(a.url("/api/admin/products")).bearer_auth(ADMIN_TOKEN).json(&product).send().await.unwrap();
    assert_eq!(made.status(), 201, "{}", made.text().await.unwrap());
    wait_for_stock(&client, &b, "drop", 16).await;

    // B's live-stock stream hears of a sale made on A.
    let mut stream = client.get(b.url("/api/stock/events")).send().await.unwrap();
    let mut buffer = String::new();
    let level =
        |levels: &Value| levels.as_array().unwrap().iter().find(|p| p["id"] == "drop").unwrap()["stock"].clone();
    assert_eq!(level(&next_stock(&mut stream, &mut buffer, |_| true).await), 16);
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
    wait_for_stock(&client, &a, "drop", 0).await;
    wait_for_stock(&client, &b, "drop", 0).await;

    // An order placed on A is the customer's on B too (one signing secret), and cancelling it
    // there returns its unit for both.
    let id = first["id"].as_str().unwrap();
    let token = first["accessToken"].as_str().unwrap();
    let cancel =
        client.post(b.url(&format!("/api/orders/{id}/cancel"))).header("Order-Token", token).send().await.unwrap();
    assert_eq!(cancel.status(), 200, "{}", cancel.text().await.unwrap());
    wait_for_stock(&client, &a, "drop", 1).await;

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

#[tokio::test]
async fn a_build_without_the_table_says_what_is_missing() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["--store", "dynamodb", "--dynamodb-table", "missing", "--aws-endpoint-url", &moto.url])
        .envs(AWS_ENV)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reaching the DynamoDB table missing"), "{err}");
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_stampede")).args(["--store", "dynamodb"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--dynamodb-table"), "clap names the missing setting");
}
