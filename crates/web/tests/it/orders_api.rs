//! Placing, reading, listing and cancelling orders over real HTTP.

use crate::common::*;
use serde_json::{Value, json};
use stampede_domain::SaleRules;
use stampede_store::Store;

/// The demo shop `stampede serve` seeds.
async fn pizza_app() -> TestApp {
    let app = TestApp::start().await;
    stampede_store::seed::demo_shop(app.store.as_ref()).await.unwrap();
    app
}

#[tokio::test]
async fn catalog_lists_products_with_prices_options_and_stock() {
    let app = pizza_app().await;
    let products: Vec<Value> = app.get("/api/products").await.json().await.unwrap();
    assert!(products.iter().filter(|p| p["category"] == "pizza").count() >= 6);
    assert!(products.iter().filter(|p| p["category"] == "flash-sale").count() >= 3);
    let margherita = &products[0];
    assert_eq!(margherita["id"], "margherita");
    assert_eq!(margherita["price"], json!({"amount": 1100, "currency": "USD"}));
    assert_eq!(margherita["stock"], 500);
    assert_eq!(margherita["optionGroups"][0]["choices"][2]["priceDelta"], 400);
    let one: Value = app.get("/api/products/margherita").await.json().await.unwrap();
    assert_eq!(&one, margherita);
    expect_problem(app.get("/api/products/nope").await, 404, "not-found").await;
}

#[tokio::test]
async fn the_server_prices_orders_and_ignores_client_prices() {
    let app = pizza_app().await;
    let body = json!({
        "customer": {"email": "Ana@Example.com", "name": "Ana"},
        "items": [
            {"productId": "margherita", "quantity": 2, "price": 1, "options": {"size": "large", "crust": "stuffed", "toppings": ["basil", "olives"]}},
            {"productId": "cola", "quantity": 3}
        ],
        "total": {"amount": 1, "currency": "USD"}
    });
    let resp = app.order(&body, None).await;
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let order: Value = resp.json().await.unwrap();
    // (1100 + 400 + 250 + 50 + 100) * 2 + 250 * 3
    assert_eq!(order["total"], json!({"amount": 4550, "currency": "USD"}));
    assert_eq!(order["items"][0]["unitPrice"]["amount"], 1900);
    assert_eq!(order["status"], "received");
    assert_eq!(order["customer"]["email"], "ana@example.com");
    assert_eq!(location, format!("/api/orders/{}", order["id"].as_str().unwrap()));
    let token = order["accessToken"].as_str().expect("the placing client gets the order's access token");
    let mut public = order.clone();
    for personal in ["customer", "fulfilment", "accessToken"] {
        public.as_object_mut().unwrap().remove(personal);
    }
    let fetched: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(fetched, public, "anyone with the id sees status and items, nothing personal");
    let own: Value =
        app.client.get(app.url(&location)).header("Order-Token", token).send().await.unwrap().json().await.unwrap();
    assert_eq!(own["customer"]["email"], "ana@example.com", "the token opens the details");
    assert!(own["accessToken"].is_null(), "the token is handed out once");
    assert_eq!(app.stock("margherita").await, 498);
    assert_eq!(app.stock("cola").await, 997);
}

#[tokio::test]
async fn the_flash_sale_shorthand_places_a_one_item_order() {
    let app = pizza_app().await;
    let resp = app.order(&json!({"userId": "user-7", "productId": "midnight-truffle", "quantity": 2}), None).await;
    assert_eq!(resp.status(), 201);
    let order: Value = resp.json().await.unwrap();
    assert_eq!(order["customer"]["id"], "user:user-7");
    assert_eq!(order["total"]["amount"], 3800);
    let page: Value = app.admin_get("/api/customers/user-7/orders").await.json().await.unwrap();
    assert_eq!(page["orders"][0]["id"], order["id"]);
}

#[tokio::test]
async fn a_multi_item_order_takes_all_stock_or_none() {
    let app = TestApp::start().await;
    app.add_product("plenty", 100, 10, SaleRules::default()).await;
    app.add_product("scarce", 100, 1, SaleRules::default()).await;
    let body = json!({"customer": {"email": "a@b.co"}, "items": [
        {"productId": "plenty", "quantity": 3}, {"productId": "scarce", "quantity": 2}]});
    let problem = expect_problem(app.order(&body, None).await, 409, "out-of-stock").await;
    assert_eq!(problem["available"], 1);
    assert!(problem["detail"].as_str().unwrap().contains("only 1 of `scarce` left"));
    assert_eq!(app.stock("plenty").await, 10);
    assert_eq!(app.order_rows(), 0);
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_order_and_refuse_other_bodies() {
    let app = TestApp::start().await;
    app.add_product("p", 100, 5, SaleRules::default()).await;
    let body = order_body("a@b.co", "p", 2);
    let first = app.order(&body, Some("key-1")).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = app.order(&body, Some("key-1")).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(app.stock("p").await, 3);
    assert_eq!(app.order_rows(), 1);
    expect_problem(app.order(&order_body("a@b.co", "p", 1), Some("key-1")).await, 422, "idempotency-key-reused").await;
    // Sold out since, the retry still gets its order back.
    assert_eq!(app.order(&order_body("c@d.co", "p", 3), None).await.status(), 201);
    let late = app.order(&body, Some("key-1")).await;
    assert_eq!(late.status(), 201);
    assert_eq!(late.json::<Value>().await.unwrap()["id"], first["id"]);
    assert_eq!(app.order_rows(), 2);
}

#[tokio::test]
async fn customer_order_history_is_newest_first_and_paginated() {
    let app = TestApp::start().await;
    app.add_product("p", 100, 50, SaleRules::default()).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let o: Value = app.order(&order_body("pat@example.com", "p", 1), None).await.json().await.unwrap();
        ids.push(o["id"].as_str().unwrap().to_owned());
    }
    app.order(&order_body("other@example.com", "p", 1), None).await;
    ids.reverse();
    let page1: Value = app.admin_get("/api/customers/PAT@example.com/orders?limit=2").await.json().await.unwrap();
    let cursor = page1["nextCursor"].as_str().unwrap();
    let page2: Value = app
        .admin_get(&format!("/api/customers/pat@example.com/orders?limit=2&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    let page3: Value = app
        .admin_get(&format!(
            "/api/customers/pat@example.com/orders?limit=2&cursor={}",
            page2["nextCursor"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    let seen: Vec<&str> = [&page1, &page2, &page3]
        .iter()
        .flat_map(|p| p["orders"].as_array().unwrap())
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(seen, ids);
    assert!(page3["nextCursor"].is_null());
    expect_problem(app.admin_get("/api/customers/pat@example.com/orders?limit=0").await, 400, "invalid-query").await;
    expect_problem(app.admin_get("/api/customers/pat@example.com/orders?limit=abc").await, 400, "invalid-query").await;
    expect_problem(app.admin_get("/api/customers/not%20valid/orders").await, 422, "validation").await;
}

#[tokio::test]
async fn cancelling_returns_stock_exactly_once() {
    let app = TestApp::start().await;
    app.add_product("p", 100, 5, SaleRules { per_customer_max: Some(2), ..Default::default() }).await;
    let order: Value = app.order(&order_body("a@b.co", "p", 2), None).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    assert_eq!(app.stock("p").await, 3);
    let token = order["accessToken"].as_str().unwrap();
    let cancelled = app.cancel(id, Some(token)).await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(cancelled.json::<Value>().await.unwrap()["status"], "cancelled");
    assert_eq!(app.stock("p").await, 5);
    expect_problem(app.cancel(id, Some(token)).await, 409, "not-cancellable").await;
    assert_eq!(app.stock("p").await, 5);
    // The cancelled units no longer count towards the customer's limit.
    assert_eq!(app.order(&order_body("a@b.co", "p", 2), None).await.status(), 201);
    expect_problem(app.cancel("nope", Some(token)).await, 404, "not-found").await;
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'order.cancelled'"), 1);
}

#[tokio::test]
async fn every_placed_order_writes_an_outbox_event_in_its_transaction() {
    let app = TestApp::start().await;
    app.add_product("p", 100, 5, SaleRules::default()).await;
    app.order(&order_body("a@b.co", "p", 1), None).await;
    app.order(&order_body("a@b.co", "p", 9), None).await;
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE kind = 'order.placed'"), 1);
}

#[tokio::test]
async fn sale_windows_and_limits_are_enforced() {
    let app = TestApp::start().await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    app.add_product("later", 100, 5, SaleRules { starts_at: Some(now + 3_600_000), ..Default::default() }).await;
    app.add_product("over", 100, 5, SaleRules { ends_at: Some(now - 1), ..Default::default() }).await;
    app.add_product(
        "capped",
        100,
        50,
        SaleRules { per_customer_max: Some(3), per_order_max: Some(2), ..Default::default() },
    )
    .await;
    let p = expect_problem(app.order(&order_body("a@b.co", "later", 1), None).await, 409, "sale-not-started").await;
    assert!(p["saleStartsAt"].as_str().unwrap().ends_with('Z'));
    assert!(p["detail"].as_str().unwrap().contains("opens at"));
    expect_problem(app.order(&order_body("a@b.co", "over", 1), None).await, 409, "sale-ended").await;
    expect_problem(app.order(&order_body("a@b.co", "capped", 3), None).await, 422, "order-limit").await;
    assert_eq!(app.order(&order_body("a@b.co", "capped", 2), None).await.status(), 201);
    let p = expect_problem(app.order(&order_body("a@b.co", "capped", 2), None).await, 409, "customer-limit").await;
    assert!(p["detail"].as_str().unwrap().contains("you already have 2"));
    assert_eq!(app.order(&order_body("a@b.co", "capped", 1), None).await.status(), 201);
    assert_eq!(app.order(&order_body("someone@else.co", "capped", 2), None).await.status(), 201);
    assert_eq!(app.order_rows(), 3);
}

#[tokio::test]
async fn health_probes_and_openapi_document() {
    let app = TestApp::start().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.json::<Value>().await.unwrap()["status"], "ready");
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/products",
        "/api/products/{id}",
        "/api/orders",
        "/api/orders/{id}",
        "/api/orders/{id}/cancel",
        "/api/customers/{customer}/orders",
        "/healthz",
        "/readyz",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing from OpenAPI");
    }
    let responses = &doc["paths"]["/api/orders"]["post"]["responses"];
    for status in ["201", "400", "404", "409", "413", "415", "422", "503"] {
        assert!(responses[status].is_object(), "POST /api/orders lacks {status}");
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn the_admin_api_needs_the_token_and_validates_products() {
    let app = TestApp::start().await;
    let product = json!({"id": "deal", "name": "Deal", "category": "flash-sale", "price": {"amount": 999, "currency": "USD"}, "stock": 7,
        "sale": {"perCustomerMax": 1, "startsAt": "2020-01-01T00:00:00Z"}});
    expect_problem(app.post_json("/api/admin/products", &product).await, 401, "unauthorized").await;
    let wrong =
        app.client.post(app.url("/api/admin/products")).bearer_auth("nope").json(&product).send().await.unwrap();
    expect_problem(wrong, 403, "forbidden").await;
    let created =
        app.client.post(app.url("/api/admin/products")).bearer_auth(ADMIN_TOKEN).json(&product).send().await.unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(app.stock("deal").await, 7);
    let dup =
        app.client.post(app.url("/api/admin/products")).bearer_auth(ADMIN_TOKEN).json(&product).send().await.unwrap();
    expect_problem(dup, 409, "conflict").await;
    let mut bad = product.clone();
    bad["id"] = json!("Bad Id!");
    let bad = app.client.post(app.url("/api/admin/products")).bearer_auth(ADMIN_TOKEN).json(&bad).send().await.unwrap();
    expect_problem(bad, 422, "validation").await;
    app.order(&json!({"userId": "u1", "productId": "deal"}), None).await;
    let sales: Value = app.admin_get("/api/admin/products/deal/sales").await.json().await.unwrap();
    assert_eq!(sales, json!({"stock": 6, "unitsSold": 1, "orders": 1, "maxUnitsPerCustomer": 1}));
}

#[tokio::test]
async fn stock_shards_are_validated_and_kept() {
    let app = TestApp::start().await;
    let mut product = json!({"id": "hot", "name": "Hot", "category": "flash-sale", "price": {"amount": 100, "currency": "USD"},
        "stock": 40, "stockShards": 0});
    let post =
        |body: Value| app.client.post(app.url("/api/admin/products")).bearer_auth(ADMIN_TOKEN).json(&body).send();
    for bad in [json!(0), json!(65), json!(-1), json!("four")] {
        product["stockShards"] = bad.clone();
        let resp = post(product.clone()).await.unwrap();
        assert!(matches!(resp.status().as_u16(), 400 | 422), "stockShards {bad}: {}", resp.status());
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
    product["stockShards"] = json!(4);
    assert_eq!(post(product.clone()).await.unwrap().status(), 201);
    assert_eq!(app.store.product("hot").await.unwrap().unwrap().product.stock_shards, 4);
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let schema = &doc["components"]["schemas"]["NewProduct"]["properties"]["stockShards"];
    assert_eq!((schema["minimum"].as_u64(), schema["maximum"].as_u64()), (Some(1), Some(64)), "{schema}");
}

#[tokio::test]
async fn metrics_count_requests_orders_and_show_queue_and_flash_sale_stock() {
    let app = TestApp::start().await;
    app.add_product("metered", 100, 3, SaleRules::default()).await;
    assert_eq!(app.order(&order_body("m@example.com", "metered", 2), None).await.status(), 201);
    assert_eq!(app.order(&order_body("m@example.com", "metered", 2), None).await.status(), 409);
    let resp = app.get("/metrics").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = resp.text().await.unwrap();
    for needle in [
        "stampede_orders_total{outcome=\"accepted\"}",
        "stampede_orders_total{outcome=\"out-of-stock\"}",
        "stampede_http_requests_total{method=\"POST\",route=\"/api/orders\",status=\"201\"}",
        "stampede_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/orders\",le=\"0.05\"}",
        "stampede_order_queue_depth 0",
        "stampede_flash_sale_stock{product=\"metered\"} 1",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
    // Each request is counted once, under its route, method and status (no other test
    // sends DELETE /healthz; the recorder is shared by the tests of this binary).
    let deletes = || async {
        let text = app.get("/metrics").await.text().await.unwrap();
        let line = "stampede_http_requests_total{method=\"DELETE\",route=\"/healthz\",status=\"405\"} ";
        text.lines().find_map(|l| l.strip_prefix(line)).map_or(0, |n| n.parse::<u64>().unwrap())
    };
    let before = deletes().await;
    for _ in 0..3 {
        assert_eq!(app.client.delete(app.url("/healthz")).send().await.unwrap().status(), 405);
    }
    assert_eq!(deletes().await, before + 3);
}

#[tokio::test]
async fn nobody_cancels_or_reads_another_customers_order() {
    let app = TestApp::start().await;
    app.add_product("p", 100, 5, SaleRules::default()).await;
    let body = json!({"customer": {"email": "ana@example.com", "name": "Ana"}, "items": [{"productId": "p", "quantity": 1}],
        "fulfilment": delivery()});
    let ana: Value = app.order(&body, None).await.json().await.unwrap();
    let bob: Value = app.order(&order_body("bob@example.com", "p", 1), None).await.json().await.unwrap();
    let (id, token) = (ana["id"].as_str().unwrap(), ana["accessToken"].as_str().unwrap());

    // No credentials, someone else's token, a made-up token, a wrong bearer: all refused, nothing changes.
    expect_problem(app.cancel(id, None).await, 403, "forbidden").await;
    expect_problem(app.cancel(id, bob["accessToken"].as_str()).await, 403, "forbidden").await;
    expect_problem(app.cancel(id, Some(&"0".repeat(32))).await, 403, "forbidden").await;
    let wrong_bearer =
        app.client.post(app.url(&format!("/api/orders/{id}/cancel"))).bearer_auth("guess").send().await.unwrap();
    expect_problem(wrong_bearer, 403, "forbidden").await;
    assert_eq!(app.stock("p").await, 3);

    // A stranger with the id sees status and items, never name, email or address.
    let seen = app.get(&format!("/api/orders/{id}")).await.text().await.unwrap();
    assert!(seen.contains("received") && seen.contains("Product p"), "{seen}");
    for personal in ["ana@example.com", "Ana", "1 Main St", "Springfield", "accessToken"] {
        assert!(!seen.contains(personal), "{personal} leaked: {seen}");
    }
    // Staff (the admin token) may read and cancel.
    let staff: Value = app.admin_get(&format!("/api/orders/{id}")).await.json().await.unwrap();
    assert_eq!(staff["fulfilment"]["address"], "1 Main St");
    let bob_id = bob["id"].as_str().unwrap();
    let by_staff = app
        .client
        .post(app.url(&format!("/api/orders/{bob_id}/cancel")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(by_staff.status(), 200);
    // The customer's own token cancels.
    assert_eq!(app.cancel(id, Some(token)).await.status(), 200);
    assert_eq!(app.stock("p").await, 5);
}

#[tokio::test]
async fn a_customers_order_list_is_for_that_customer_or_staff() {
    let app = TestApp::start().await;
    app.add_product("p", 100, 5, SaleRules::default()).await;
    app.order(&order_body("ana@example.com", "p", 1), None).await;
    let anonymous = expect_problem(app.get("/api/customers/ana@example.com/orders").await, 401, "unauthorized").await;
    assert!(anonymous["detail"].as_str().unwrap().contains("sign in"), "{anonymous}");
    let forged =
        app.client.get(app.url("/api/customers/ana@example.com/orders")).bearer_auth("guess").send().await.unwrap();
    expect_problem(forged, 401, "unauthorized").await;
    let staff: Value = app.admin_get("/api/customers/ana@example.com/orders").await.json().await.unwrap();
    assert_eq!(staff["orders"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_catalog_carries_an_etag_that_changes_with_stock_and_is_gzipped_on_request() {
    let app = TestApp::start().await;
    app.add_product("p", 100, 5, SaleRules::default()).await;
    let first = app.get("/api/products").await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "application/json");
    assert_eq!(first.headers()["cache-control"], "no-cache");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10, "a strong ETag: {etag}");
    let products: Value = first.json().await.unwrap();
    assert_eq!(products[0]["stock"], 5);

    let same = app.client.get(app.url("/api/products")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(same.status(), 304, "unchanged catalog");
    assert_eq!(same.headers()["etag"], etag.as_str());
    assert!(same.bytes().await.unwrap().is_empty());

    assert_eq!(app.order(&order_body("a@b.co", "p", 2), None).await.status(), 201);
    let after = app.client.get(app.url("/api/products")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(after.status(), 200, "a stock change is a new catalog");
    assert_ne!(after.headers()["etag"], etag.as_str());
    assert_eq!(after.json::<Value>().await.unwrap()[0]["stock"], 3, "never stale on the local store");

    // gzip is a representation of its own: the same JSON, its own ETag, revalidated alike.
    let plain = app.get("/api/products").await;
    assert_eq!(plain.headers().get("content-encoding"), None, "only for clients that ask");
    assert_eq!(plain.headers()["vary"], "accept-encoding");
    let plain_etag = plain.headers()["etag"].to_str().unwrap().to_owned();
    let plain_body = plain.bytes().await.unwrap();
    let browser = "gzip, deflate, br, zstd";
    let gzipped = app.client.get(app.url("/api/products")).header("accept-encoding", browser).send().await.unwrap();
    assert_eq!(gzipped.status(), 200);
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert_eq!(gzipped.headers()["content-type"], "application/json");
    assert_eq!(gzipped.headers()["vary"], "accept-encoding");
    let gzip_etag = gzipped.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(gzip_etag, format!("{}-gzip\"", plain_etag.trim_end_matches('"')));
    let packed = gzipped.bytes().await.unwrap();
    assert!(packed.len() < plain_body.len(), "{} bytes gzipped against {}", packed.len(), plain_body.len());
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&packed[..]), &mut unpacked).unwrap();
    assert_eq!(unpacked, plain_body, "the same catalog");
    let revalidated = app
        .client
        .get(app.url("/api/products"))
        .header("accept-encoding", browser)
        .header("if-none-match", &gzip_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
    assert_eq!(revalidated.headers()["etag"], gzip_etag.as_str());
    let refused = app.client.get(app.url("/api/products")).header("accept-encoding", "gzip;q=0").send().await.unwrap();
    assert_eq!(refused.headers().get("content-encoding"), None, "gzip;q=0 refuses it");
    assert_eq!(refused.headers()["etag"], plain_etag.as_str());
    let one = app.client.get(app.url("/api/products/p")).header("accept-encoding", browser).send().await.unwrap();
    assert_eq!(one.status(), 200);
    assert_eq!(one.headers().get("content-encoding"), None, "one product fits TCP's first flight as it is");
}
