//! A signed-in customer's cart follows them (#20): changes are saved on the account, and
//! signing in on another browser merges the account's cart into that browser's. Ordering
//! empties it everywhere the next sign-in looks.

use crate::common::browser::Browser;
use crate::common::*;
use stampede_domain::SaleRules;
use stampede_store::{Accounts, Role, SqliteAccounts};

fn lines(html: &str) -> usize {
    html.matches(r#"class="line""#).count()
}

#[tokio::test]
async fn a_cart_follows_its_customer_to_another_browser() {
    let app = TestApp::start().await;
    app.add_product("pizza", 1000, 20, SaleRules::default()).await;
    app.add_product("cola", 250, 20, SaleRules::default()).await;
    app.add_product("water", 150, 20, SaleRules::default()).await;
    let accounts = SqliteAccounts::open(&app.db_path).unwrap();
    let ana = app.create_user("ana@example.com", Some("Ana"), Role::Customer).await;

    // The laptop had a cola in its cart before signing in; signing in keeps it, saved.
    let mut laptop = Browser::new(&app.base);
    laptop.cookies.insert("cart".into(), "cola*1".into());
    laptop.sign_in("ana@example.com", PASSWORD).await;
    assert_eq!(accounts.saved_cart(&ana.id).await.unwrap().as_deref(), Some("cola*1"));
    let added = laptop.post("/cart/add", &[("product", "pizza"), ("quantity", "2")]).await;
    assert_eq!(added.status, 303, "{}", added.html);
    assert_eq!(accounts.saved_cart(&ana.id).await.unwrap().as_deref(), Some("cola*1|pizza*2"));

    // The phone has water in its cart; signing in there brings the laptop's cart along.
    let mut phone = Browser::new(&app.base);
    phone.cookies.insert("cart".into(), "water*3|pizza*1".into());
    let signed = phone.sign_in("ana@example.com", PASSWORD).await;
    assert!(
        signed.set_cookies.iter().any(|c| c.starts_with("cart=water*3|pizza*2|cola*1;")),
        "{:?}",
        signed.set_cookies
    );
    let cart = phone.get("/cart").await.html;
    assert_eq!(lines(&cart), 3, "{cart}");
    assert!(cart.contains("Product water") && cart.contains("Product cola") && cart.contains("Product pizza"));
    assert_eq!(accounts.saved_cart(&ana.id).await.unwrap().as_deref(), Some("water*3|pizza*2|cola*1"));

    // Removing a line is saved too; signing out leaves the account's cart for next time.
    let removed = phone.post("/cart/remove", &[("key", "water")]).await;
    assert_eq!(removed.status, 303);
    assert_eq!(accounts.saved_cart(&ana.id).await.unwrap().as_deref(), Some("pizza*2|cola*1"));
    let mut tablet = Browser::new(&app.base);
    tablet.sign_in("ana@example.com", PASSWORD).await;
    assert_eq!(lines(&tablet.get("/cart").await.html), 2);

    // An order empties the saved cart: the next browser to sign in starts empty.
    let form = tablet.get("/checkout").await.html;
    let start = form.find(r#"name="key" value=""#).unwrap() + r#"name="key" value=""#.len();
    let key = form[start..start + form[start..].find('"').unwrap()].to_owned();
    let placed = tablet.post("/checkout", &[("key", &key), ("name", "Ana"), ("fulfilment", "pickup")]).await;
    assert_eq!(placed.status, 303, "{}", placed.html);
    assert_eq!(accounts.saved_cart(&ana.id).await.unwrap(), None);
    let mut desk = Browser::new(&app.base);
    let signed = desk.sign_in("ana@example.com", PASSWORD).await;
    assert!(!signed.set_cookies.iter().any(|c| c.starts_with("cart=")), "{:?}", signed.set_cookies);

    // Someone else's sign-in never sees Ana's cart; staff carts are not kept.
    app.create_user("bob@example.com", None, Role::Customer).await;
    laptop.post("/cart/add", &[("product", "cola"), ("quantity", "1")]).await;
    let mut bob = Browser::new(&app.base);
    let signed = bob.sign_in("bob@example.com", PASSWORD).await;
    assert!(!signed.set_cookies.iter().any(|c| c.starts_with("cart=")));
    let cook = app.create_user("cook@example.com", None, Role::Kitchen).await;
    let mut kitchen = Browser::new(&app.base);
    kitchen.sign_in("cook@example.com", PASSWORD).await;
    kitchen.post("/cart/add", &[("product", "cola"), ("quantity", "1")]).await;
    assert_eq!(accounts.saved_cart(&cook.id).await.unwrap(), None);
}
