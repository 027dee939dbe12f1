//! Checkout's phone number and pickup/delivery time over real HTTP (#20): a phone is needed
//! for delivery and checked, the time is "as soon as possible" or a slot within the opening
//! hours, both are stored with the order and shown to the customer and the kitchen, and
//! neither reaches anyone else.

use crate::common::browser::Browser;
use crate::common::*;
use serde_json::{Value, json};
use stampede_domain::{OpeningHours, SaleRules};
use stampede_store::Role;
use stampede_web::shop::ShopSettings;

/// Open from midnight to noon UTC every day: tomorrow morning always has slots, and
/// tomorrow afternoon is always closed, whenever the test runs.
async fn morning_shop() -> TestApp {
    let hours = OpeningHours::parse("daily 00:00-12:00").unwrap();
    let settings = ShopSettings { opening_hours: Some(hours), ..ShopSettings::default() };
    let app = TestApp::start_with(|state| state.with_shop(settings)).await;
    app.add_product("p", 500, 50, SaleRules::default()).await;
    app
}

fn with_fulfilment(fulfilment: Value) -> Value {
    json!({"customer": {"email": "ana@example.com", "name": "Ana"}, "items": [{"productId": "p", "quantity": 1}],
           "fulfilment": fulfilment})
}

/// The slot values the checkout offers, in order.
fn offered_slots(html: &str) -> Vec<String> {
    html.split(r#"<option value=""#)
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

async fn checkout_page(browser: &mut Browser) -> String {
    browser.cookies.insert("cart".into(), "p*1".into());
    let page = browser.get("/checkout").await;
    assert_eq!(page.status, 200);
    page.html
}

fn key_of(html: &str) -> String {
    let start = html.find(r#"name="key" value=""#).unwrap() + r#"name="key" value=""#.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn delivery_needs_a_phone_and_the_number_is_checked_on_the_form_and_the_api() {
    let app = morning_shop().await;
    let mut ana = Browser::new(&app.base);
    let html = checkout_page(&mut ana).await;
    assert!(html.contains(r#"name="phone" type="tel" autocomplete="tel""#));
    let key = key_of(&html);
    let mut form = vec![
        ("key", key.as_str()),
        ("name", "Ana"),
        ("email", "ana@example.com"),
        ("fulfilment", "delivery"),
        ("address", "1 Main St"),
        ("city", "Springfield"),
        ("postcode", "12345"),
    ];
    let missing = ana.post("/checkout", &form).await;
    assert_eq!(missing.status, 422);
    assert!(missing.html.contains("Enter a phone number, so the driver can call you."), "{}", missing.html);
    assert!(missing.html.contains(r#"aria-describedby="phone-error""#));
    form.push(("phone", "call me maybe"));
    let bad = ana.post("/checkout", &form).await;
    assert_eq!(bad.status, 422);
    assert!(bad.html.contains("Enter a phone number of 6 to 15 digits"), "{}", bad.html);
    assert!(bad.html.contains(r#"value="call me maybe""#), "what was typed is kept");
    assert_eq!(app.order_rows(), 0);

    // Pickup needs no phone.
    let pickup = [("key", key.as_str()), ("name", "Ana"), ("email", "ana@example.com"), ("fulfilment", "pickup")];
    let placed = ana.post("/checkout", &pickup).await;
    assert_eq!(placed.status, 303, "{}", placed.html);

    // The API says the same in problem+json.
    let address = json!({"type": "delivery", "address": "1 Main St", "city": "Springfield", "postcode": "12345"});
    let p = expect_problem(app.order(&with_fulfilment(address.clone()), None).await, 422, "validation").await;
    assert_eq!(p["field"], "fulfilment.phone");
    assert!(p["detail"].as_str().unwrap().contains("enter a phone number"), "{p}");
    let mut typo = address.clone();
    typo["phone"] = json!("555-CALL");
    let p = expect_problem(app.order(&with_fulfilment(typo), None).await, 422, "validation").await;
    assert_eq!(p["field"], "fulfilment.phone");
    let mut good = address;
    good["phone"] = json!(" +1 (555) 010-0123 ");
    let resp = app.order(&with_fulfilment(good), None).await;
    assert_eq!(resp.status(), 201);
    let order: Value = resp.json().await.unwrap();
    assert_eq!(order["fulfilment"]["phone"], "+1 (555) 010-0123", "trimmed, kept as typed");
    assert!(order["fulfilment"].get("slot").is_none(), "no slot: as soon as possible");
    let pickup_phone = app.order(&with_fulfilment(json!({"type": "pickup", "phone": "555 0100"})), None).await;
    assert_eq!(pickup_phone.status(), 201, "a phone for pickup is welcome too");
}

#[tokio::test]
async fn a_slot_within_opening_hours_is_stored_and_shown_to_customer_and_kitchen_only() {
    let app = morning_shop().await;
    let mut ana = Browser::new(&app.base);
    let html = checkout_page(&mut ana).await;
    assert!(html.contains(r#"<option value="">As soon as possible</option>"#), "{html}");
    let slots = offered_slots(&html);
    assert!(!slots.is_empty(), "tomorrow morning has slots");
    let slot = slots.last().unwrap().clone();
    assert!(slot.ends_with("T11:45:00Z"), "the last slot starts a quarter before closing: {slot}");
    let key = key_of(&html);

    // A slot outside the hours, past, or off the quarter hours gets a message at the field.
    let closed = slot.replace("T11:45", "T13:00");
    let off_grid = slot.replace("T11:45", "T11:50");
    for (bad, message) in [
        (closed.as_str(), "The shop is closed at that time: choose a time within the opening hours."),
        ("2020-01-01T10:00:00Z", "That time has passed or is too soon"),
        (off_grid.as_str(), "Times start every 15 minutes"),
        ("next tuesday", "Choose a time from the list."),
    ] {
        let form = [
            ("key", key.as_str()),
            ("name", "Ana"),
            ("email", "ana@example.com"),
            ("fulfilment", "pickup"),
            ("slot", bad),
        ];
        let page = ana.post("/checkout", &form).await;
        assert_eq!(page.status, 422, "{bad}");
        assert!(page.html.contains(message), "{bad}: {}", page.html);
        assert!(page.html.contains(r#"aria-describedby="slot-error""#));
    }
    assert_eq!(app.order_rows(), 0);

    let mut form = vec![("key", key.as_str()), ("slot", slot.as_str())];
    form.extend(DELIVERY_FORM);
    let placed = ana.post("/checkout", &form).await;
    assert_eq!(placed.status, 303, "{}", placed.html);
    let location = placed.location.unwrap();
    let id = location.trim_start_matches("/orders/").trim_end_matches("?placed=1").to_owned();
    let mine = ana.get(&location).await.html;
    assert!(mine.contains(&format!(r#"<time datetime="{slot}" data-local>"#)), "{mine}");
    assert!(mine.contains(", 11:45 UTC") && mine.contains("555 0100"), "{mine}");

    let api: Value = app.admin_get(&format!("/api/orders/{id}")).await.json().await.unwrap();
    assert_eq!(api["fulfilment"]["slot"], slot.as_str());
    assert_eq!(api["fulfilment"]["phone"], "555 0100");

    // The kitchen's list and order page show both; a stranger with the link sees neither.
    app.create_user("cook@example.com", None, Role::Kitchen).await;
    let mut cook = Browser::new(&app.base);
    cook.sign_in("cook@example.com", "correct horse battery").await;
    let list = cook.get("/admin/orders").await.html;
    assert!(list.contains(r#"href="tel:5550100" data-phone>555 0100</a>"#), "{list}");
    assert!(list.contains(", 11:45 UTC</span>"), "{list}");
    let detail = cook.get(&format!("/admin/orders/{id}")).await.html;
    assert!(detail.contains("555 0100") && detail.contains(", 11:45 UTC"), "{detail}");
    let stranger = Browser::new(&app.base).get(&format!("/orders/{id}")).await.html;
    assert!(!stranger.contains("555 0100") && !stranger.contains("11:45"), "{stranger}");
    let public: Value = app.get(&format!("/api/orders/{id}")).await.json().await.unwrap();
    assert!(public.get("fulfilment").is_none(), "{public}");

    // The API refuses what the form refuses, as problem+json naming the field.
    let pickup_at = |at: &str| with_fulfilment(json!({"type": "pickup", "slot": at}));
    let p = expect_problem(app.order(&pickup_at(&closed), None).await, 422, "validation").await;
    assert_eq!(p["field"], "fulfilment.slot");
    assert!(p["detail"].as_str().unwrap().contains("the shop is closed at that time"), "{p}");
    let p = expect_problem(app.order(&pickup_at("2020-01-01T10:00:00Z"), None).await, 422, "validation").await;
    assert!(p["detail"].as_str().unwrap().contains("has passed"), "{p}");
    let p = expect_problem(app.order(&pickup_at("tomorrow"), None).await, 422, "validation").await;
    assert!(p["detail"].as_str().unwrap().contains("RFC 3339"), "{p}");
    assert_eq!(app.order(&pickup_at(&slots[0]), None).await.status(), 201);
}

#[tokio::test]
async fn without_opening_hours_orders_are_for_as_soon_as_possible_only() {
    let app = TestApp::start().await;
    app.add_product("p", 500, 5, SaleRules::default()).await;
    let mut ana = Browser::new(&app.base);
    let html = checkout_page(&mut ana).await;
    assert!(html.contains("as soon as possible. We start on your order right away."), "{html}");
    assert!(!html.contains("<select"), "no choice of time");
    let p = expect_problem(
        app.order(&with_fulfilment(json!({"type": "pickup", "slot": "2099-01-01T12:00:00Z"})), None).await,
        422,
        "validation",
    )
    .await;
    assert_eq!(p["field"], "fulfilment.slot");
    assert!(p["detail"].as_str().unwrap().contains("as soon as possible only"), "{p}");
}
