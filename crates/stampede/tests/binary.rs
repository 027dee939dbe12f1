//! The real `stampede` binary: starts on a fresh data dir, seeds, serves, keeps data across restarts.

mod common;

use common::process::Server;
use serde_json::Value;

fn start(dir: &std::path::Path, extra: &[&str]) -> Server {
    Server::start(dir, extra)
}

#[tokio::test]
async fn the_binary_seeds_serves_and_keeps_orders_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let order_id = {
        let server = start(dir.path(), &[]);
        let products: Vec<Value> =
            client.get(format!("{}/api/products", server.base)).send().await.unwrap().json().await.unwrap();
        assert!(products.len() >= 9);
        assert_eq!(client.get(format!("{}/readyz", server.base)).send().await.unwrap().status(), 200);
        let body = serde_json::json!({"userId": "u1", "productId": "margherita", "quantity": 1});
        let resp = client.post(format!("{}/api/orders", server.base)).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), 201);
        resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    };
    assert!(dir.path().join("stampede.db").exists());
    let server = start(dir.path(), &[]);
    let again: Vec<Value> =
        client.get(format!("{}/api/products", server.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(again.iter().filter(|p| p["id"] == "margherita").count(), 1, "restart must not seed twice");
    assert_eq!(again[0]["stock"], 499);
    let order = client.get(format!("{}/api/orders/{order_id}", server.base)).send().await.unwrap();
    assert_eq!(order.status(), 200);
}

#[tokio::test]
async fn no_seed_starts_an_empty_shop() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--no-seed"]);
    let products: Vec<Value> =
        reqwest::get(format!("{}/api/products", server.base)).await.unwrap().json().await.unwrap();
    assert!(products.is_empty());
}

#[test]
fn help_documents_every_flag_and_its_environment_variable() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stampede")).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--addr",
        "STAMPEDE_ADDR",
        "--data-dir",
        "STAMPEDE_DATA_DIR",
        "--no-seed",
        "--queue-depth",
        "--admin-token",
        "loadtest",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}
