//! The staff dashboard over real HTTP: the live order list with its filters, the status
//! workflow with its outbox events and returned stock, product create/edit/archive, stock
//! adjustments with reasons, messages next to fields for bad input, and the audit log.

use crate::common::browser::Browser;
use crate::common::*;
use serde_json::{Value, json};
use stampede_domain::{SaleRules, WaitingRoomRules};
use stampede_store::{Role, WaitingRoom};

async fn staff(app: &TestApp, email: &str, role: Role) -> Browser {
    app.create_user(email, None, role).await;
    let mut browser = Browser::new(&app.base);
    browser.sign_in(email, PASSWORD).await;
    browser
}

async fn place(app: &TestApp, email: &str, product: &str, qty: i64) -> String {
    let resp = app.order(&order_body(email, product, qty), None).await;
    assert_eq!(resp.status(), 201);
    resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn kitchen_staff_filter_orders_and_advance_them_through_the_workflow() {
    let app = TestApp::start().await;
    app.add_product("p", 500, 10, SaleRules::default()).await;
    let first = place(&app, "ana@example.com", "p", 2).await;
    let second = place(&app, "bo@example.com", "p", 3).await;
    let mut kitchen = staff(&app, "cook@example.com", Role::Kitchen).await;

    let all = kitchen.get("/admin/orders").await;
    assert_eq!(all.status, 200);
    assert!(all.html.contains(&first) && all.html.contains(&second));
    assert!(all.html.find(&second) < all.html.find(&first), "newest first");
    let by_customer = kitchen.get("/admin/orders?customer=ANA%40").await.html;
    assert!(by_customer.contains(&first) && !by_customer.contains(&second));
    let placed: Value = app.get(&format!("/api/orders/{first}")).await.json().await.unwrap();
    let today = placed["createdAt"].as_str().unwrap()[..10].to_owned();
    let dated = kitchen.get(&format!("/admin/orders?from={today}&to={today}")).await.html;
    assert!(dated.contains(&first) && dated.contains(&second));
    let long_ago = kitchen.get("/admin/orders?to=2000-01-01").await.html;
    assert!(long_ago.contains("No orders match these filters."));
    let bad = kitchen.get("/admin/orders?status=lost&from=yesterday").await;
    assert_eq!(bad.status, 422, "bad filters are explained, never a 500");
    assert!(bad.html.contains("Pick a status from the list.") && bad.html.contains("Enter a date such as"));
    let rows = kitchen.get("/admin/orders/rows?status=received").await;
    assert!(rows.html.trim_start().starts_with("<tr"), "the live refresh gets bare rows");

    let detail = kitchen.get(&format!("/admin/orders/{first}")).await;
    assert!(detail.html.contains("Start preparing"));
    assert!(detail.html.contains("ana@example.com") && !detail.html.contains("Key:"), "no developer wording");
    app.add_product("q", 500, 10, SaleRules::default()).await;
    let shorthand: Value =
        app.order(&json!({"userId": "u-42", "productId": "q", "quantity": 1}), None).await.json().await.unwrap();
    let by_id = kitchen.get(&format!("/admin/orders/{}", shorthand["id"].as_str().unwrap())).await.html;
    assert!(by_id.contains("Customer id <strong>u-42</strong>"), "{by_id}");
    assert!(detail.html.contains("Only an admin can cancel orders."), "the kitchen is told, not offered the button");
    let events_before = app.outbox("1 = 1");
    for (next, label) in [("preparing", "preparing"), ("ready", "ready"), ("completed", "completed")] {
        let moved = kitchen.post(&format!("/admin/orders/{first}/status"), &[("status", next)]).await;
        assert_eq!(moved.status, 303, "{next}: {}", moved.html);
        let shown = kitchen.get(moved.location.as_deref().unwrap()).await.html;
        assert!(shown.contains(&format!("Order is now {label}.")), "{shown}");
    }
    assert_eq!(app.outbox("1 = 1"), events_before + 3, "each change writes its outbox event");
    let done = kitchen.get(&format!("/admin/orders/{first}")).await.html;
    assert!(done.contains("nothing more to do"));

    let late = kitchen.post(&format!("/admin/orders/{first}/status"), &[("status", "preparing")]).await;
    assert_eq!(late.status, 409);
    assert!(late.html.contains("is completed and cannot become preparing"), "{}", late.html);
    let nonsense = kitchen.post(&format!("/admin/orders/{second}/status"), &[("status", "eaten")]).await;
    assert_eq!(nonsense.status, 422);
    let missing = kitchen.get("/admin/orders/no-such-order").await;
    assert_eq!(missing.status, 404);

    assert_eq!(app.stock("p").await, 5);
    for path in [format!("/admin/orders/{second}/cancel"), format!("/admin/orders/{second}/status")] {
        let refused = kitchen.post(&path, &[("status", "cancelled"), ("confirm", "yes")]).await;
        assert_eq!(refused.status, 403, "{path}: the kitchen may not cancel by default");
        assert!(refused.html.contains("Only an admin can cancel orders"));
    }
    // Nor from the customer's order page or the JSON API, which the same session reaches.
    let page = kitchen.get(&format!("/orders/{second}")).await.html;
    assert!(page.contains("bo@example.com"), "staff see the customer's details");
    assert!(!page.contains("Yes, cancel order #"), "the kitchen is not offered cancelling");
    let refused = kitchen.post(&format!("/orders/{second}/cancel"), &[]).await;
    assert_eq!(refused.status, 403);
    assert!(refused.html.contains("Only an admin can cancel orders"), "{}", refused.html);
    let refused = kitchen.post_raw(&format!("/api/orders/{second}/cancel"), &[]).await;
    assert_eq!(refused.status, 403, "{}", refused.html);
    assert!(refused.html.contains("only an admin can cancel orders"), "{}", refused.html);
    assert_eq!(app.stock("p").await, 5, "nothing was cancelled");

    let mut boss = staff(&app, "boss@example.com", Role::Admin).await;
    let offered = boss.get(&format!("/admin/orders/{second}")).await.html;
    assert!(offered.contains(&format!(r#"action="/admin/orders/{second}/cancel" data-confirm="Cancel order #"#)));
    let asked = boss.post(&format!("/admin/orders/{second}/cancel"), &[]).await;
    assert_eq!(asked.status, 200, "without JavaScript, a confirmation page first");
    assert!(asked.html.contains("Yes, cancel order #") && asked.html.contains("No, keep the order"));
    assert_eq!(app.stock("p").await, 5, "asking changes nothing");
    let cancelled = boss.post(&format!("/admin/orders/{second}/cancel"), &[("confirm", "yes")]).await;
    assert_eq!(cancelled.status, 303);
    assert_eq!(app.stock("p").await, 8, "cancelling returns the stock");
    assert_eq!(app.outbox("kind = 'order.cancelled'"), 1);
    let cancelled_list = kitchen.get("/admin/orders?status=cancelled").await.html;
    assert!(cancelled_list.contains(&second) && !cancelled_list.contains(&first));

    let audit =
        app.count("SELECT COUNT(*) FROM audit_log WHERE actor = 'cook@example.com' AND action = 'order.status'");
    assert_eq!(audit, 3, "every change is audited, refusals are not");
    let log = boss.get("/admin/audit").await.html;
    let number = &second.replace('-', "")[24..].to_uppercase();
    assert!(log.contains(&format!(">#{number}</a>")), "orders go by their short number");
    assert!(log.contains("Received → Cancelled") && log.contains("Ready → Completed"), "statuses in words");
    assert!(!log.contains("out_for_delivery") && !log.contains(&format!(">{second}<")));
}

#[tokio::test]
async fn the_kitchen_list_shows_each_line_s_options_and_where_the_order_goes() {
    let app = TestApp::pizza_shop().await;
    let body = json!({
        "customer": {"email": "ana@example.com", "name": "Ana"},
        "items": [{"productId": "margherita", "quantity": 2, "options": {"size": "large", "toppings": ["basil"]}}],
        "fulfilment": delivery()
    });
    assert_eq!(app.order(&body, None).await.status(), 201);
    let mut kitchen = staff(&app, "cook@example.com", Role::Kitchen).await;
    let rows = kitchen.get("/admin/orders/rows").await.html;
    assert!(rows.contains("2 × Margherita<small>Large 35 cm"), "{rows}");
    assert!(rows.contains("Fresh basil"), "{rows}");
    assert!(rows.contains(r#"Delivery to<span class="address">1 Main St, 12345 Springfield</span>"#), "{rows}");
}

#[tokio::test]
async fn an_owner_may_let_the_kitchen_cancel() {
    let app = TestApp::start_with(|state| {
        state.with_shop(stampede_web::shop::ShopSettings { kitchen_can_cancel: true, ..Default::default() })
    })
    .await;
    app.add_product("p", 500, 10, SaleRules::default()).await;
    let id = place(&app, "ana@example.com", "p", 2).await;
    let mut kitchen = staff(&app, "cook@example.com", Role::Kitchen).await;
    let cancelled = kitchen.post(&format!("/admin/orders/{id}/cancel"), &[("confirm", "yes")]).await;
    assert_eq!(cancelled.status, 303);
    assert_eq!(app.stock("p").await, 10);
    // The same holds where staff cancel outside the dashboard, and it is audited there too.
    let other = place(&app, "bo@example.com", "p", 1).await;
    let page = kitchen.get(&format!("/orders/{other}")).await.html;
    assert!(page.contains("Yes, cancel order #"), "the trusted kitchen is offered cancelling");
    let cancelled = kitchen.post_raw(&format!("/api/orders/{other}/cancel"), &[]).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.html);
    let by_token = place(&app, "cy@example.com", "p", 1).await;
    let url = app.url(&format!("/api/orders/{by_token}/cancel"));
    let cancelled = app.client.post(url).bearer_auth(crate::common::ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(cancelled.status(), 200);
    assert_eq!(app.stock("p").await, 10);
    for (actor, target) in [("cook@example.com", &other), ("api-token", &by_token)] {
        let query = format!(
            "SELECT COUNT(*) FROM audit_log WHERE actor = '{actor}' AND action = 'order.status' \
             AND target = '{target}' AND detail = 'received → cancelled'"
        );
        assert_eq!(app.count(&query), 1, "{actor} cancelling {target} is audited");
    }
}

#[tokio::test]
async fn admins_create_edit_archive_and_restock_products_with_every_change_audited() {
    let app = TestApp::pizza_shop().await;
    let mut admin = staff(&app, "boss@example.com", Role::Admin).await;

    let refused = admin
        .post(
            "/admin/products",
            &[
                ("id", "Bad Id"),
                ("name", ""),
                ("category", "pizza"),
                ("price", "ten"),
                ("currency", "USD"),
                ("stock", "-1"),
                ("stock_shards", "0"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    for message in [
        "Enter a whole number from 1 to 64.",
        "Enter a name customers will see.",
        "Enter an amount such as 12.50.",
        "Enter a whole number of units",
        "Use 1 to 64 lower-case letters",
    ] {
        assert!(refused.html.contains(message), "missing “{message}”");
    }
    assert!(refused.html.contains(r#"value="Bad Id""#), "the form comes back as typed");
    let blank = admin.get("/admin/products/new").await;
    assert!(!blank.html.contains("Stock counters"), "SQLite does not split stock: the setting is not offered");

    let form = [
        ("id", "calzone"),
        ("name", "Calzone"),
        ("description", "Folded"),
        ("category", "pizza"),
        ("price", "11.50"),
        ("currency", "USD"),
        ("stock", "40"),
        ("stock_shards", "4"),
        ("sale_starts", ""),
        ("sale_ends", ""),
        ("per_customer_max", "3"),
        ("per_order_max", ""),
        ("g0.id", "size"),
        ("g0.name", "Size"),
        ("g0.min", "1"),
        ("g0.max", "1"),
        ("g0.default", "regular"),
        ("g0.choices", "regular | Regular\nlarge | Large | +3.00"),
    ];
    let created = admin.post("/admin/products", &form).await;
    assert_eq!((created.status, created.location.as_deref()), (303, Some("/admin/products/calzone?done=created")));
    let product: Value = app.get("/api/products/calzone").await.json().await.unwrap();
    assert_eq!(product["price"], json!({"amount": 1150, "currency": "USD"}));
    assert_eq!(product["stock"], 40);
    assert_eq!(product["optionGroups"][0]["choices"][1]["priceDelta"], 300);
    assert_eq!(admin.post("/admin/products", &form).await.status, 409, "ids are unique");
    let shards = "SELECT stock_shards FROM products WHERE id = 'calzone'";
    assert_eq!(app.count(shards), 4);

    let mut edit = form.to_vec();
    edit.retain(|(k, _)| *k != "id" && *k != "stock");
    edit.iter_mut().for_each(|(k, v)| match *k {
        "price" => *v = "12.00",
        // Counters are fixed at creation: a posted change is ignored.
        "stock_shards" => *v = "9",
        "sale_starts" => *v = "2030-01-01T09:00",
        "sale_ends" => *v = "2030-01-01T10:00",
        "per_customer_max" => *v = "2",
        _ => {}
    });
    edit.push(("g1.id", "crust"));
    edit.push(("g1.name", "Crust"));
    edit.push(("g1.choices", "thin | Thin | -0.50"));
    let saved = admin.post("/admin/products/calzone", &edit).await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    let product: Value = app.get("/api/products/calzone").await.json().await.unwrap();
    assert_eq!(product["price"]["amount"], 1200);
    assert_eq!(product["sale"]["perCustomerMax"], 2);
    assert_eq!(product["sale"]["startsAt"], "2030-01-01T09:00:00Z");
    assert_eq!(product["optionGroups"][1]["choices"][0]["priceDelta"], -50);
    assert_eq!(product["stock"], 40, "editing keeps the stock");
    assert_eq!(app.count(shards), 4, "editing keeps the stock counters");

    // The waiting room (#14): off until ticked; its settings are checked like the rest.
    assert!(product["sale"].get("waitingRoom").is_none());
    let mut room = edit.clone();
    room.extend([("waiting_room", "on"), ("admission_minutes", "0"), ("pre_queue_minutes", "30")]);
    let bad = admin.post("/admin/products/calzone", &room).await;
    assert_eq!(bad.status, 422);
    assert!(bad.html.contains("Enter a whole number from 1 to 60."), "{}", bad.html);
    room.iter_mut().for_each(|(k, v)| {
        if *k == "admission_minutes" {
            *v = "3"
        }
    });
    assert_eq!(admin.post("/admin/products/calzone", &room).await.status, 303);
    let product: Value = app.get("/api/products/calzone").await.json().await.unwrap();
    assert_eq!(
        product["sale"]["waitingRoom"],
        json!({"admissionMinutes": 3, "preQueueMinutes": 30, "admissionsPerMinute": null})
    );
    assert!(admin.get("/admin/products/calzone").await.html.contains(r#"name="waiting_room" checked"#));
    // Once its room has let someone in, the line belongs to that sale: a new opening is refused.
    let rules = WaitingRoomRules { admission_minutes: 3, ..WaitingRoomRules::default() };
    let one_in = stampede_domain::RoomState::default().advanced(&rules, 0, 1, 1, 40);
    assert!(app.store.save_room("calzone", &one_in).await.unwrap());
    let mut moved = room.clone();
    moved.iter_mut().for_each(|(k, v)| {
        if *k == "sale_starts" {
            *v = "2030-01-01T08:00"
        }
    });
    let refused = admin.post("/admin/products/calzone", &moved).await;
    assert_eq!(refused.status, 422);
    assert!(refused.html.contains("To run another sale, create a new product."), "{}", refused.html);
    assert_eq!(admin.post("/admin/products/calzone", &room).await.status, 303, "other edits go through");
    assert_eq!(admin.post("/admin/products/calzone", &edit).await.status, 303, "unticked: off again");

    let mut backwards = edit.clone();
    backwards.iter_mut().for_each(|(k, v)| {
        if *k == "sale_ends" {
            *v = "2029-12-31T10:00"
        }
    });
    let bad = admin.post("/admin/products/calzone", &backwards).await;
    assert_eq!(bad.status, 422);
    assert!(bad.html.contains("The sale must end after it starts."));
    assert_eq!(
        app.get("/api/products/calzone").await.json::<Value>().await.unwrap()["sale"]["endsAt"],
        "2030-01-01T10:00:00Z"
    );

    let added =
        admin.post("/admin/products/calzone/stock", &[("delta", "+10"), ("reason", "delivery from supplier")]).await;
    assert_eq!(added.status, 303);
    assert_eq!(app.stock("calzone").await, 50);
    let too_many = admin.post("/admin/products/calzone/stock", &[("delta", "-51"), ("reason", "spoiled")]).await;
    assert_eq!(too_many.status, 422);
    assert!(too_many.html.contains("Only 50 in stock; stock cannot go below zero."));
    let no_reason = admin.post("/admin/products/calzone/stock", &[("delta", "-5"), ("reason", " ")]).await;
    assert!(no_reason.html.contains("Say why"));
    let zero = admin.post("/admin/products/calzone/stock", &[("delta", "zero"), ("reason", "x")]).await;
    assert!(zero.html.contains("Enter how many units to add"));
    assert_eq!(app.stock("calzone").await, 50, "refused adjustments change nothing");

    assert_eq!(admin.post("/admin/products/calzone/archive", &[("archived", "true")]).await.status, 303);
    let menu = app.client.get(app.url("/")).header("accept", "text/html").send().await.unwrap().text().await.unwrap();
    assert!(!menu.contains("Calzone"), "archived products leave the menu");
    assert!(admin.get("/admin/products").await.html.contains("Archived"));
    admin.post("/admin/products/calzone/archive", &[("archived", "false")]).await;
    let menu = app.client.get(app.url("/")).header("accept", "text/html").send().await.unwrap().text().await.unwrap();
    assert!(menu.contains("Calzone"));
    assert_eq!(admin.get("/admin/products/nope").await.status, 404);

    let audit = admin.get("/admin/audit").await.html;
    for needle in [
        "product.create",
        "product.update",
        "stock.adjust",
        "stock 40 → 50 (+10): delivery from supplier",
        "product.archive",
        "product.restore",
        "boss@example.com",
    ] {
        assert!(audit.contains(needle), "audit log lacks {needle}");
    }
    // Five changes above, and the waiting room turned on, saved again and turned off (the
    // refused edit is not audited).
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_log"), 8);
}

#[tokio::test]
async fn the_order_stream_announces_new_orders_to_staff_only() {
    let app = TestApp::start().await;
    app.add_product("p", 500, 10, SaleRules::default()).await;
    let anonymous = app.client.get(app.url("/admin/orders/events")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let kitchen = staff(&app, "cook@example.com", Role::Kitchen).await;
    let cookie = kitchen.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let mut stream = app.client.get(app.url("/admin/orders/events")).header("cookie", cookie).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    let first = stream.chunk().await.unwrap().unwrap();
    seen.push_str(&String::from_utf8_lossy(&first));
    assert!(seen.contains("event: ready"), "{seen}");
    place(&app, "ana@example.com", "p", 1).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !seen.contains("event: orders") {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk()).await.expect("an orders event").unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn odd_dashboard_input_is_refused_without_a_server_error_or_a_change() {
    let app = TestApp::pizza_shop().await;
    let mut admin = staff(&app, "boss@example.com", Role::Admin).await;
    let stock = app.stock("margherita").await;
    for path in [
        "/admin/audit?before=abc",
        "/admin/orders?cursor=zzz&status=",
        "/admin/orders?from=2026-02-30",
        "/admin/orders/%00",
    ] {
        let page = admin.get(path).await;
        assert!((200..500).contains(&page.status), "{path}: {}", page.status);
    }
    let huge = "9".repeat(40);
    let long_reason = "x".repeat(201);
    for (path, form) in [
        ("/admin/products/margherita/stock", vec![("delta", huge.as_str()), ("reason", "r")]),
        ("/admin/products/margherita/stock", vec![("delta", "-9223372036854775808"), ("reason", "r")]),
        ("/admin/products/margherita/stock", vec![("delta", "9223372036854775807"), ("reason", "r")]),
        ("/admin/products/margherita/stock", vec![("delta", "5"), ("reason", long_reason.as_str())]),
        ("/admin/products/margherita", vec![("g99.id", "x"), ("price", "1"), ("name", "M")]),
        ("/admin/products/margherita/archive", vec![("archived", "maybe")]),
        (
            "/admin/products",
            vec![
                ("id", &huge),
                ("name", "N"),
                ("category", "pizza"),
                ("price", "1"),
                ("currency", "USD"),
                ("stock", &huge),
            ],
        ),
    ] {
        let page = admin.post(path, &form).await;
        assert!((200..500).contains(&page.status), "{path} {form:?}: {}", page.status);
    }
    assert_eq!(app.stock("margherita").await, stock, "no refused form changed the stock");
}

#[tokio::test]
async fn admins_add_staff_accounts_who_can_then_sign_in() {
    let app = TestApp::start().await;
    let mut admin = staff(&app, "boss@example.com", Role::Admin).await;
    let bad = admin.post("/admin/staff", &[("email", "cook"), ("role", "chef"), ("password", "x")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.html.contains("Choose kitchen or admin."));
    let weak =
        admin.post("/admin/staff", &[("email", "cook@example.com"), ("role", "kitchen"), ("password", "short")]).await;
    assert!(weak.html.contains("Use at least 10 characters."));
    let added = admin
        .post(
            "/admin/staff",
            &[("email", "Cook@Example.com"), ("name", "Sam"), ("role", "kitchen"), ("password", "first password 1")],
        )
        .await;
    assert_eq!((added.status, added.location.as_deref()), (303, Some("/admin/staff?done=cook%40example.com")));
    let list = admin.get(added.location.as_deref().unwrap()).await.html;
    assert!(list.contains("Added cook@example.com.") && list.contains("Sam") && list.contains("kitchen"));
    let again = admin
        .post("/admin/staff", &[("email", "cook@example.com"), ("role", "admin"), ("password", "first password 1")])
        .await;
    assert_eq!(again.status, 409);
    let mut cook = Browser::new(&app.base);
    cook.sign_in("cook@example.com", "first password 1").await;
    assert_eq!(cook.get("/admin/orders").await.status, 200);
    assert_eq!(cook.get("/admin/staff").await.status, 403, "kitchen staff cannot add accounts");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'user.create' AND actor = 'boss@example.com'"),
        1
    );
}

#[tokio::test]
async fn sale_windows_are_typed_and_shown_in_the_shop_zone_and_stored_in_utc() {
    let berlin = stampede_web::shop_time::ShopZone::named("Europe/Berlin").unwrap();
    let app = TestApp::start_with(|state| {
        state.with_shop(stampede_web::shop::ShopSettings { zone: berlin, ..Default::default() })
    })
    .await;
    let mut admin = staff(&app, "boss@example.com", Role::Admin).await;
    let form = |starts: &'static str| {
        vec![
            ("id", "deal"),
            ("name", "Deal"),
            ("category", "flash-sale"),
            ("price", "5"),
            ("currency", "USD"),
            ("stock", "10"),
            ("sale_starts", starts),
            ("sale_ends", "2030-10-27T02:30"),
        ]
    };
    let skipped = admin.post("/admin/products", &form("2030-03-31T02:30")).await;
    assert_eq!(skipped.status, 422);
    assert!(skipped.html.contains("31 Mar 2030 02:30 does not exist in Europe/Berlin"), "{}", skipped.html);
    assert!(skipped.html.contains("Europe/Berlin time, empty for always"));

    let created = admin.post("/admin/products", &form("2030-07-01T09:00")).await;
    assert_eq!(created.status, 303, "{}", created.html);
    let api: Value = app.get("/api/products/deal").await.json().await.unwrap();
    assert_eq!(api["sale"]["startsAt"], "2030-07-01T07:00:00Z", "summer time: UTC+2");
    assert_eq!(api["sale"]["endsAt"], "2030-10-27T00:30:00Z", "twice that night: the first 02:30 (CEST)");
    let edit = admin.get("/admin/products/deal").await.html;
    assert!(edit.contains(r#"value="2030-07-01T09:00""#) && edit.contains(r#"value="2030-10-27T02:30""#));
    let list = admin.get("/admin/products").await.html;
    assert!(list.contains("Sale window (Europe/Berlin)") && list.contains("2030-07-01 09:00 – 2030-10-27 02:30"));
    let shop = app.client.get(app.url("/products/deal")).send().await.unwrap().text().await.unwrap();
    assert!(shop.contains("Mon 1 Jul 2030, 09:00 CEST"), "no-JS pages name the shop's zone");
    let early = admin.post("/cart/add", &[("product", "deal")]).await;
    assert_eq!(early.status, 409);
    assert!(early.html.contains("(Mon 1 Jul 2030, 09:00 CEST)"), "refusals too: {}", early.html);
}

#[tokio::test]
async fn admins_remove_staff_accounts_after_confirming_but_never_the_last_admin() {
    let app = TestApp::start().await;
    let mut boss = staff(&app, "boss@example.com", Role::Admin).await;
    let mut cook = staff(&app, "cook@example.com", Role::Kitchen).await;
    let id_of = |email: &str| {
        rusqlite::Connection::open(&app.db_path)
            .unwrap()
            .query_row("SELECT id FROM users WHERE email = ?1", [email], |r| r.get::<_, String>(0))
            .unwrap()
    };
    let cook_id = id_of("cook@example.com");
    let boss_id = id_of("boss@example.com");

    let list = boss.get("/admin/staff").await.html;
    assert!(
        list.contains(&format!(r#"action="/admin/staff/{cook_id}/remove" data-confirm="Remove cook@example.com?"#))
    );
    assert!(!list.contains(&format!("/admin/staff/{boss_id}/remove")), "no button for yourself or the last admin");
    assert_eq!(cook.post(&format!("/admin/staff/{boss_id}/remove"), &[("confirm", "yes")]).await.status, 403);

    let asked = boss.post(&format!("/admin/staff/{cook_id}/remove"), &[]).await;
    assert_eq!(asked.status, 200, "without JavaScript, a confirmation page first");
    assert!(asked.html.contains("Yes, remove cook@example.com"));
    let removed = boss.post(&format!("/admin/staff/{cook_id}/remove"), &[("confirm", "yes")]).await;
    assert_eq!(removed.status, 303);
    assert!(boss.get(removed.location.as_deref().unwrap()).await.html.contains("Removed cook@example.com"));
    assert_eq!(cook.get("/admin/orders").await.status, 303, "their session ended with the account");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'user.remove' AND target = 'cook@example.com'"),
        1
    );
    assert_eq!(boss.post(&format!("/admin/staff/{cook_id}/remove"), &[("confirm", "yes")]).await.status, 404);

    let last = boss.post(&format!("/admin/staff/{boss_id}/remove"), &[("confirm", "yes")]).await;
    assert_eq!(last.status, 409);
    assert!(last.html.contains("The last admin cannot be removed"));
    assert_eq!(app.count("SELECT COUNT(*) FROM users WHERE email = 'boss@example.com'"), 1);
}

/// Parks the first `n` due events, as the relay does when a receiver keeps refusing them.
async fn park(app: &TestApp, n: u32) -> Vec<String> {
    use stampede_store::{Claim, Outbox, Settlement};
    let claim = Claim { token: "test".into(), limit: n, lease: std::time::Duration::from_secs(60) };
    let mut parked = Vec::new();
    for event in app.store.claim_events(claim).await.unwrap() {
        let park =
            Settlement::Park { error: "smtp: 550 mailbox unavailable".into(), done_channels: vec!["webhook".into()] };
        assert!(app.store.settle_event(&event.id, "test", park).await.unwrap());
        parked.push(event.id);
    }
    parked
}

#[tokio::test]
async fn admins_see_parked_notifications_and_put_them_back_one_or_all() {
    let app = TestApp::start().await;
    app.add_product("p", 500, 10, SaleRules::default()).await;
    let first = place(&app, "ana@example.com", "p", 1).await;
    place(&app, "bo@example.com", "p", 1).await;
    place(&app, "cy@example.com", "p", 1).await;
    let parked = park(&app, 2).await;
    let mut boss = staff(&app, "boss@example.com", Role::Admin).await;

    let page = boss.get("/admin/notifications").await;
    assert_eq!(page.status, 200);
    assert!(page.html.contains(r#"data-count="pending">1<"#), "{}", page.html);
    assert!(page.html.contains(r#"data-count="failed">2<"#));
    assert!(parked.iter().all(|id| page.html.contains(&format!(r#"data-event="{id}""#))));
    assert!(page.html.contains("smtp: 550 mailbox unavailable") && page.html.contains("already sent to webhook"));
    assert!(page.html.contains(&format!("/admin/orders/{first}")), "each links to its order");
    assert!(page.html.contains("Put all back (2)"));

    let one = boss.post(&format!("/admin/notifications/{}/retry", parked[0]), &[]).await;
    assert_eq!((one.status, one.location.as_deref()), (303, Some("/admin/notifications?retried=1")));
    let after = boss.get("/admin/notifications?retried=1").await.html;
    assert!(after.contains("Put 1 notification back in the queue") && after.contains(r#"data-count="failed">1<"#));
    let again = boss.post(&format!("/admin/notifications/{}/retry", parked[0]), &[]).await;
    assert_eq!(again.status, 404, "no longer parked");
    let forged = boss.post_raw(&format!("/admin/notifications/{}/retry", parked[1]), &[]).await;
    assert_eq!(forged.status, 403, "a post without the form's token changes nothing");

    let all = boss.post("/admin/notifications/retry", &[]).await;
    assert_eq!((all.status, all.location.as_deref()), (303, Some("/admin/notifications?retried=1&left=0")));
    let done = boss.get("/admin/notifications").await.html;
    assert!(done.contains(r#"data-count="failed">0<"#) && done.contains("Nothing is parked"));
    assert!(!done.contains("Put all back"), "no button with nothing to put back");
    assert_eq!(app.outbox("failed_at IS NULL AND delivered_at IS NULL"), 3, "all three wait to go out again");
    let audited = app.count(
        "SELECT COUNT(*) FROM audit_log WHERE actor = 'boss@example.com' AND action IN ('outbox.retry', 'outbox.retry_failed')",
    );
    assert_eq!(audited, 2);
    let log = boss.get("/admin/audit").await.html;
    assert!(log.contains("Notification retried") && log.contains("Parked notifications retried"));
}
