//! Per-customer limits count one mailbox once (#20): `sam+2@example.com` shares
//! `sam@example.com`'s limit, Gmail's dots too when the owner turns that on, while receipts
//! and order pages keep the address as typed. Over real HTTP, the API and the checkout form.

use crate::common::browser::Browser;
use crate::common::*;
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

fn checkout_key(html: &str) -> String {
    let start = html.find(r#"name="key" value=""#).unwrap() + r#"name="key" value=""#.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn the_product_page_and_cart_say_what_a_known_buyer_has_left() {
    let app = TestApp::start().await;
    app.add_product("deal", 100, 20, two_each()).await;
    app.add_product("free", 100, 20, SaleRules::default()).await;

    // A stranger sees the limit, nothing about purchases.
    let mut browser = Browser::new(&app.base);
    let fresh = browser.get("/products/deal").await.html;
    assert!(fresh.contains("Limit 2 per customer") && !fresh.contains("You already bought"), "{fresh}");

    // After a checkout in this browser, its email is remembered (signed) for the limit notes.
    browser.cookies.insert("cart".into(), "deal*2|free*1".into());
    let key = checkout_key(&browser.get("/checkout").await.html);
    let placed = browser
        .post("/checkout", &[("key", &key), ("name", "Sam"), ("email", "sam@example.com"), ("fulfilment", "pickup")])
        .await;
    assert_eq!(placed.status, 303, "{}", placed.html);
    assert!(
        placed.set_cookies.iter().any(|c| c.starts_with("buyer=") && c.contains("HttpOnly")),
        "{:?}",
        placed.set_cookies
    );
    let page = browser.get("/products/deal").await.html;
    assert!(page.contains("You already bought 2 of 2, the most per customer."), "{page}");
    assert!(page.contains("data-limit disabled>Limit reached</button>"), "the buy button is off: {page}");
    let free = browser.get("/products/free").await.html;
    assert!(!free.contains("You already bought") && free.contains(">Add to cart</button>"), "unlimited: {free}");
    browser.cookies.insert("cart".into(), "deal*1".into());
    let cart = browser.get("/cart").await.html;
    assert!(cart.contains("At most 2 of Product deal per customer; you already have 2"), "{cart}");

    // A buyer cookie written by hand is not believed.
    let mut forger = Browser::new(&app.base);
    let forged = format!("{}~{}", "73616d406578616d706c652e636f6d", "0".repeat(43));
    forger.cookies.insert("buyer".into(), forged);
    assert!(!forger.get("/products/deal").await.html.contains("You already bought"));
    // The forger's page, at this stock, is the one every stranger gets (rendered once); the
    // buyer's, with nothing in the cart, is still his own.
    browser.cookies.remove("cart");
    assert!(browser.get("/products/deal").await.html.contains("You already bought 2 of 2"));

    // A signed-in customer sees theirs, counted under the limit key (a +tag is the same buyer).
    app.create_user("ana@example.com", None, stampede_store::Role::Customer).await;
    assert_eq!(app.order(&order_body("ana+deals@example.com", "deal", 1), None).await.status(), 201);
    let mut ana = Browser::new(&app.base);
    ana.sign_in("ana@example.com", "correct horse battery").await;
    let page = ana.get("/products/deal").await.html;
    assert!(page.contains("You already bought 1 of 2: you can buy 1 more."), "{page}");
    assert!(page.contains(r#"min="1" max="1""#) && page.contains(">Add to cart</button>"), "{page}");
    ana.cookies.insert("cart".into(), "deal*1".into());
    let cart = ana.get("/cart").await.html;
    assert!(cart.contains("You already bought 1 of 2: you can buy 1 more."), "{cart}");
    // Adding past what is left is refused with the same words the order would get.
    let refused = ana.post("/cart/add", &[("product", "deal"), ("quantity", "1")]).await;
    assert_eq!(refused.status, 409, "{}", refused.html);
    assert!(refused.html.contains("you already have 1"), "{}", refused.html);
}
