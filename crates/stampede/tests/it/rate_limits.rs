//! Abuse limits on order placement: 429 + Retry-After, per customer and per client address.

use crate::common::process::Server;
use crate::common::*;
use serde_json::json;
use stampede_domain::SaleRules;
use stampede_web::rate_limit::{OrderRateLimits, Rate};

#[tokio::test]
async fn a_customer_over_their_rate_gets_429_and_others_are_unaffected() {
    let app = TestApp::start().await;
    app.add_product("p", 100, 100, SaleRules::default()).await;
    let limited = TestApp::serve(
        app.store.clone(),
        &app.db_path,
        OrderRateLimits::new(None, Some(Rate { per_second: 1, burst: 3 })),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(limited.order(&order_body("bot@example.com", "p", 1), None).await.status(), 201);
    }
    let resp = limited.order(&order_body("bot@example.com", "p", 1), None).await;
    assert_eq!(resp.headers()["retry-after"], "1");
    let p = expect_problem(resp, 429, "rate-limited").await;
    assert!(p["detail"].as_str().unwrap().contains("this customer"));
    assert_eq!(limited.order(&order_body("human@example.com", "p", 1), None).await.status(), 201);
    assert_eq!(app.order_rows(), 4, "a refused order places nothing");
    assert_eq!(app.stock("p").await, 96);
}

#[tokio::test]
async fn a_client_address_over_its_rate_gets_429() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--order-rate-per-ip", "1", "--order-burst-per-ip", "3"]);
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..6 {
        let body = json!({"userId": format!("u{i}"), "productId": "cola", "quantity": 1});
        statuses.push(client.post(server.url("/api/orders")).json(&body).send().await.unwrap().status().as_u16());
    }
    assert_eq!(&statuses[..3], &[201, 201, 201]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
}
