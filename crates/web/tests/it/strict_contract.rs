//! The stricter contract of issue 13, section 5: gaps a fuzzing run and a hostile-input run
//! found, each refused with a problem and without changing anything.

use crate::common::*;
use serde_json::{Value, json};

/// Posts `body` and checks the problem it gets, then that nothing was written.
async fn refused(app: &TestApp, body: Value, status: u16, kind: &str) -> Value {
    let before = app.order_rows();
    let problem = expect_problem(app.order(&body, None).await, status, kind).await;
    assert_eq!(app.order_rows(), before, "{kind} placed an order");
    problem
}

fn delivery(address: &str, city: &str) -> Value {
    json!({"customer": {"email": "ana@example.com", "name": "Ana"},
           "items": [{"productId": "margherita", "quantity": 1}],
           "fulfilment": {"type": "delivery", "address": address, "city": city, "postcode": "12345", "phone": "555 0100"}})
}

#[tokio::test]
async fn a_null_quantity_is_refused_not_taken_for_one() {
    let app = TestApp::pizza_shop().await;
    let p =
        refused(&app, json!({"userId": "u1", "productId": "margherita", "quantity": null}), 422, "invalid-body").await;
    assert!(p["detail"].as_str().unwrap().contains("null"), "{p}");
    let p = refused(
        &app,
        json!({"customer": {"email": "a@b.co"}, "items": [{"productId": "margherita", "quantity": null}]}),
        422,
        "invalid-body",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("quantity"), "{p}");
    // Left out, the shorthand's quantity is still 1.
    let resp = app.order(&json!({"userId": "u1", "productId": "margherita"}), None).await;
    assert_eq!(resp.status(), 201);
    let order: Value = resp.json().await.unwrap();
    assert_eq!(order["items"][0]["quantity"], 1);
}

#[tokio::test]
async fn control_characters_and_bidi_overrides_are_refused_in_names_and_addresses() {
    let app = TestApp::pizza_shop().await;
    for name in ["Ana\u{0}", "Ana\u{7}Lima", "Ana\nLima", "\u{202E}aniL anA", "Ana \u{2066}Lima\u{2069}", "Ana\u{202A}"]
    {
        let body = json!({"customer": {"email": "ana@example.com", "name": name},
                          "items": [{"productId": "margherita", "quantity": 1}]});
        let p = refused(&app, body, 422, "validation").await;
        assert_eq!(p["field"], "customer.name", "{name:?}");
    }
    for (address, city, field) in [
        ("1 Main\u{0} St", "Springfield", "fulfilment.address"),
        ("1 Main St\u{202D}", "Springfield", "fulfilment.address"),
        ("1 Main St", "Spring\u{2067}field", "fulfilment.city"),
        ("1 Main St", "Spring\u{1b}[31mfield", "fulfilment.city"),
    ] {
        let p = refused(&app, delivery(address, city), 422, "validation").await;
        assert_eq!(p["field"], field, "{address:?} {city:?}");
    }
    // Letters of every script are fine.
    let body = json!({"customer": {"email": "zoe@example.com", "name": "Zoë Ωμέγα 王"},
                      "items": [{"productId": "margherita", "quantity": 1}]});
    assert_eq!(app.order(&body, None).await.status(), 201);
    assert_eq!(app.order(&delivery("Rua São João 1", "São Paulo"), None).await.status(), 201);
}

#[tokio::test]
async fn email_addresses_are_ascii_everywhere() {
    let app = TestApp::pizza_shop().await;
    for email in ["zoë@example.com", "ana@exämple.com", "ana@例え.jp"] {
        let p = refused(&app, order_body(email, "margherita", 1), 422, "validation").await;
        assert_eq!(p["field"], "customer.email");
        assert!(p["detail"].as_str().unwrap().contains("ASCII"), "{p}");
        let resp = app.get(&format!("/api/customers/{email}/orders")).await;
        expect_problem(resp, 422, "validation").await;
    }
    // An international domain in its xn-- form is an ordinary address.
    assert_eq!(app.order(&order_body("ana@xn--exmple-cua.com", "margherita", 1), None).await.status(), 201);
}

#[tokio::test]
async fn two_idempotency_keys_are_refused() {
    let app = TestApp::pizza_shop().await;
    let resp = app
        .client
        .post(app.url("/api/orders"))
        .header("Idempotency-Key", "first")
        .header("Idempotency-Key", "second")
        .json(&order_body("ana@example.com", "margherita", 1))
        .send()
        .await
        .unwrap();
    let p = expect_problem(resp, 400, "invalid-idempotency-key").await;
    assert!(p["detail"].as_str().unwrap().contains("one Idempotency-Key"), "{p}");
    assert_eq!(app.order_rows(), 0);
}

/// An order's JSON `body` posted with the given `Content-Type`.
async fn post_as(app: &TestApp, content_type: &str, body: &str) -> reqwest::Response {
    let request = app.client.post(app.url("/api/orders")).header("content-type", content_type);
    request.body(body.to_owned()).send().await.unwrap()
}

#[tokio::test]
async fn json_media_types_are_accepted_as_documented() {
    let app = TestApp::pizza_shop().await;
    let body = order_body("ana@example.com", "cola", 1).to_string();
    for accepted in
        ["application/json", "application/json; charset=utf-8", "application/vnd.api+json", "application/problem+json"]
    {
        let resp = post_as(&app, accepted, &body).await;
        assert_eq!(resp.status(), 201, "{accepted}");
    }
    for refused in ["text/json", "text/plain", "application/x-www-form-urlencoded", "application/jsonx"] {
        let resp = post_as(&app, refused, &body).await;
        expect_problem(resp, 415, "unsupported-media-type").await;
    }
    let resp = app.client.post(app.url("/api/orders")).body(body).send().await.unwrap();
    expect_problem(resp, 415, "unsupported-media-type").await;
}

#[tokio::test]
async fn a_wrong_method_on_metrics_is_problem_json() {
    let app = TestApp::start().await;
    let resp = app.client.post(app.url("/metrics")).send().await.unwrap();
    expect_problem(resp, 405, "method-not-allowed").await;
}

#[tokio::test]
async fn the_openapi_document_states_enums_and_patterns() {
    let app = TestApp::start().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["OrderStatusName"]["enum"],
        json!(["received", "preparing", "ready", "out_for_delivery", "completed", "cancelled"])
    );
    assert_eq!(schemas["OutboxStateName"]["enum"], json!(["pending", "delivered", "failed"]));
    assert_eq!(schemas["OrderDto"]["properties"]["status"]["$ref"], "#/components/schemas/OrderStatusName");
    assert_eq!(schemas["StatusChange"]["properties"]["status"]["$ref"], "#/components/schemas/OrderStatusName");
    assert_eq!(schemas["OutboxEventDto"]["properties"]["state"]["$ref"], "#/components/schemas/OutboxStateName");
    let params = doc["paths"]["/api/admin/outbox"]["get"]["parameters"].as_array().unwrap();
    let state = params.iter().find(|p| p["name"] == "state").unwrap();
    assert!(state["schema"].to_string().contains("OutboxStateName"), "{state}");
    let user_id = &schemas["PlaceOrderBody"]["properties"]["userId"];
    assert_eq!(user_id["maxLength"], 254);
    assert!(user_id["pattern"].as_str().unwrap().contains("{0,63}"));
    let customer = doc["paths"]["/api/customers/{customer}/orders"]["get"]["parameters"][0].clone();
    assert_eq!(customer["schema"]["pattern"], user_id["pattern"]);
    assert!(schemas["CustomerBody"]["properties"]["name"]["pattern"].as_str().unwrap().contains("\\u202A"));
}
