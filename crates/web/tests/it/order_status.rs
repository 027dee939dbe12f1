//! Staff status changes over HTTP: the workflow's rules, stock returned by a staff cancel,
//! and an outbox event written with every change that commits, and none with one that does not.

use crate::common::*;
use serde_json::{Value, json};

async fn set_status(app: &TestApp, id: &str, status: &str) -> reqwest::Response {
    app.admin_post(&format!("/api/admin/orders/{id}/status"), &json!({ "status": status })).await
}

/// (type, status, previousStatus) of an order's events, oldest first.
fn events(app: &TestApp, order_id: &str) -> Vec<(String, String, Option<String>)> {
    let conn = rusqlite::Connection::open(&app.db_path).unwrap();
    let mut stmt = conn.prepare("SELECT kind, payload FROM outbox WHERE order_id = ?1 ORDER BY id").unwrap();
    stmt.query_map([order_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|row| {
            let (kind, payload) = row.unwrap();
            let payload: Value = serde_json::from_str(&payload).unwrap();
            assert_eq!(payload["type"], kind);
            let previous = payload["previousStatus"].as_str().map(str::to_owned);
            (kind, payload["status"].as_str().unwrap().to_owned(), previous)
        })
        .collect()
}

fn ev(kind: &str, status: &str, previous: Option<&str>) -> (String, String, Option<String>) {
    (kind.to_owned(), status.to_owned(), previous.map(str::to_owned))
}

#[tokio::test]
async fn an_order_moves_through_the_workflow_with_one_event_per_change() {
    let app = TestApp::pizza_shop().await;
    let order: Value = app.order(&order_body("ana@example.com", "margherita", 1), None).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    for status in ["preparing", "out_for_delivery", "completed"] {
        let resp = set_status(&app, id, status).await;
        assert_eq!(resp.status(), 200, "{status}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["status"], status);
    }
    let fetched: Value = app.get(&format!("/api/orders/{id}")).await.json().await.unwrap();
    assert_eq!(fetched["status"], "completed");
    assert_eq!(
        events(&app, id),
        [
            ev("order.placed", "received", None),
            ev("order.status_changed", "preparing", Some("received")),
            ev("order.status_changed", "out_for_delivery", Some("preparing")),
            ev("order.status_changed", "completed", Some("out_for_delivery")),
        ]
    );
    assert_eq!(app.stock("margherita").await, 499, "completing an order keeps its stock sold");
}

#[tokio::test]
async fn refused_changes_change_nothing_and_write_no_event() {
    let app = TestApp::pizza_shop().await;
    let order: Value = app.order(&order_body("ana@example.com", "margherita", 1), None).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    let before = app.outbox("1");
    let problem = expect_problem(set_status(&app, id, "completed").await, 409, "invalid-transition").await;
    assert!(problem["detail"].as_str().unwrap().contains("received"), "{problem}");
    expect_problem(set_status(&app, id, "baked").await, 422, "validation").await;
    expect_problem(set_status(&app, "no-such-order", "preparing").await, 404, "not-found").await;
    let no_token = app.post_json(&format!("/api/admin/orders/{id}/status"), &json!({"status": "preparing"})).await;
    expect_problem(no_token, 401, "unauthorized").await;
    assert_eq!(app.outbox("1"), before, "a refused change writes no event");

    assert_eq!(set_status(&app, id, "preparing").await.status(), 200);
    expect_problem(set_status(&app, id, "received").await, 409, "invalid-transition").await;
    // The customer may no longer cancel once the kitchen started.
    expect_problem(app.cancel(id, order["accessToken"].as_str()).await, 409, "not-cancellable").await;
    assert_eq!(app.outbox("1"), before + 1);
}

#[tokio::test]
async fn a_staff_cancel_returns_stock_and_holdings_exactly_once() {
    let app = TestApp::pizza_shop().await;
    let body = json!({"userId": "u-7", "productId": "midnight-truffle", "quantity": 2});
    let order: Value = app.order(&body, None).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    let stock = app.stock("midnight-truffle").await;
    // The per-customer limit of two is used up.
    expect_problem(
        app.order(&json!({"userId": "u-7", "productId": "midnight-truffle", "quantity": 1}), None).await,
        409,
        "customer-limit",
    )
    .await;
    assert_eq!(set_status(&app, id, "preparing").await.status(), 200);
    let cancelled: Value = set_status(&app, id, "cancelled").await.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(app.stock("midnight-truffle").await, stock + 2);
    expect_problem(set_status(&app, id, "cancelled").await, 409, "invalid-transition").await;
    assert_eq!(app.stock("midnight-truffle").await, stock + 2, "stock comes back once");
    assert_eq!(app.count("SELECT quantity FROM customer_holdings WHERE customer_key = 'user:u-7'"), 0);
    assert_eq!(app.order(&body, None).await.status(), 201, "the customer may buy again");
    assert_eq!(
        events(&app, id),
        [
            ev("order.placed", "received", None),
            ev("order.status_changed", "preparing", Some("received")),
            ev("order.cancelled", "cancelled", Some("preparing")),
        ]
    );
}

#[tokio::test]
async fn every_placed_order_has_exactly_one_event_and_refused_or_replayed_orders_none() {
    let app = TestApp::pizza_shop().await;
    let body = order_body("ana@example.com", "margherita", 1);
    assert_eq!(app.order(&body, Some("key-1")).await.status(), 201);
    let replay = app.order(&body, Some("key-1")).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    expect_problem(app.order(&order_body("ana@example.com", "margherita", 1000), None).await, 422, "validation").await;
    expect_problem(app.order(&order_body("ana@example.com", "golden-slice", 1), None).await, 409, "sale-not-started")
        .await;
    assert_eq!(app.order_rows(), 1);
    assert_eq!(app.outbox("kind = 'order.placed'"), 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM orders o WHERE NOT EXISTS (SELECT 1 FROM outbox e WHERE e.order_id = o.id)"),
        0
    );
}
