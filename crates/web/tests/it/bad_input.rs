//! Every kind of bad input gets a clear problem+json answer, never a 500, and changes nothing.

use crate::common::*;
use serde_json::{Value, json};
use stampede_domain::SaleRules;

async fn shop() -> TestApp {
    let app = TestApp::start().await;
    stampede_store::seed::demo_shop(app.store.as_ref()).await.unwrap();
    app
}

/// Sends a raw body and checks the problem it gets, then that nothing was written.
async fn refused(app: &TestApp, content_type: &str, body: impl Into<reqwest::Body>, status: u16, kind: &str) -> Value {
    let before = (app.order_rows(), app.stock("margherita").await);
    let resp =
        app.client.post(app.url("/api/orders")).header("content-type", content_type).body(body).send().await.unwrap();
    let problem = expect_problem(resp, status, kind).await;
    assert_eq!((app.order_rows(), app.stock("margherita").await), before, "{kind} changed data");
    problem
}

async fn refused_json(app: &TestApp, body: Value, status: u16, kind: &str) -> Value {
    refused(app, "application/json", body.to_string(), status, kind).await
}

fn margherita(quantity: Value, options: Value) -> Value {
    json!({"customer": {"email": "a@b.co"}, "items": [{"productId": "margherita", "quantity": quantity, "options": options}]})
}

#[tokio::test]
async fn malformed_and_mistyped_bodies() {
    let app = shop().await;
    let p = refused(&app, "application/json", "{\"customer\": ", 400, "malformed-json").await;
    assert!(p["detail"].as_str().unwrap().contains("EOF"));
    refused(&app, "application/json", "", 400, "malformed-json").await;
    refused(&app, "text/plain", "{}", 415, "unsupported-media-type").await;
    refused(&app, "application/x-www-form-urlencoded", "a=b", 415, "unsupported-media-type").await;
    // JSON with malformed parameters is refused as before, not read as JSON.
    refused(&app, "application/json; charset", "{}", 415, "unsupported-media-type").await;
    refused(&app, "application/json;\tcharset=utf-8", "{}", 415, "unsupported-media-type").await;
    let mistyped = r#"{"userId": "u1", "items": [{"productId": "margherita", "quantity": "two"}]}"#;
    let p = refused(&app, "application/json; charset=utf-8", mistyped, 422, "invalid-body").await;
    assert!(p["detail"].as_str().unwrap().contains("items[0].quantity"), "{p}");
    let p = refused_json(&app, margherita(json!("two"), json!({})), 422, "invalid-body").await;
    assert!(p["detail"].as_str().unwrap().contains("quantity"), "{p}");
    refused_json(&app, margherita(json!(1.5), json!({})), 422, "invalid-body").await;
    refused_json(&app, margherita(json!(1e30), json!({})), 422, "invalid-body").await;
    refused_json(&app, json!([1, 2]), 422, "invalid-body").await;
    refused_json(&app, json!({"customer": {"email": 5}, "items": []}), 422, "invalid-body").await;
    refused_json(&app, json!({"customer": {}, "items": []}), 422, "invalid-body").await;
    refused_json(&app, margherita(json!(1), json!({"size": 3})), 422, "invalid-body").await;
}

#[tokio::test]
async fn rule_breaking_fields_name_the_field() {
    let app = shop().await;
    let field = |p: Value| p["field"].as_str().unwrap().to_owned();
    for (qty, hint) in [
        (json!(0), "at least 1"),
        (json!(-2), "at least 1"),
        (json!(101), "at most 100"),
        (json!(i64::MAX), "at most 100"),
    ] {
        let p = refused_json(&app, margherita(qty, json!({})), 422, "validation").await;
        assert_eq!(field(p.clone()), "items[0].quantity");
        assert!(p["detail"].as_str().unwrap().contains(hint), "{p}");
    }
    let p = refused_json(&app, json!({"customer": {"email": "a@b.co"}, "items": []}), 422, "validation").await;
    assert_eq!(field(p), "items");
    let p = refused_json(&app, json!({"customer": {"email": "a@b.co"}}), 422, "validation").await;
    assert_eq!(field(p), "items");
    let p = refused_json(&app, json!({"items": [{"productId": "margherita", "quantity": 1}]}), 422, "validation").await;
    assert_eq!(field(p), "customer");
    let p = refused_json(
        &app,
        json!({"customer": {"email": "not-an-email"}, "items": [{"productId": "margherita", "quantity": 1}]}),
        422,
        "validation",
    )
    .await;
    assert_eq!(field(p), "customer.email");
    let p = refused_json(&app, margherita(json!(1), json!({"size": "galactic"})), 422, "validation").await;
    assert_eq!(field(p.clone()), "items[0].options.size");
    assert!(p["detail"].as_str().unwrap().contains("choose from small, medium, large"));
    let p = refused_json(&app, margherita(json!(1), json!({"sauce": "bbq"})), 422, "validation").await;
    assert_eq!(field(p), "items[0].options.sauce");
    let too_many = json!(["extra-cheese", "mushrooms", "olives", "pepperoni", "ham", "basil"]);
    let p = refused_json(&app, margherita(json!(1), json!({"toppings": too_many})), 422, "validation").await;
    assert!(p["detail"].as_str().unwrap().contains("at most 5"));
    let lines: Vec<Value> = (0..51).map(|_| json!({"productId": "cola", "quantity": 1})).collect();
    refused_json(&app, json!({"customer": {"email": "a@b.co"}, "items": lines}), 422, "validation").await;
    let p = refused_json(&app, json!({"userId": "has spaces", "productId": "cola"}), 422, "validation").await;
    assert_eq!(field(p), "userId");
    let both = json!({"userId": "u", "productId": "cola", "items": [{"productId": "cola", "quantity": 1}]});
    refused_json(&app, both, 422, "validation").await;
}

#[tokio::test]
async fn unknown_ids_oversized_bodies_and_bad_keys() {
    let app = shop().await;
    let p = refused_json(&app, order_body("a@b.co", "unicorn", 1), 404, "unknown-product").await;
    assert_eq!(p["productId"], "unicorn");
    expect_problem(app.get("/api/orders/does-not-exist").await, 404, "not-found").await;
    expect_problem(app.get("/api/nothing-here").await, 404, "not-found").await;
    expect_problem(app.client.delete(app.url("/api/orders")).send().await.unwrap(), 405, "method-not-allowed").await;
    let huge =
        format!("{{\"customer\": {{\"email\": \"a@b.co\", \"name\": \"{}\"}}, \"items\": []}}", "x".repeat(70 * 1024));
    refused(&app, "application/json", huge, 413, "body-too-large").await;
    let before = app.order_rows();
    for key in ["", "  ", &"k".repeat(256), "tab\there"] {
        let resp = app
            .client
            .post(app.url("/api/orders"))
            .header("Idempotency-Key", key)
            .json(&order_body("a@b.co", "cola", 1))
            .send()
            .await
            .unwrap();
        expect_problem(resp, 400, "invalid-idempotency-key").await;
    }
    assert_eq!(app.order_rows(), before);
}

#[tokio::test]
async fn duplicate_submits_place_one_order() {
    let app = TestApp::start().await;
    app.add_product("p", 100, 100, SaleRules::default()).await;
    let body = order_body("a@b.co", "p", 1);
    let sends = (0..20).map(|_| app.order(&body, Some("double-click")));
    let responses = futures_util::future::join_all(sends).await;
    let mut ids = std::collections::BTreeSet::new();
    for r in responses {
        assert_eq!(r.status(), 201);
        ids.insert(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(app.order_rows(), 1);
    assert_eq!(app.stock("p").await, 99);
}
