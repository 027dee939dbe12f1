//! The original projects' front ends against Stampede, over real HTTP: the Flash Sale
//! Handler's API (`/compat/serverless-ecommerce`), WAN Pizza's form (`/compat/wan-pizza/order`),
//! and CORS for the JSON API.

use crate::common::*;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use stampede_web::cors::AllowedOrigins;
use stampede_web::rate_limit::{OrderRateLimits, Rate};

const PRODUCTS: &str = "/compat/serverless-ecommerce/products";
const ORDERS: &str = "/compat/serverless-ecommerce/orders";
const WAN_PIZZA: &str = "/compat/wan-pizza/order";
const SITE: &str = "http://shop.test:5173";

fn origins(list: &str) -> AllowedOrigins {
    list.parse().unwrap()
}

async fn compat_order(app: &TestApp, body: &Value, key: Option<&str>) -> Response {
    let mut req = app.client.post(app.url(ORDERS)).json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.unwrap()
}

/// Asserts an error in the original's shape, returning its sentence.
async fn expect_error(resp: Response, status: u16) -> String {
    assert_eq!(resp.status().as_u16(), status);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let error = body["error"].as_str().unwrap().to_owned();
    assert!(!error.is_empty());
    error
}

fn header<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn products_have_the_original_shape_with_major_unit_prices_and_live_stock() {
    let app = TestApp::pizza_shop().await;
    let resp = app.client.get(app.url(PRODUCTS)).header("Origin", SITE).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some("*"), "compat routes allow any origin by default");
    let body: Value = resp.json().await.unwrap();
    let products = body["products"].as_array().unwrap();
    assert_eq!(body["count"], products.len());
    assert_eq!(products.len(), 13);
    let find = |id: &str| products.iter().find(|p| p["productId"] == id).unwrap().clone();
    let margherita = find("margherita");
    assert_eq!(margherita["name"], "Margherita");
    assert_eq!(margherita["description"], "San Marzano tomato, fior di latte, basil, olive oil.");
    assert_eq!(margherita["category"], "pizza");
    assert_eq!(margherita["price"].to_string(), "11", "1100 cents is 11");
    assert_eq!(margherita["inStock"], 500);
    assert!(margherita.as_object().unwrap().contains_key("imageUrl"));
    assert_eq!(find("quattro-formaggi")["price"].to_string(), "14.5");
    assert_eq!(find("cola")["price"].to_string(), "2.5");

    let placed =
        compat_order(&app, &json!({"userId": "user123", "productId": "margherita", "quantity": 3}), None).await;
    assert_eq!(placed.status(), 200);
    let body: Value = app.get(PRODUCTS).await.json().await.unwrap();
    let margherita =
        body["products"].as_array().unwrap().iter().find(|p| p["productId"] == "margherita").unwrap().clone();
    assert_eq!(margherita["inStock"], 497, "inStock is the live stock");

    // An image given as a path on this shop loads from it, not from the app's own origin.
    let product = json!({"id": "slice", "name": "Slice", "category": "pizza", "image": "/static/slice.png",
        "price": {"amount": 500, "currency": "USD"}, "stock": 5});
    assert_eq!(app.admin_post("/api/admin/products", &product).await.status(), 201);
    let body: Value = app.get(PRODUCTS).await.json().await.unwrap();
    let slice = body["products"].as_array().unwrap().iter().find(|p| p["productId"] == "slice").unwrap().clone();
    let host = app.url("").trim_start_matches("http:").to_owned();
    assert_eq!(slice["imageUrl"], format!("{host}/static/slice.png"));
}

#[tokio::test]
async fn an_order_goes_through_the_api_placement_and_is_visible_there() {
    let app = TestApp::pizza_shop().await;
    let body = json!({"userId": "user123", "productId": "quattro-formaggi", "quantity": 2});
    let resp = compat_order(&app, &body, Some("react-1")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(header(&resp, "idempotent-replayed").is_none());
    let placed: Value = resp.json().await.unwrap();
    assert_eq!(placed["message"], "Order placed successfully");
    assert_eq!(placed["status"], "received");
    assert_eq!(placed["totalAmount"].to_string(), "29", "2 × 14.50");
    let id = placed["orderId"].as_str().unwrap().to_owned();

    // Status and items are open to whoever holds the id; who ordered is for staff (and the customer).
    let public: Value = app.get(&format!("/api/orders/{id}")).await.json().await.unwrap();
    assert_eq!((public["status"].as_str(), public["customer"].is_null()), (Some("received"), true));
    let order: Value = app.admin_get(&format!("/api/orders/{id}")).await.json().await.unwrap();
    assert_eq!(order["customer"]["id"], "user:user123");
    assert_eq!(order["items"][0]["productId"], "quattro-formaggi");
    assert_eq!(order["items"][0]["quantity"], 2);
    assert_eq!(order["total"], json!({"amount": 2900, "currency": "USD"}));
    let history: Value = app.admin_get("/api/customers/user123/orders").await.json().await.unwrap();
    assert_eq!(history["orders"][0]["id"], id.as_str());

    // The same key replays the first order instead of placing a second.
    let again = compat_order(&app, &body, Some("react-1")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(header(&again, "idempotent-replayed"), Some("true"));
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["orderId"], id.as_str());
    assert_eq!(app.order_rows(), 1);
    assert_eq!(app.stock("quattro-formaggi").await, 498);
    // Another body under that key is refused, as on the API.
    let other = json!({"userId": "user123", "productId": "quattro-formaggi", "quantity": 1});
    expect_error(compat_order(&app, &other, Some("react-1")).await, 422).await;
}

#[tokio::test]
async fn bad_requests_are_400_with_the_original_wording() {
    let app = TestApp::pizza_shop().await;
    let full = json!({"userId": "user123", "productId": "margherita", "quantity": 1});
    for field in ["userId", "productId", "quantity"] {
        let mut body = full.clone();
        body.as_object_mut().unwrap().remove(field);
        let error = expect_error(compat_order(&app, &body, None).await, 400).await;
        assert_eq!(error, format!("Missing required field: {field}"));
    }
    for quantity in [json!(null), json!(0), json!(-1), json!(101), json!(1.5), json!("2")] {
        let body = json!({"userId": "user123", "productId": "margherita", "quantity": quantity});
        let error = expect_error(compat_order(&app, &body, None).await, 400).await;
        assert!(error.contains("quantity"), "{quantity}: {error}");
    }
    let bad_user = json!({"userId": "has space", "productId": "margherita", "quantity": 1});
    assert!(expect_error(compat_order(&app, &bad_user, None).await, 400).await.contains("userId"));
    let malformed = app
        .client
        .post(app.url(ORDERS))
        .header("content-type", "application/json")
        .body("{\"userId\": ")
        .send()
        .await
        .unwrap();
    expect_error(malformed, 400).await;
    let not_json =
        app.client.post(app.url(ORDERS)).header("content-type", "text/plain").body("{}").send().await.unwrap();
    expect_error(not_json, 415).await;
    let unknown = json!({"userId": "user123", "productId": "no-such-pizza", "quantity": 1});
    let error = expect_error(compat_order(&app, &unknown, None).await, 404).await;
    assert!(error.contains("no-such-pizza"), "{error}");
    expect_error(app.client.get(app.url(ORDERS)).send().await.unwrap(), 405).await;
    assert_eq!(app.order_rows(), 0, "no bad request placed anything");
}

#[tokio::test]
async fn refusals_are_409_429_with_retry_after() {
    let app = TestApp::pizza_shop().await;
    let order =
        |product: &str, quantity: i64, user: &str| json!({"userId": user, "productId": product, "quantity": quantity});
    // Sale not open yet.
    let error = expect_error(compat_order(&app, &order("golden-slice", 1, "u1"), None).await, 409).await;
    assert!(error.contains("opens"), "{error}");
    // Per-customer limit (two truffle pizzas each), then per-order limit.
    assert_eq!(compat_order(&app, &order("midnight-truffle", 2, "u1"), None).await.status(), 200);
    let error = expect_error(compat_order(&app, &order("midnight-truffle", 1, "u1"), None).await, 409).await;
    assert!(error.contains("per customer"), "{error}");
    expect_error(compat_order(&app, &order("midnight-truffle", 3, "u2"), None).await, 409).await;
    // Sold out: 50 truffle pizzas, 2 taken.
    for i in 0..24 {
        assert_eq!(compat_order(&app, &order("midnight-truffle", 2, &format!("b{i}")), None).await.status(), 200);
    }
    let error = expect_error(compat_order(&app, &order("midnight-truffle", 1, "late"), None).await, 409).await;
    assert!(error.contains("sold out"), "{error}");
    assert_eq!(app.stock("midnight-truffle").await, 0);

    let limited = TestApp::serve(
        app.store.clone(),
        &app.db_path,
        OrderRateLimits::new(None, Some(Rate { per_second: 1, burst: 1 })),
    )
    .await;
    assert_eq!(compat_order(&limited, &order("cola", 1, "fast"), None).await.status(), 200);
    let resp = compat_order(&limited, &order("cola", 1, "fast"), None).await;
    assert_eq!(header(&resp, "retry-after"), Some("1"));
    expect_error(resp, 429).await;
}

async fn preflight(app: &TestApp, path: &str, origin: &str) -> Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type,idempotency-key")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_api_is_same_origin_only_by_default() {
    let app = TestApp::pizza_shop().await;
    let resp = app.client.get(app.url("/api/products")).header("Origin", SITE).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "access-control-allow-origin").is_none());
    expect_problem(preflight(&app, "/api/orders", SITE).await, 405, "method-not-allowed").await;
    // The compat routes answer any origin, preflight included, as the original functions did.
    let resp = preflight(&app, ORDERS, SITE).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn allowed_origins_get_cors_on_the_api_and_others_do_not() {
    let app = TestApp::pizza_shop_with(|s| s.with_cors(origins(&format!("{SITE},https://other.test")))).await;
    let resp = preflight(&app, "/api/orders", SITE).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(SITE));
    let methods = header(&resp, "access-control-allow-methods").unwrap();
    assert!(methods.contains("POST") && methods.contains("GET"), "{methods}");
    let allowed = header(&resp, "access-control-allow-headers").unwrap().to_ascii_lowercase();
    for name in ["content-type", "idempotency-key", "authorization", "order-token", "queue-ticket"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    assert_eq!(header(&resp, "access-control-max-age"), Some("600"));
    assert!(header(&resp, "access-control-allow-credentials").is_none(), "no credentials cross origins");

    let resp = app
        .client
        .post(app.url("/api/orders"))
        .header("Origin", SITE)
        .header("Idempotency-Key", "cors-1")
        .json(&order_body("ana@example.com", "margherita", 1))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(SITE));
    let exposed = header(&resp, "access-control-expose-headers").unwrap().to_ascii_lowercase();
    for name in ["location", "retry-after", "idempotent-replayed"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    assert!(header(&resp, "vary").unwrap().to_ascii_lowercase().contains("origin"));

    // Another site gets no allowance, on the preflight or the request, on the API or compat.
    let evil = "http://evil.test";
    let resp = preflight(&app, "/api/orders", evil).await;
    assert!(header(&resp, "access-control-allow-origin").is_none());
    let resp = app.client.get(app.url("/api/products")).header("Origin", evil).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "access-control-allow-origin").is_none());
    let resp = app.client.get(app.url(PRODUCTS)).header("Origin", evil).send().await.unwrap();
    assert!(header(&resp, "access-control-allow-origin").is_none(), "the setting narrows the compat routes too");
    let resp = app.client.get(app.url(PRODUCTS)).header("Origin", SITE).send().await.unwrap();
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(SITE));
    // The live stock stream is API too: another origin's page may follow it.
    let resp = app.client.get(app.url("/api/stock/events")).header("Origin", SITE).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "access-control-allow-origin"), Some(SITE));
    assert!(header(&resp, "content-type").unwrap().starts_with("text/event-stream"));
    drop(resp);

    // Pages and forms never get CORS headers, even for an allowed origin.
    for path in ["/", "/checkout", "/my-orders"] {
        let resp = app.client.get(app.url(path)).header("Origin", SITE).send().await.unwrap();
        assert!(header(&resp, "access-control-allow-origin").is_none(), "{path}");
    }
}

#[tokio::test]
async fn a_star_setting_opens_the_api_to_any_page() {
    let app = TestApp::pizza_shop_with(|s| s.with_cors(AllowedOrigins::Any)).await;
    let resp = app.client.get(app.url("/api/products/margherita")).header("Origin", SITE).send().await.unwrap();
    assert_eq!(header(&resp, "access-control-allow-origin"), Some("*"));
    assert_eq!(preflight(&app, "/api/orders", "http://anyone.test").await.status(), 204);
}

async fn wan_pizza(app: &TestApp, fields: &[(&str, &str)]) -> Response {
    // No cookies and no `_csrf`: the form is posted from another site.
    app.client.post(app.url(WAN_PIZZA)).header("Origin", "null").form(fields).send().await.unwrap()
}

fn wan_form<'a>(pizza: &'a str, quantity: &'a str, email: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![("pizza_type", pizza), ("quantity", quantity), ("customer_name", "Ana Lima"), ("customer_email", email)]
}

#[tokio::test]
async fn the_wan_pizza_form_places_an_order_and_shows_its_confirmation() {
    let app = TestApp::pizza_shop().await;
    let resp = wan_pizza(&app, &wan_form("margherita", "2", "ana@example.com")).await;
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "content-type").unwrap().starts_with("text/html"));
    assert!(header(&resp, "set-cookie").is_none(), "the form route sets no cookies");
    let page = resp.text().await.unwrap();
    let orders: Value = app.admin_get("/api/customers/ana@example.com/orders").await.json().await.unwrap();
    let order = &orders["orders"][0];
    let id = order["id"].as_str().unwrap();
    assert_eq!(order["customer"]["name"], "Ana Lima");
    assert_eq!(order["items"][0]["productId"], "margherita");
    assert_eq!(order["items"][0]["quantity"], 2);
    assert_eq!(order["items"][0]["options"][0]["choice"], "medium", "a pizza gets its default options");
    let number = id.replace('-', "")[24..].to_ascii_uppercase();
    assert!(page.contains(&format!("Order #{number}")), "{page}");
    assert!(page.contains("2 × Margherita"));
    assert!(page.contains(&format!("${}.00", order["total"]["amount"].as_i64().unwrap() / 100)));
    assert!(page.contains(&format!("href=\"/orders/{id}\"")));
    assert!(page.contains("Thank you, Ana Lima!"));
    assert!(page.contains("href=\"/static/shop.css?v="), "the storefront's own stylesheet");
    // The name matches case-insensitively, spaces and all.
    assert_eq!(wan_pizza(&app, &wan_form("  QUATTRO formaggi ", "1", "ana@example.com")).await.status(), 200);
    assert_eq!(app.order_rows(), 2);
}

#[tokio::test]
async fn the_wan_pizza_route_s_pages_are_the_shop_s_own_whatever_is_sent() {
    let profile = stampede_domain::ShopProfile { name: "Casa Luigi".into(), ..Default::default() };
    let shop = stampede_web::shop::ShopSettings { profile, ..Default::default() };
    let app = TestApp::pizza_shop_with(|state| state.with_shop(shop)).await;
    let placed = wan_pizza(&app, &wan_form("margherita", "1", "ana@example.com")).await.text().await.unwrap();
    assert!(placed.contains("Casa Luigi"), "the confirmation names the shop: {placed}");
    let refused = wan_pizza(&app, &wan_form("Pineapple Dream", "1", "ana@example.com")).await.text().await.unwrap();
    assert!(refused.contains("Casa Luigi"), "so does a refusal: {refused}");
    let got = app.client.get(app.url(WAN_PIZZA)).send().await.unwrap();
    assert_eq!(got.status(), 405);
    assert_eq!(header(&got, "allow"), Some("POST"));
    assert!(header(&got, "content-type").unwrap().starts_with("text/html"), "a page, as everything on this route");
    let page = got.text().await.unwrap();
    assert!(page.contains("takes the order form only") && page.contains("Casa Luigi"), "{page}");
}

#[tokio::test]
async fn a_wrong_wan_pizza_form_says_what_is_wrong_and_places_nothing() {
    let app = TestApp::pizza_shop().await;
    let cases = [
        (wan_form("Pineapple Dream", "1", "ana@example.com"), 404, "no pizza called “Pineapple Dream”"),
        (wan_form("Margherita", "two", "ana@example.com"), 422, "how many"),
        (wan_form("Margherita", "0", "ana@example.com"), 422, "at least 1"),
        (wan_form("Margherita", "101", "ana@example.com"), 422, "at most 100"),
        (wan_form("Margherita", "1", "not-an-email"), 422, "not a valid email address"),
        (wan_form("Golden Slice Friday", "1", "ana@example.com"), 409, "sale isn&#39;t open yet"),
    ];
    for (fields, status, says) in cases {
        let resp = wan_pizza(&app, &fields).await;
        assert_eq!(resp.status().as_u16(), status, "{fields:?}");
        assert!(header(&resp, "content-type").unwrap().starts_with("text/html"));
        let page = resp.text().await.unwrap();
        assert!(page.contains("Your order was not placed"), "{page}");
        assert!(page.contains(says), "{says}: {page}");
    }
    let no_name = [("pizza_type", "Margherita"), ("quantity", "1"), ("customer_email", "ana@example.com")];
    assert_eq!(wan_pizza(&app, &no_name).await.status(), 422);
    assert_eq!(app.order_rows(), 0);
}

#[tokio::test]
async fn only_the_wan_pizza_path_is_exempt_from_csrf() {
    let app = TestApp::pizza_shop().await;
    // Every other form post without the token is still refused.
    for path in ["/cart/add", "/checkout", "/compat/wan-pizza/order/", "/compat/wan-pizza"] {
        let resp = app.client.post(app.url(path)).form(&[("product", "margherita")]).send().await.unwrap();
        assert_eq!(resp.status(), 403, "{path}");
    }
    // The route only places orders: no other method does anything there.
    let resp = app.client.get(app.url(WAN_PIZZA)).send().await.unwrap();
    assert_eq!(resp.status(), 405);
}
