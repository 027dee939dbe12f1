//! Per-customer limits count one mailbox once (#20): `sam+2@example.com` shares
//! `sam@example.com`'s limit, Gmail's dots too when the owner turns that on, while receipts
//! and order pages keep the address as typed. Over real HTTP, the API and the checkout form.

mod common;

use common::browser::Browser;
use common::*;
use serde_json::Value;
use stampede_domain::{LimitKeyRules, SaleRules};
use stampede_web::shop::ShopSettings;

fn two_each() -> SaleRules {
    SaleRules { per_customer_max: Some(2), ..SaleRules::default() }
}

#[tokio::test]
async fn a_plus_tag_cannot_pass_the_limit_of_the_address_without_it() {
    let app = TestApp::start().await;
    app.add_product("deal", 100, 20, two_each()).await;
    let sam: Value = app.order(&order_body("sam@example.com", "deal", 2), None).await.json().await.unwrap();
    for tagged in ["sam+2@example.com", "Sam+deals@Example.com"] {
        let p = expect_problem(app.order(&order_body(tagged, "deal", 1), None).await, 409, "customer-limit").await;
        assert!(p["detail"].as_str().unwrap().contains("you already have 2"), "{tagged}: {p}");
    }
    // The checkout form keys the same way.
    let mut browser = Browser::new(&app.base);
    browser.cookies.insert("cart".into(), "deal*1".into());
    let form = browser.get("/checkout").await.html;
    let start = form.find(r#"name="key" value=""#).unwrap() + r#"name="key" value=""#.len();
    let key = &form[start..start + form[start..].find('"').unwrap()];
    let page = browser
        .post(
            "/checkout",
            &[("key", key), ("name", "Sam"), ("email", "sam+shop@example.com"), ("fulfilment", "pickup")],
        )
        .await;
    assert_eq!(page.status, 409, "{}", page.html);
    assert!(page.html.contains("At most 2 of Product deal per customer; you already have 2"), "{}", page.html);
    assert_eq!(app.order_rows(), 1);

    // Cancelling a tagged order gives the units back to the one limit.
    let other = TestApp::start().await;
    other.add_product("deal", 100, 20, two_each()).await;
    let tagged: Value = other.order(&order_body("sam+1@example.com", "deal", 2), None).await.json().await.unwrap();
    assert_eq!(tagged["customer"]["email"], "sam+1@example.com", "the address is kept as typed");
    assert_eq!(tagged["customer"]["id"], "sam+1@example.com", "and the order is found under it");
    expect_problem(other.order(&order_body("sam@example.com", "deal", 1), None).await, 409, "customer-limit").await;
    let cancelled = other.cancel(tagged["id"].as_str().unwrap(), tagged["accessToken"].as_str()).await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(other.order(&order_body("sam@example.com", "deal", 2), None).await.status(), 201);
    drop(sam);
}

#[tokio::test]
async fn gmail_dots_count_as_one_address_only_when_the_owner_says_so() {
    let plain = TestApp::start().await;
    plain.add_product("deal", 100, 20, two_each()).await;
    assert_eq!(plain.order(&order_body("sam@gmail.com", "deal", 2), None).await.status(), 201);
    assert_eq!(plain.order(&order_body("s.a.m@gmail.com", "deal", 2), None).await.status(), 201, "off by default");

    let settings = ShopSettings { limit_keys: LimitKeyRules { gmail_dots: true }, ..ShopSettings::default() };
    let strict = TestApp::start_with(|state| state.with_shop(settings)).await;
    strict.add_product("deal", 100, 20, two_each()).await;
    assert_eq!(strict.order(&order_body("sam@gmail.com", "deal", 2), None).await.status(), 201);
    for other in ["s.a.m@gmail.com", "sa.m+x@googlemail.com"] {
        expect_problem(strict.order(&order_body(other, "deal", 1), None).await, 409, "customer-limit").await;
    }
    assert_eq!(strict.order(&order_body("s.a.m@example.com", "deal", 2), None).await.status(), 201, "Gmail only");
}
