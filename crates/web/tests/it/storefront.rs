//! The storefront pages over real HTTP: rendering, the cart cookie, the no-JavaScript
//! checkout with its validation messages and idempotency, friendly refusals, static assets
//! with ETags, the live stock stream, and a shutdown that open streams do not hold up.

use crate::common::*;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, COOKIE, ETAG, IF_NONE_MATCH, LOCATION, SET_COOKIE};
use reqwest::{Client, Response, redirect};
use serde_json::{Value, json};
use stampede_domain::SaleRules;

/// A client that shows redirects instead of following them, as a browser's form post sees them.
fn browser() -> Client {
    Client::builder().redirect(redirect::Policy::none()).build().unwrap()
}

async fn page(app: &TestApp, path: &str, cart: Option<&str>) -> Response {
    let mut req = browser().get(app.url(path)).header(ACCEPT, "text/html");
    if let Some(c) = cart {
        req = req.header(COOKIE, format!("cart={c}"));
    }
    req.send().await.unwrap()
}

/// A CSRF nonce the browser holds in its cookie (see auth::visitor).
const CSRF: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

async fn post_form(app: &TestApp, path: &str, cart: Option<&str>, form: &[(&str, &str)]) -> Response {
    // The forms' token is bound to the nonce: read it from a page, as a browser would.
    let menu = browser().get(app.url("/")).header(COOKIE, format!("csrf={CSRF}")).send().await.unwrap();
    let token = crate::common::browser::form_token(&menu.text().await.unwrap());
    let mut fields = form.to_vec();
    fields.push(("_csrf", &token));
    let cookie = match cart {
        Some(c) => format!("cart={c}; csrf={CSRF}"),
        None => format!("csrf={CSRF}"),
    };
    browser().post(app.url(path)).form(&fields).header(COOKIE, cookie).send().await.unwrap()
}

/// The cart value a response sets.
fn cart_cookie(resp: &Response) -> String {
    let set = resp.headers().get(SET_COOKIE).expect("a Set-Cookie").to_str().unwrap();
    assert!(set.contains("Path=/") && set.contains("SameSite=Lax") && set.contains("HttpOnly"), "{set}");
    set.strip_prefix("cart=").unwrap().split(';').next().unwrap().to_owned()
}

fn hidden_key(html: &str) -> String {
    let start = html.find(r#"name="key" value=""#).expect("a checkout key") + r#"name="key" value=""#.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn every_page_renders_and_unknown_pages_are_friendly_for_browsers_only() {
    let app = TestApp::pizza_shop().await;
    for (path, needle) in [
        ("/", "Midnight Truffle Pizza"),
        ("/products/margherita", "Extra toppings"),
        ("/cart", "Your cart is empty"),
        ("/checkout", "Browse the menu"),
        ("/my-orders", "Email used at checkout"),
    ] {
        let resp = page(&app, path, None).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
        assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
        assert!(resp.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
        let html = resp.text().await.unwrap();
        assert!(html.contains(needle), "{path} lacks {needle}");
    }
    let menu = page(&app, "/", None).await.text().await.unwrap();
    assert!(menu.contains(r#"aria-label="Illustration of Margherita""#), "pictures have alt text");
    assert!(menu.contains("data-countdown"), "the upcoming sale counts down");
    assert!(menu.contains(r#"data-stock-for="midnight-truffle">50 left"#));

    for path in ["/products/nope", "/orders/nope", "/no-such-page"] {
        let resp = page(&app, path, None).await;
        assert_eq!(resp.status(), 404, "{path}");
        assert!(resp.text().await.unwrap().contains("We couldn&#39;t find that page"), "{path}");
    }
    // The API and clients that do not ask for HTML keep problem+json.
    let api = app.client.get(app.url("/api/nope")).header(ACCEPT, "text/html").send().await.unwrap();
    expect_problem(api, 404, "not-found").await;
    expect_problem(app.get("/no-such-page").await, 404, "not-found").await;
}

#[tokio::test]
async fn the_first_page_fits_the_size_budget_and_assets_revalidate_with_etags() {
    let app = TestApp::pizza_shop().await;
    let html = page(&app, "/", None).await.text().await.unwrap();
    let mut total = html.len();
    for asset in ["shop.css", "shop.js"] {
        let start = html.find(&format!("/static/{asset}?v=")).expect("the page links its assets");
        let href = &html[start..start + html[start..].find('"').unwrap()];
        let resp = app.get(href).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()[CACHE_CONTROL],
            "public, max-age=31536000, immutable",
            "the linked version is for good"
        );
        let etag = resp.headers()[ETAG].clone();
        assert!(etag.to_str().unwrap().starts_with('"'), "a strong ETag");
        assert!(href.ends_with(etag.to_str().unwrap().trim_matches('"')), "the URL is versioned by content");
        total += resp.bytes().await.unwrap().len();
        let again = app.client.get(app.url(href)).header(IF_NONE_MATCH, etag.clone()).send().await.unwrap();
        assert_eq!(again.status(), 304);
        assert_eq!(again.headers()[ETAG], etag);
        assert!(again.bytes().await.unwrap().is_empty());
        let stale = app.client.get(app.url(href)).header(IF_NONE_MATCH, "\"old\"").send().await.unwrap();
        assert_eq!(stale.status(), 200);
        // Browsers get it gzipped: the same file, a representation with an ETag of its own.
        let plain = app.get(href).await.bytes().await.unwrap();
        let gzipped =
            app.client.get(app.url(href)).header("accept-encoding", "gzip, deflate, br").send().await.unwrap();
        assert_eq!(gzipped.headers()["content-encoding"], "gzip");
        assert_eq!(gzipped.headers()["vary"], "accept-encoding");
        assert_eq!(gzipped.headers()[CACHE_CONTROL], "public, max-age=31536000, immutable");
        let gzip_etag = gzipped.headers()[ETAG].to_str().unwrap().to_owned();
        assert_eq!(gzip_etag, format!("{}-gzip\"", etag.to_str().unwrap().trim_end_matches('"')));
        let packed = gzipped.bytes().await.unwrap();
        assert!(packed.len() * 2 < plain.len(), "{asset}: {} bytes gzipped against {}", packed.len(), plain.len());
        let mut unpacked = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&packed[..]), &mut unpacked).unwrap();
        assert_eq!(unpacked, plain, "{asset}: the same file");
        let current = app
            .client
            .get(app.url(href))
            .header("accept-encoding", "gzip")
            .header(IF_NONE_MATCH, &gzip_etag)
            .send()
            .await
            .unwrap();
        assert_eq!(current.status(), 304);
        // An old page's link (or none) must not pin this content in caches for a year.
        for other in [format!("/static/{asset}?v=0ld"), format!("/static/{asset}")] {
            let resp = app.get(&other).await;
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()[CACHE_CONTROL], "public, max-age=300", "{other}");
        }
    }
    assert!(total < 50 * 1024, "HTML + CSS + JS of the menu is {total} bytes");
    assert_eq!(page(&app, "/static/nope.js", None).await.status(), 404);
}

#[tokio::test]
async fn the_cart_lives_in_a_cookie_and_is_priced_by_the_server() {
    let app = TestApp::pizza_shop().await;
    let added = post_form(
        &app,
        "/cart/add",
        None,
        &[
            ("product", "margherita"),
            ("quantity", "2"),
            ("o.size", "large"),
            ("o.toppings", "basil"),
            ("o.toppings", "olives"),
        ],
    )
    .await;
    assert_eq!(added.status(), 303);
    assert_eq!(added.headers()[LOCATION], "/cart?added=margherita");
    let cart = cart_cookie(&added);
    assert_eq!(cart, "margherita.crust=classic.size=large.toppings=olives+basil*2", "canonical, catalog order");
    // The same pizza again adds up on one line; a drink gets its own.
    let again = post_form(
        &app,
        "/cart/add",
        Some(&cart),
        &[("product", "margherita"), ("o.toppings", "olives"), ("o.toppings", "basil"), ("o.size", "large")],
    )
    .await;
    let cart = cart_cookie(&again);
    let cart = cart_cookie(&post_form(&app, "/cart/add", Some(&cart), &[("product", "cola"), ("quantity", "1")]).await);
    assert_eq!(cart, "margherita.crust=classic.size=large.toppings=olives+basil*3|cola*1");
    let html = page(&app, "/cart?added=cola", Some(&cart)).await.text().await.unwrap();
    assert!(html.contains("Added Cola to your cart."));
    assert!(html.contains("$16.50 each"), "11 + 4 large + 1 olives + 0.50 basil");
    assert!(html.contains("$49.50") && html.contains("$52.00"), "line total and total");

    let key = "margherita.crust=classic.size=large.toppings=olives+basil";
    let updated = post_form(&app, "/cart/update", Some(&cart), &[("key", key), ("quantity", "1")]).await;
    assert_eq!(updated.headers()[LOCATION], "/cart");
    let cart = cart_cookie(&updated);
    assert_eq!(cart, "margherita.crust=classic.size=large.toppings=olives+basil*1|cola*1");
    let cart = cart_cookie(&post_form(&app, "/cart/remove", Some(&cart), &[("key", "cola")]).await);
    assert_eq!(cart, "margherita.crust=classic.size=large.toppings=olives+basil*1");
    let emptied = post_form(&app, "/cart/remove", Some(&cart), &[("key", key)]).await;
    assert!(emptied.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));

    // A client-side price or a corrupt cookie changes nothing but the client's own cart.
    for corrupt in ["garbage", "margherita*0", "x.y=%3Cscript%3E*1", &"a*1|".repeat(2000)] {
        let resp = page(&app, "/cart", Some(corrupt)).await;
        assert_eq!(resp.status(), 200, "{corrupt}");
        assert!(resp.text().await.unwrap().contains("Your cart is empty"));
        assert_eq!(page(&app, "/checkout", Some(corrupt)).await.status(), 200);
    }
    let gone = page(&app, "/cart", Some("no-such-pizza*2|cola*1")).await.text().await.unwrap();
    assert!(gone.contains("no longer on the menu and were removed") && gone.contains("$2.50"));
}

#[tokio::test]
async fn adding_explains_refusals_and_keeps_the_choices() {
    let app = TestApp::pizza_shop().await;
    let toppings = ["ham", "mushrooms", "olives", "pepperoni", "basil", "pineapple"].map(|t| ("o.toppings", t));
    let mut form = vec![("product", "pepperoni"), ("o.size", "small")];
    form.extend(toppings);
    let resp = post_form(&app, "/cart/add", None, &form).await;
    assert_eq!(resp.status(), 422);
    assert!(resp.headers().get(SET_COOKIE).is_none());
    let html = resp.text().await.unwrap();
    assert!(html.contains("Extra toppings: choose at most 5, got 6"));
    assert!(html.contains(r#"value="small" data-delta="-300" checked"#), "the choices are kept");

    let early = post_form(&app, "/cart/add", None, &[("product", "golden-slice")]).await;
    assert_eq!(early.status(), 409);
    assert!(early.text().await.unwrap().contains("The Golden Slice Friday sale isn&#39;t open yet. It opens in"));
    let limit = post_form(&app, "/cart/add", None, &[("product", "midnight-truffle"), ("quantity", "3")]).await;
    assert_eq!(limit.status(), 422);
    assert!(limit.text().await.unwrap().contains("At most 2 of Midnight Truffle Pizza per order"));
    assert_eq!(post_form(&app, "/cart/add", None, &[("product", "nope")]).await.status(), 404);
}

#[tokio::test]
async fn checkout_without_javascript_validates_then_places_exactly_one_order() {
    let app = TestApp::pizza_shop().await;
    let cart = "margherita.size=large*2|cola*1";
    let form_page = page(&app, "/checkout", Some(cart)).await.text().await.unwrap();
    let key = hidden_key(&form_page);
    assert_ne!(
        key,
        hidden_key(&page(&app, "/checkout", Some(cart)).await.text().await.unwrap()),
        "a fresh key per view"
    );

    let invalid = post_form(
        &app,
        "/checkout",
        Some(cart),
        &[("key", &key), ("name", ""), ("email", "nope"), ("fulfilment", "delivery"), ("city", "Springfield")],
    )
    .await;
    assert_eq!(invalid.status(), 422);
    let html = invalid.text().await.unwrap();
    for message in [
        "Enter your name",
        "Enter an email address like",
        "Enter the street and number.",
        "Enter a postcode",
        "Enter a phone number",
    ] {
        assert!(html.contains(message), "{message}");
    }
    assert!(html.contains(r#"aria-describedby="email-error""#));
    assert!(html.contains(r#"value="Springfield""#), "what was typed is kept");
    assert_eq!(hidden_key(&html), key, "the same checkout keeps its key");
    assert_eq!(app.order_rows(), 0);

    let mut form = vec![("key", key.as_str())];
    form.extend(DELIVERY_FORM);
    let first = post_form(&app, "/checkout", Some(cart), &form).await;
    assert_eq!(first.status(), 303);
    assert!(first.headers()[SET_COOKIE].to_str().unwrap().starts_with("cart=; "), "the cart is emptied");
    let location = first.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with("/orders/") && location.ends_with("?placed=1"));
    // A double click or a re-submit with the cart still in the cookie lands on the same order.
    let second = post_form(&app, "/checkout", Some(cart), &form).await;
    assert_eq!(second.headers()[LOCATION].to_str().unwrap(), location);
    assert_eq!(app.order_rows(), 1);

    // The browser that placed the order is remembered in a signed cookie: it sees the details.
    let access = first
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("orders="))
        .expect("an order-access cookie");
    assert!(access.contains("HttpOnly") && access.contains("SameSite=Lax"), "{access}");
    let access = access.split(';').next().unwrap().to_owned();
    let confirmation =
        send_text(browser().get(app.url(&location)).header(ACCEPT, "text/html").header(COOKIE, &access)).await;
    for needle in [
        "Thank you, Ana! Your order is in.",
        "2 × Margherita",
        "Large 35 cm",
        "$32.50",
        "Order received",
        "1 Main St",
        "12345 Springfield",
        "555 0100",
        "As soon as possible",
    ] {
        assert!(confirmation.contains(needle), "{needle}");
    }
    let id = location.trim_start_matches("/orders/").trim_end_matches("?placed=1");
    let order: Value = app.admin_get(&format!("/api/orders/{id}")).await.json().await.unwrap();
    assert_eq!(order["fulfilment"], delivery());
    // Anyone else with the link sees the status and items, not who ordered or where it goes.
    let stranger = page(&app, &location, None).await.text().await.unwrap();
    assert!(stranger.contains("2 × Margherita") && stranger.contains("Order received"));
    for personal in ["Ana", "ana@example.com", "1 Main St", "Springfield", "555 0100", "Cancel this order"] {
        assert!(!stranger.contains(personal), "{personal} shown to a stranger");
    }
    // The customer's browser may cancel while the kitchen has not started.
    assert!(confirmation.contains("Cancel this order"));
    let forged = post_form(&app, &format!("/orders/{id}/cancel"), None, &[]).await;
    assert_eq!(forged.status(), 403, "a stranger cannot cancel");
    // The JSON API takes no CSRF token, so a page of another site cannot use this browser's
    // cookies there, not even a sibling subdomain's form, which SameSite=Lax lets through.
    let url = app.url(&format!("/api/orders/{id}/cancel"));
    for site in ["same-site", "cross-site"] {
        let from_elsewhere =
            browser().post(&url).header(COOKIE, &access).header("sec-fetch-site", site).send().await.unwrap();
        assert_eq!(from_elsewhere.status(), 403, "{site}");
    }
    let token = {
        let menu = browser().get(app.url("/")).header(COOKIE, format!("csrf={CSRF}; {access}")).send().await.unwrap();
        crate::common::browser::form_token(&menu.text().await.unwrap())
    };
    let cancelled = browser()
        .post(app.url(&format!("/orders/{id}/cancel")))
        .header(COOKIE, format!("csrf={CSRF}; {access}"))
        .form(&[("_csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 303);
    assert_eq!(app.admin_get(&format!("/api/orders/{id}")).await.json::<Value>().await.unwrap()["status"], "cancelled");
}

#[tokio::test]
async fn checkout_refusals_are_explained_on_the_form() {
    let app = TestApp::start().await;
    app.add_product("last-one", 500, 1, SaleRules::default()).await;
    let html = page(&app, "/checkout", Some("last-one*1")).await.text().await.unwrap();
    let key = hidden_key(&html);
    // Someone else buys the last one between the form and the submit.
    assert_eq!(app.order(&order_body("bo@example.com", "last-one", 1), None).await.status(), 201);
    let mut form = vec![("key", key.as_str()), ("fulfilment", "pickup")];
    form.extend(&DELIVERY_FORM[..2]);
    let resp = post_form(&app, "/checkout", Some("last-one*1"), &form).await;
    assert_eq!(resp.status(), 409);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Sorry, Product last-one just sold out."), "{html}");
    assert_eq!(hidden_key(&html), key);
    let empty = post_form(&app, "/checkout", None, &form).await;
    assert_eq!(empty.status(), 409);
    assert!(empty.text().await.unwrap().contains("Your cart is empty"));
}

#[tokio::test]
async fn the_api_takes_and_returns_fulfilment_and_stays_compatible() {
    let app = TestApp::pizza_shop().await;
    let mut body = order_body("cy@example.com", "cola", 1);
    let plain: Value = app.order(&body, None).await.json().await.unwrap();
    assert!(plain.get("fulfilment").is_none(), "absent when not given");
    body["fulfilment"] = json!({"type": "pickup"});
    let pickup: Value = app.order(&body, None).await.json().await.unwrap();
    assert_eq!(pickup["fulfilment"], json!({"type": "pickup"}));
    body["fulfilment"] = json!({"type": "delivery", "address": "1 Main St", "city": "Springfield", "postcode": "#"});
    let problem = expect_problem(app.order(&body, None).await, 422, "validation").await;
    assert_eq!(problem["field"], "fulfilment.postcode");
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    assert!(doc["components"]["schemas"]["FulfilmentDto"].is_object());
    assert!(doc["components"]["schemas"]["OrderDto"]["properties"]["fulfilment"].is_object());
}

#[tokio::test]
async fn the_stock_stream_sends_levels_then_every_change() {
    let app = TestApp::pizza_shop().await;
    let mut resp = app.get("/api/stock/events").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()[CONTENT_TYPE], "text/event-stream");
    let mut buffer = String::new();
    let stock_of =
        |levels: &Value, id: &str| levels.as_array().unwrap().iter().find(|p| p["id"] == id).unwrap()["stock"].clone();
    let first = next_stock(&mut resp, &mut buffer, |_| true).await;
    assert_eq!(stock_of(&first, "midnight-truffle"), 50);
    assert_eq!(app.order(&order_body("dee@example.com", "midnight-truffle", 2), None).await.status(), 201);
    let after = next_stock(&mut resp, &mut buffer, |l| stock_of(l, "midnight-truffle") != 50).await;
    assert_eq!(stock_of(&after, "midnight-truffle"), 48);
    assert_eq!(after.as_array().unwrap().iter().find(|p| p["id"] == "midnight-truffle").unwrap()["soldOut"], false);
}

#[tokio::test]
async fn pages_name_the_shop_and_checkout_says_where_to_pick_up_and_how_to_pay() {
    let shop = stampede_domain::ShopProfile {
        name: "Luigi's".into(),
        address: "9 Oven Lane, Springfield".into(),
        phone: "555-0100".into(),
    };
    let settings = stampede_web::shop::ShopSettings { profile: shop, ..Default::default() };
    let app = TestApp::start_with(|state| state.with_shop(settings)).await;
    app.add_product("p", 500, 5, SaleRules::default()).await;
    let menu = page(&app, "/", None).await.text().await.unwrap();
    assert!(menu.contains("<title>Menu · Luigi&#39;s</title>") || menu.contains("Luigi&#39;s"), "{menu}");
    assert!(
        menu.contains("555-0100") && menu.contains("9 Oven Lane, Springfield"),
        "the footer has the contact details"
    );
    let checkout = page(&app, "/checkout", Some("p*1")).await.text().await.unwrap();
    assert!(checkout.contains("Pickup at the counter<small>9 Oven Lane, Springfield</small>"), "{checkout}");
    assert!(checkout.contains("You pay when you pick up your order or when it is delivered."));
    assert!(!checkout.contains("Pressing twice"), "no developer wording");
}

#[tokio::test]
async fn pages_carry_the_server_clock_and_reload_without_javascript_for_a_near_sale_change() {
    let app = TestApp::start().await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let soon = SaleRules { starts_at: Some(now + 120_000), ..SaleRules::default() };
    app.add_product("soon", 500, 5, soon).await;
    let far = SaleRules { starts_at: Some(now + 86_400_000), ends_at: Some(now + 90_000_000), ..SaleRules::default() };
    app.add_product("far", 500, 5, far).await;

    let html = page(&app, "/products/soon", None).await.text().await.unwrap();
    let server_now: i64 =
        html.split(r#"data-server-now=""#).nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
    assert!((server_now - now).abs() < 60_000, "the page says what time the server has");
    let refresh: i64 = html
        .split(r#"<noscript><meta http-equiv="refresh" content=""#)
        .nth(1)
        .expect("a sale opening in two minutes reloads the page then")
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((100..=120).contains(&refresh), "{refresh}");
    assert!(html.contains(&format!(r#"data-sale-state="soon" data-opens="{}""#, now + 120_000)));
    let far_page = page(&app, "/products/far", None).await.text().await.unwrap();
    assert!(!far_page.contains("http-equiv=\"refresh\""), "a sale a day away does not reload the page");
    assert!(far_page.contains(&format!(r#"data-opens="{}" data-closes="{}""#, now + 86_400_000, now + 90_000_000)));
    let menu = page(&app, "/", None).await.text().await.unwrap();
    assert!(menu.contains(r#"<noscript><meta http-equiv="refresh""#), "the menu reloads for the nearest change");
}

#[tokio::test]
async fn the_cached_menu_carries_each_visitors_own_token_and_follows_stock() {
    let app = TestApp::pizza_shop().await;
    let (mut ana, mut bob) =
        (crate::common::browser::Browser::new(&app.base), crate::common::browser::Browser::new(&app.base));
    let tokens = |html: &str| -> std::collections::BTreeSet<String> {
        html.split("name=\"_csrf\" value=\"").skip(1).map(|rest| rest[..rest.find('"').unwrap()].to_owned()).collect()
    };
    let (first, second) = (ana.get("/").await.html, bob.get("/").await.html);
    let (ana_tokens, bob_tokens) = (tokens(&first), tokens(&second));
    assert_eq!(ana_tokens.len(), 1, "every form on ana's menu carries her one token");
    assert_eq!(bob_tokens.len(), 1);
    assert_ne!(ana_tokens, bob_tokens, "the cached sections never carry another visitor's token");
    assert!(!first.contains("csrf-token"), "no mark is left in the page");
    // The token works: ana adds to her cart from the cached menu.
    let token = ana_tokens.into_iter().next().unwrap();
    let added = ana.post("/cart/add", &[("_csrf", &token), ("product", "cola"), ("quantity", "1")]).await;
    assert_eq!(added.status, 303);
    // A sale changes the stock: the next menu shows it at once, not a second later.
    let before = ana.get("/").await.html;
    assert!(before.contains("data-stock-for=\"midnight-truffle\">50 left"), "{before}");
    assert_eq!(app.order(&order_body("dee@example.com", "midnight-truffle", 2), None).await.status(), 201);
    let after = ana.get("/").await.html;
    assert!(after.contains("data-stock-for=\"midnight-truffle\">48 left"), "the menu follows the sale");
}

#[tokio::test]
async fn the_cached_product_page_carries_each_visitors_own_token_cart_and_the_stock() {
    let app = TestApp::pizza_shop().await;
    let (mut ana, mut bob) =
        (crate::common::browser::Browser::new(&app.base), crate::common::browser::Browser::new(&app.base));
    let token = |html: &str| -> String {
        let rest = html.split("name=\"_csrf\" value=\"").nth(1).expect("a builder form");
        rest[..rest.find('"').unwrap()].to_owned()
    };
    let path = "/products/midnight-truffle";
    let (first, second) = (ana.get(path).await.html, bob.get(path).await.html);
    assert_ne!(token(&first), token(&second), "the cached builder never carries another visitor's token");
    assert!(!first.contains("csrf-token") && !second.contains("csrf-token"), "no mark is left in the page");
    assert!(first.contains("data-stock-for=\"midnight-truffle\" aria-live=\"polite\">50 left"), "{first}");
    // Each product has its own rendering.
    let other = bob.get("/products/margherita").await.html;
    assert!(other.contains("<h1>Margherita</h1>") && !other.contains("midnight-truffle"), "{other}");
    // The token works: ana adds one from the cached page, and then sees her cart on it.
    let added =
        ana.post("/cart/add", &[("_csrf", &token(&first)), ("product", "midnight-truffle"), ("quantity", "1")]).await;
    assert_eq!(added.status, 303);
    assert!(ana.get(path).await.html.contains("You have 1 in your"), "ana's page shows her cart");
    assert!(!bob.get(path).await.html.contains("You have"), "bob's does not");
    // A sale changes the stock: the next page shows it at once, not a second later.
    assert_eq!(app.order(&order_body("dee@example.com", "midnight-truffle", 2), None).await.status(), 201);
    let after = bob.get(path).await.html;
    assert!(
        after.contains("data-stock-for=\"midnight-truffle\" aria-live=\"polite\">48 left"),
        "the page follows the sale: {after}"
    );
    // Staff renaming it shows at once too.
    let store = app.store.as_ref();
    let mut truffle = stampede_store::Store::product(store, "midnight-truffle").await.unwrap().unwrap().product;
    truffle.name = "Midnight Truffle Royale".to_owned();
    stampede_store::Backoffice::update_product(store, truffle).await.unwrap();
    let renamed = bob.get(path).await.html;
    assert!(renamed.contains("<h1>Midnight Truffle Royale</h1>"), "the page follows the edit: {renamed}");
}
