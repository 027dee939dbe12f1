//! Waiting rooms over real HTTP (#14): joining, places, admission in arrival order, and every
//! refusal of an order without an admission.

use crate::common::browser::Browser;
use crate::common::*;
use serde_json::{Value, json};
use stampede_domain::{CustomerKey, SaleRules, Ticket, WaitingRoomRules};
use stampede_store::{LineEntry, WaitingRoom};
use stampede_web::rate_limit::{OrderRateLimits, Rate};
use std::time::Duration;

fn room() -> SaleRules {
    SaleRules { waiting_room: Some(WaitingRoomRules::default()), ..SaleRules::default() }
}

async fn join(app: &TestApp, product: &str, user: &str) -> Value {
    let resp = app.post_json(&format!("/api/products/{product}/queue"), &json!({"userId": user})).await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

async fn status(app: &TestApp, product: &str, ticket: &str) -> Value {
    let resp = app.get(&format!("/api/products/{product}/queue/{ticket}")).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// Waits until the ticket's state is `state` (the room moves once a tick).
async fn until_state(app: &TestApp, product: &str, ticket: &str, state: &str) -> Value {
    eventually(10, state, || async {
        let s = status(app, product, ticket).await;
        (s["state"] == state).then_some(s)
    })
    .await
}

async fn order_with(app: &TestApp, user: &str, product: &str, ticket: Option<&str>) -> reqwest::Response {
    let mut req = app.client.post(app.url("/api/orders")).json(&json!({"userId": user, "productId": product}));
    if let Some(t) = ticket {
        req = req.header("Queue-Ticket", t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn people_are_admitted_in_arrival_order_and_later_ones_see_their_place() {
    let app = TestApp::start().await;
    app.add_product("drop", 100, 2, room()).await;
    let tickets: Vec<Value> = {
        let mut all = Vec::new();
        for user in ["ana", "ben", "cy", "dee"] {
            all.push(join(&app, "drop", user).await);
        }
        all
    };
    for t in &tickets {
        assert!(!t["ticket"].as_str().unwrap().is_empty());
        assert!(["waiting", "admitted"].contains(&t["state"].as_str().unwrap()), "{t}");
    }
    // Joining again returns the same ticket and place.
    let again = join(&app, "drop", "ben").await;
    assert_eq!(again["ticket"], tickets[1]["ticket"]);
    let t = |i: usize| tickets[i]["ticket"].as_str().unwrap().to_owned();
    // Two units: the first two are admitted, the others wait in order.
    let ana = until_state(&app, "drop", &t(0), "admitted").await;
    let ben = until_state(&app, "drop", &t(1), "admitted").await;
    assert!(ana["admittedUntil"].is_string() && ben["admittedUntil"].is_string());
    assert_eq!((ana["position"].as_u64(), ben["position"].as_u64()), (Some(1), Some(2)));
    let cy = status(&app, "drop", &t(2)).await;
    let dee = status(&app, "drop", &t(3)).await;
    assert_eq!(
        (cy["state"].as_str(), cy["position"].as_u64(), cy["ahead"].as_u64()),
        (Some("waiting"), Some(3), Some(0))
    );
    assert_eq!((dee["position"].as_u64(), dee["ahead"].as_u64()), (Some(4), Some(1)));
    assert!(dee["estimatedWaitSeconds"].as_u64().unwrap() > 0);
    // Waiting is not admitted: 403 with the place.
    let refused = expect_problem(order_with(&app, "cy", "drop", Some(&t(2))).await, 403, "not-admitted").await;
    assert_eq!((refused["position"].as_u64(), refused["ahead"].as_u64()), (Some(3), Some(0)));
    let detail = refused["detail"].as_str().unwrap_or_default();
    assert!(detail.starts_with("it is not your turn yet: you are number 3 in line, 0 ahead of you"), "{refused}");
    // Admitted: the header or the body field both work.
    let ana_order = order_with(&app, "ana", "drop", Some(&t(0))).await;
    assert_eq!(ana_order.status(), 201);
    let ana_order: Value = ana_order.json().await.unwrap();
    let body = json!({"userId": "ben", "productId": "drop", "queueTicket": t(1)});
    assert_eq!(app.order(&body, None).await.status(), 201);
    // Both tickets are marked as bought: the room counts their holders as done deciding.
    let line = app.store.line("drop").await.unwrap();
    let mut bought: Vec<u64> =
        app.store.purchase_marks("drop", 0..=u64::MAX).await.unwrap().into_iter().map(|m| m.0).collect();
    bought.sort_unstable();
    assert_eq!(bought, [line[0].rank, line[1].rank], "{line:?}");
    // Sold out: everyone still waiting is told at once.
    let cy = until_state(&app, "drop", &t(2), "soldOut").await;
    assert_eq!(cy["ahead"], 0);
    assert_eq!(status(&app, "drop", &t(3)).await["state"], "soldOut");
    // Ordering then is refused as sold out, with or without an admission.
    expect_problem(order_with(&app, "cy", "drop", Some(&t(2))).await, 409, "out-of-stock").await;
    expect_problem(order_with(&app, "ana", "drop", Some(&t(0))).await, 409, "out-of-stock").await;
    assert_eq!(app.order_rows(), 2);
    // Ana cancels: her mark comes off (she may buy again while her admission runs).
    let cancel = app
        .client
        .post(app.url(&format!("/api/orders/{}/cancel", ana_order["id"].as_str().unwrap())))
        .header("Order-Token", ana_order["accessToken"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    let marks = app.store.purchase_marks("drop", 0..=u64::MAX).await.unwrap();
    assert_eq!(marks.iter().map(|m| m.0).collect::<Vec<_>>(), [line[1].rank]);
}

#[tokio::test]
async fn orders_without_a_valid_admitted_ticket_of_their_own_are_refused() {
    let app = TestApp::start().await;
    app.add_product("drop", 100, 10, room()).await;
    app.add_product("other-drop", 100, 10, room()).await;
    app.add_product("plain", 100, 10, SaleRules::default()).await;
    let ana = join(&app, "drop", "ana").await["ticket"].as_str().unwrap().to_owned();
    let ana_other = join(&app, "other-drop", "ana").await["ticket"].as_str().unwrap().to_owned();
    until_state(&app, "drop", &ana, "admitted").await;
    until_state(&app, "other-drop", &ana_other, "admitted").await;
    let detail = |p: &Value| p["detail"].as_str().unwrap().to_owned();
    // None at all.
    let p = expect_problem(order_with(&app, "ana", "drop", None).await, 403, "not-admitted").await;
    assert!(detail(&p).contains("waiting room"), "{p}");
    assert_eq!(p["productId"], "drop");
    // Forged: not one of this shop's tickets.
    expect_problem(order_with(&app, "ana", "drop", Some("abc.def")).await, 403, "not-admitted").await;
    // Tampered: the signed part changed to another customer.
    let (body, tag) = ana.split_once('.').unwrap();
    let message = String::from_utf8(hex::decode(body).unwrap()).unwrap().replace("user:ana", "user:bob");
    let tampered = format!("{}.{tag}", hex::encode(message));
    let p = expect_problem(order_with(&app, "bob", "drop", Some(&tampered)).await, 403, "not-admitted").await;
    assert!(detail(&p).contains("altered"), "{p}");
    // Expired: signed by this shop more than a day ago.
    let day_ago = (crate_now() - 25 * 3_600_000) * 1000;
    let old = Ticket::new("drop", CustomerKey("user:ana".into()), day_ago, 1, None).seal(&app.signer).token;
    let p = expect_problem(order_with(&app, "ana", "drop", Some(&old)).await, 403, "not-admitted").await;
    assert!(detail(&p).contains("expired"), "{p}");
    // Another customer's ticket.
    let p = expect_problem(order_with(&app, "bob", "drop", Some(&ana)).await, 403, "not-admitted").await;
    assert!(detail(&p).contains("another customer"), "{p}");
    // Another product's ticket.
    let p = expect_problem(order_with(&app, "ana", "drop", Some(&ana_other)).await, 403, "not-admitted").await;
    assert!(detail(&p).contains("another product"), "{p}");
    // Two waiting-room products in one order: one ticket cannot admit both.
    let both = json!({"customer": {"email": "ana@example.com"}, "queueTicket": ana,
        "items": [{"productId": "drop", "quantity": 1}, {"productId": "other-drop", "quantity": 1}]});
    let p = expect_problem(app.order(&both, None).await, 422, "validation").await;
    assert!(detail(&p).contains("order them separately"), "{p}");
    assert_eq!(app.order_rows(), 0, "no refusal placed anything");
    // Products without a room need no ticket; the admitted ticket works.
    assert_eq!(order_with(&app, "bob", "plain", None).await.status(), 201);
    assert_eq!(order_with(&app, "ana", "drop", Some(&ana)).await.status(), 201);
}

async fn join_raw(app: &TestApp, product: &str, body: Value) -> reqwest::Response {
    app.post_json(&format!("/api/products/{product}/queue"), &body).await
}

fn crate_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[tokio::test]
async fn joins_are_refused_clearly() {
    let app = TestApp::start().await;
    let now = crate_now();
    app.add_product("drop", 100, 10, room()).await;
    app.add_product("plain", 100, 10, SaleRules::default()).await;
    let later = WaitingRoomRules { pre_queue_minutes: 60, ..WaitingRoomRules::default() };
    let sale = SaleRules { starts_at: Some(now + 2 * 3_600_000), waiting_room: Some(later), ..SaleRules::default() };
    app.add_product("tomorrow", 100, 10, sale).await;
    expect_problem(join_raw(&app, "nope", json!({"userId": "ana"})).await, 404, "not-found").await;
    expect_problem(join_raw(&app, "plain", json!({"userId": "ana"})).await, 409, "no-waiting-room").await;
    let p = expect_problem(join_raw(&app, "tomorrow", json!({"userId": "ana"})).await, 409, "line-not-open").await;
    assert!(p["saleStartsAt"].is_string());
    // The same input rules as orders.
    expect_problem(join_raw(&app, "drop", json!({})).await, 422, "validation").await;
    expect_problem(join_raw(&app, "drop", json!({"userId": "bad id!"})).await, 422, "validation").await;
    let p =
        expect_problem(join_raw(&app, "drop", json!({"customer": {"email": "not-an-email"}})).await, 422, "validation")
            .await;
    assert_eq!(p["field"], "customer.email");
    let ok = join_raw(&app, "drop", json!({"customer": {"email": "Ana@Example.com"}})).await;
    assert_eq!(ok.status(), 201);
    assert!(ok.headers()["location"].to_str().unwrap().starts_with("/api/products/drop/queue/"));
    // A status read needs a genuine ticket for that product.
    expect_problem(app.get("/api/products/drop/queue/abc.def").await, 403, "not-admitted").await;
    // Someone whose place has expired is told so, not sent round to join again.
    app.add_product("long", 100, 10, room()).await;
    let day_ago = (now - 25 * 3_600_000) * 1000;
    let old = Ticket::new("long", CustomerKey("user:old".into()), day_ago, 1, None).seal(&app.signer);
    let entry = LineEntry {
        product_id: "long".into(),
        customer: old.ticket.customer.clone(),
        rank: old.rank,
        ticket: old.token.clone(),
        joined_at: old.ticket.issued_at,
    };
    app.store.join_line(entry).await.unwrap();
    let p = expect_problem(join_raw(&app, "long", json!({"userId": "old"})).await, 409, "place-expired").await;
    assert!(p["detail"].as_str().unwrap().contains("cannot take you again"), "{p}");
}

#[tokio::test]
async fn joins_are_rate_limited_per_customer_and_per_address() {
    let per_customer = TestApp::start_with(|s| {
        s.with_join_limits(OrderRateLimits::for_joins(None, Some(Rate { per_second: 1, burst: 2 })))
    })
    .await;
    per_customer.add_product("drop", 100, 10, room()).await;
    // The first join is not counted (it cannot be over a limit): then the burst of 2.
    for _ in 0..3 {
        join(&per_customer, "drop", "bot").await;
    }
    let resp = per_customer.post_json("/api/products/drop/queue", &json!({"userId": "bot"})).await;
    assert!(resp.headers().contains_key("retry-after"));
    let p = expect_problem(resp, 429, "rate-limited").await;
    assert!(p["detail"].as_str().unwrap().contains("too many joins from this customer"), "{p}");
    join(&per_customer, "drop", "human").await;

    // The storefront's form counts the same way, keyed as the place is held: an address's
    // `+tag` does not make another customer.
    per_customer.add_product("tee", 100, 10, room()).await;
    let mut browser = Browser::new(&per_customer.base);
    for email in ["sam+1@example.com", "sam+2@example.com", "sam@example.com"] {
        let page = browser.post("/products/tee/line", &[("email", email)]).await;
        assert_eq!(page.status, 303, "{email}: {}", page.html);
    }
    let refused = browser.post("/products/tee/line", &[("email", "sam+3@example.com")]).await;
    assert_eq!(refused.status, 429, "{}", refused.html);
    assert!(refused.headers.contains_key("retry-after"));
    let other = browser.post("/products/tee/line", &[("email", "ana@example.com")]).await;
    assert_eq!(other.status, 303, "another customer still joins: {}", other.html);

    let per_ip = TestApp::start_with(|s| {
        s.with_join_limits(OrderRateLimits::for_joins(Some(Rate { per_second: 1, burst: 3 }), None))
    })
    .await;
    per_ip.add_product("drop", 100, 10, room()).await;
    for i in 0..3 {
        join(&per_ip, "drop", &format!("id{i}")).await;
    }
    let p = expect_problem(
        per_ip.post_json("/api/products/drop/queue", &json!({"userId": "id9"})).await,
        429,
        "rate-limited",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("this address"), "{p}");
}

#[tokio::test]
async fn a_ticket_streams_its_state_as_server_sent_events() {
    let app = TestApp::start().await;
    app.add_product("drop", 100, 1, room()).await;
    let ticket = join(&app, "drop", "ana").await["ticket"].as_str().unwrap().to_owned();
    let mut resp = app.get(&format!("/api/products/drop/queue/{ticket}/events")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    while !seen.contains("\n\n") {
        seen.push_str(&String::from_utf8_lossy(&resp.chunk().await.unwrap().unwrap()));
    }
    assert!(seen.starts_with("event: queue\ndata: {"), "{seen}");
    assert!(seen.contains(&format!("\"ticket\":\"{ticket}\"")));
    // A forged ticket is a problem, not a silent stream.
    expect_problem(app.get("/api/products/drop/queue/abc.def/events").await, 403, "not-admitted").await;
}

#[tokio::test]
async fn the_setting_goes_through_the_admin_api_and_shows_on_the_product() {
    let app = TestApp::start().await;
    let body = json!({
        "id": "golden", "name": "Golden", "category": "flash-sale", "price": {"amount": 100, "currency": "USD"},
        "stock": 5, "sale": {"waitingRoom": {"admissionMinutes": 3, "preQueueMinutes": 30}}
    });
    assert_eq!(app.admin_post("/api/admin/products", &body).await.status(), 201);
    let product: Value = app.get("/api/products/golden").await.json().await.unwrap();
    assert_eq!(
        product["sale"]["waitingRoom"],
        json!({"admissionMinutes": 3, "preQueueMinutes": 30, "admissionsPerMinute": null})
    );
    let bad = json!({
        "id": "bad", "name": "Bad", "category": "flash-sale", "price": {"amount": 100, "currency": "USD"},
        "stock": 5, "sale": {"waitingRoom": {"admissionMinutes": 0}}
    });
    let p = expect_problem(app.admin_post("/api/admin/products", &bad).await, 422, "validation").await;
    assert_eq!(p["field"], "sale.waitingRoom.admissionMinutes");
    let plain: Value = app.get("/api/products/golden").await.json().await.unwrap();
    assert!(plain["sale"].get("waitingRoom").is_some());
}

#[tokio::test]
async fn one_mailbox_holds_one_place_however_its_address_is_written() {
    let app = TestApp::start().await;
    app.add_product("drop", 100, 2, room()).await;
    let by_email = |email: &str| json!({"customer": {"email": email, "name": "Sam"}});
    let first = join_raw(&app, "drop", by_email("sam@example.com")).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let tagged = join_raw(&app, "drop", by_email("Sam+again@Example.com")).await;
    assert_eq!(tagged.status(), 201);
    let tagged: Value = tagged.json().await.unwrap();
    assert_eq!(tagged["ticket"], first["ticket"], "a +tag does not buy a second place in line");
    assert_eq!(tagged["position"], first["position"]);
}

/// The pre-queue window over HTTP: everyone who joins before opening waits with a provisional
/// place, and at opening places follow the draw each signed ticket carries (not arrival),
/// with later arrivals behind the whole pre-queue.
#[tokio::test]
async fn joins_before_opening_get_drawn_places_and_come_before_later_arrivals() {
    let app = TestApp::start().await;
    // Opening two seconds ahead: time to join six people before it.
    let opens = crate_now() + 2000;
    let rules = WaitingRoomRules { pre_queue_minutes: 1, ..WaitingRoomRules::default() };
    app.add_product("dawn", 100, 3, SaleRules { starts_at: Some(opens), waiting_room: Some(rules), ..room() }).await;
    let mut early = Vec::new();
    for user in ["u1", "u2", "u3", "u4", "u5", "u6"] {
        let t = join(&app, "dawn", user).await;
        let token = t["ticket"].as_str().unwrap().to_owned();
        let sealed = Ticket::open(&token, &app.signer, crate_now()).unwrap();
        // Whether a place is drawn is decided by the signed arrival, not by this test's clock.
        if sealed.ticket.drawn {
            assert_eq!(t["state"], "waiting", "nobody is let in before opening: {t}");
            assert!(t["saleStartsAt"].is_string(), "{t}");
        }
        early.push((user, token, sealed));
    }
    let drawn = early.iter().filter(|(_, _, s)| s.ticket.drawn).count();
    assert!(drawn >= 2, "only {drawn} of six joined before opening: the machine is too slow for this test");
    // At opening the first three by rank are let in: the drawn places, whoever joined first.
    early.sort_by_key(|(_, _, sealed)| sealed.rank);
    for (user, token, _) in &early[..3] {
        until_state(&app, "dawn", token, "admitted").await;
        assert_eq!(order_with(&app, user, "dawn", Some(token)).await.status(), 201, "{user}");
    }
    let late = join(&app, "dawn", "late").await;
    for (place, (_, token, _)) in early.iter().enumerate() {
        let s = status(&app, "dawn", token).await;
        assert_eq!(s["position"].as_u64(), Some(place as u64 + 1), "places follow the draw: {s}");
    }
    assert_eq!(late["position"].as_u64(), Some(7), "behind everyone who joined before opening: {late}");
    assert_eq!(app.order_rows(), 3);
}

/// A ticket is signed and names its product, customer and arrival: one the store never
/// recorded (the process stopped before its write-behind) is recorded from its own claims
/// when it is next shown, and keeps its place.
#[tokio::test]
async fn a_ticket_the_store_never_recorded_is_recorded_from_its_own_claims() {
    let app = TestApp::start().await;
    app.add_product("drop", 100, 1, room()).await;
    let lost = Ticket::new("drop", CustomerKey("user:ghost".into()), crate_now() * 1000, 1, None).seal(&app.signer);
    let seen = until_state(&app, "drop", &lost.token, "admitted").await;
    assert_eq!(seen["ticket"], lost.token.as_str(), "the ticket shown is the ticket kept");
    let recorded = eventually(10, "the lost ticket recorded", || async {
        let line = app.store.line("drop").await.unwrap();
        line.iter().find(|e| e.customer.0 == "user:ghost").map(|e| e.rank)
    })
    .await;
    assert_eq!(recorded, lost.rank);
    let ana = join(&app, "drop", "ana").await;
    assert_eq!((ana["state"].as_str(), ana["position"].as_u64()), (Some("waiting"), Some(2)), "{ana}");
    assert_eq!(order_with(&app, "ghost", "drop", Some(&lost.token)).await.status(), 201);
}

/// A line the store cannot load: the status check that tried, and the next ones until the
/// backoff is out (without the store being asked), are told their place is kept and when to
/// look again; once the store is back the line loads.
#[tokio::test]
async fn a_line_the_store_cannot_load_answers_busy_until_it_is_tried_again() {
    let app = TestApp::start().await;
    app.add_product("down", 100, 1, room()).await;
    let ticket = Ticket::new("down", CustomerKey("user:ana".into()), crate_now() * 1000, 1, None).seal(&app.signer);
    let path = format!("/api/products/down/queue/{}", ticket.token);
    let rename = |from: &str, to: &str| {
        let conn = rusqlite::Connection::open(&app.db_path).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.execute_batch(&format!("ALTER TABLE {from} RENAME TO {to}")).unwrap();
    };
    rename("queue_tickets", "queue_tickets_away");
    // The request that finds the store failing is answered as those during the backoff are:
    // busy, not a server fault.
    let expect_busy = |busy: reqwest::Response| async move {
        assert_eq!(busy.status(), 503);
        assert_eq!(busy.headers()["retry-after"], "1");
        let body: Value = busy.json().await.unwrap();
        assert_eq!(body["type"], "/problems/busy");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("your place in line is kept") && detail.contains("1 s"), "{detail}");
    };
    expect_busy(app.get(&path).await).await;
    let failed_at = std::time::Instant::now();
    let busy = app.get(&path).await;
    if failed_at.elapsed() < Duration::from_millis(900) {
        expect_busy(busy).await;
    } else {
        eprintln!("too slow to check the answer while the backoff runs");
    }
    // An order with the ticket meanwhile is told the same, in an order's words.
    let order = order_with(&app, "ana", "down", Some(&ticket.token)).await;
    assert_eq!(order.status(), 503);
    assert!(order.headers().contains_key("retry-after"));
    let body: Value = order.json().await.unwrap();
    assert_eq!(body["type"], "/problems/busy");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("your place in line is kept")
            && detail.contains("nothing was charged")
            && detail.contains("order again in"),
        "{detail}"
    );
    rename("queue_tickets_away", "queue_tickets");
    let seen = eventually(10, "the line loaded once the store is back", || async {
        let r = app.get(&path).await;
        assert!([200, 503].contains(&r.status().as_u16()), "only busy meanwhile: {}", r.status());
        (r.status() == 200).then_some(r.json::<Value>().await.unwrap())
    })
    .await;
    assert_eq!((seen["ticket"].as_str(), seen["position"].as_u64()), (Some(ticket.token.as_str()), Some(1)), "{seen}");
}

/// Staff see how a line stands: the admin API, the dashboard's product page and `/metrics`
/// say how many hold a ticket, wait and were admitted, and when everyone waiting is let in.
#[tokio::test]
async fn staff_see_how_the_line_stands() {
    let app = TestApp::pizza_shop().await;
    let rules = WaitingRoomRules { admissions_per_minute: Some(1), ..WaitingRoomRules::default() };
    app.add_product("drop", 100, 5, SaleRules { waiting_room: Some(rules), ..SaleRules::default() }).await;
    for user in ["ana", "ben", "cy"] {
        join(&app, "drop", user).await;
    }
    // One a minute: the first advance lets one person in, the next not for a minute.
    let resp = app.admin_get("/api/admin/products/drop/queue").await;
    assert_eq!(resp.status(), 200);
    let line: Value = resp.json().await.unwrap();
    let expected = json!({"productId": "drop", "inLine": 3, "waiting": 2, "admitted": 1, "stock": 5,
        "unitsToOffer": 4, "admissionsPerMinute": 1, "admissionMinutes": 5, "estimatedClearSeconds": 120});
    assert_eq!(line, expected);

    expect_problem(app.get("/api/admin/products/drop/queue").await, 401, "unauthorized").await;
    expect_problem(app.admin_get("/api/admin/products/margherita/queue").await, 409, "no-waiting-room").await;
    expect_problem(app.admin_get("/api/admin/products/nope/queue").await, 404, "not-found").await;

    app.create_user("boss@example.com", None, stampede_store::Role::Admin).await;
    let mut admin = crate::common::browser::Browser::new(&app.base);
    admin.sign_in("boss@example.com", PASSWORD).await;
    let page = admin.get("/admin/products/drop").await.html;
    for shown in [
        "data-in-line>3<",
        "data-waiting>2<",
        "data-admitted>1<",
        "data-to-offer>4<",
        "<dd>1 a minute</dd>",
        "data-clears>in 2 min, estimated<",
    ] {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    // As many waiting as units left, one of which the first person admitted holds: more wait
    // than units are left to offer, so the estimate is until the last one has been offered.
    let rules = WaitingRoomRules { admissions_per_minute: Some(1), ..WaitingRoomRules::default() };
    app.add_product("last", 100, 3, SaleRules { waiting_room: Some(rules), ..SaleRules::default() }).await;
    for user in ["ana", "ben", "cy", "dee"] {
        join(&app, "last", user).await;
    }
    let line: Value = app.admin_get("/api/admin/products/last/queue").await.json().await.unwrap();
    let figures = ["waiting", "stock", "unitsToOffer", "estimatedClearSeconds"].map(|f| line[f].as_u64());
    assert_eq!(figures, [Some(3), Some(3), Some(2), Some(120)], "{line}");
    let page = admin.get("/admin/products/last").await.html;
    assert!(page.contains("<dt>Last unit offered</dt><dd data-clears>in 2 min, estimated<"), "{page}");
    let plain = admin.get("/admin/products/margherita").await.html;
    assert!(!plain.contains("data-line-panel"), "no panel without a waiting room");

    // Every join written (the write-behind gathers for a moment first), the gauges say the same.
    let metrics = eventually(10, "the joins written", || async {
        let metrics = app.get("/metrics").await.text().await.ok()?;
        metrics.contains("stampede_waiting_room_unwritten_joins 0\n").then_some(metrics)
    })
    .await;
    for shown in [
        "stampede_waiting_room_in_line{product=\"drop\"} 3\n",
        "stampede_waiting_room_waiting{product=\"drop\"} 2\n",
        "stampede_waiting_room_admitted{product=\"drop\"} 1\n",
        "stampede_waiting_room_in_line{product=\"last\"} 4\n",
        "stampede_waiting_room_joins_total{outcome=\"joined\"} ",
    ] {
        assert!(metrics.contains(shown), "{shown} in {metrics}");
    }

    // An archived product's line is no longer served: its gauges leave `/metrics` once they
    // have gone unset for the exporter's idle timeout (10 s), not shown stale forever.
    assert_eq!(admin.post("/admin/products/last/archive", &[("archived", "true")]).await.status, 303);
    let metrics = eventually(30, "the archived product's gauges gone", || async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let metrics = app.get("/metrics").await.text().await.ok()?;
        (!metrics.contains("{product=\"last\"}")).then_some(metrics)
    })
    .await;
    assert!(metrics.contains("stampede_waiting_room_in_line{product=\"drop\"} 3\n"), "{metrics}");
}
