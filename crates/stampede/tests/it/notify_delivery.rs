//! Delivery guarantees over real HTTP: signed webhooks, retries with backoff, parking after
//! the last attempt, crash recovery through leases, and no resends in normal operation.

use crate::common::*;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use stampede_notify::channels::WebhookChannel;
use stampede_notify::channels::webhook::verify;
use stampede_notify::{Channel, Relay, RelayConfig};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SECRET: &str = "whsec_test";

/// One request the receiver got.
#[derive(Clone)]
struct Hit {
    at: Instant,
    status: u16,
    event_id: String,
    signature: String,
    body: Bytes,
}

/// A webhook receiver on a random loopback port whose behaviour the test steers.
#[derive(Default)]
struct Receiver {
    /// Answer 500 to this many more requests.
    fail_next: AtomicU32,
    /// Answer this status to every request (0: off).
    always: AtomicU16,
    /// Hold requests open without answering.
    hang: AtomicBool,
    arrived: AtomicU32,
    hits: Mutex<Vec<Hit>>,
}

async fn hook(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.arrived.fetch_add(1, Ordering::SeqCst);
    if r.hang.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let failing = r.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    let status = match r.always.load(Ordering::SeqCst) {
        0 if failing => 500,
        0 => 200,
        s => s,
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    r.hits.lock().unwrap().push(Hit {
        at: Instant::now(),
        status,
        event_id: header("stampede-event-id"),
        signature: header("stampede-signature"),
        body,
    });
    StatusCode::from_u16(status).unwrap()
}

impl Receiver {
    async fn start() -> (Arc<Receiver>, String) {
        let receiver = Arc::new(Receiver::default());
        let app = axum::Router::new().route("/hook", axum::routing::post(hook)).with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Accepted deliveries per event id.
    fn accepted(&self) -> HashMap<String, usize> {
        let mut per_event = HashMap::new();
        for hit in self.hits().into_iter().filter(|h| h.status == 200) {
            *per_event.entry(hit.event_id).or_default() += 1;
        }
        per_event
    }
}

fn webhook(url: &str) -> Arc<dyn Channel> {
    Arc::new(WebhookChannel::new(url, SECRET, Duration::from_secs(30)).unwrap())
}

/// A relay of the shop's outbox to the webhook at `url`, not started yet.
fn webhook_relay(app: &TestApp, url: &str, config: RelayConfig) -> Relay {
    Relay::new(app.store.clone(), vec![webhook(url)], config)
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

async fn place(app: &TestApp, email: &str) -> String {
    let resp = app.order(&order_body(email, "margherita", 1), None).await;
    assert_eq!(resp.status(), 201);
    resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn webhooks_get_every_event_signed_in_order_with_the_order_inside() {
    let (receiver, url) = Receiver::start().await;
    let app = TestApp::pizza_shop().await;
    let relay = webhook_relay(&app, &url, fast_relay()).spawn();
    let body = json!({"customer": {"email": "ana@example.com"},
                      "items": [{"productId": "margherita", "quantity": 2, "options": {"size": "large"}}],
                      "fulfilment": {"type": "pickup"}});
    let order: Value = app.order(&body, None).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    assert_eq!(app.stock("margherita").await, 498);
    for status in ["preparing", "cancelled"] {
        let resp = app.admin_post(&format!("/api/admin/orders/{id}/status"), &json!({ "status": status })).await;
        assert_eq!(resp.status(), 200, "{status}");
    }
    assert_eq!(app.stock("margherita").await, 500, "a staff cancel returns the stock");
    eventually(10, "three deliveries", || async { (receiver.hits().len() == 3).then_some(()) }).await;
    relay.shutdown().await;

    let hits = receiver.hits();
    let bodies: Vec<Value> = hits.iter().map(|h| serde_json::from_slice(&h.body).unwrap()).collect();
    let kinds: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["order.placed", "order.status_changed", "order.cancelled"]);
    assert_eq!(bodies[1]["status"], "preparing");
    assert_eq!(bodies[1]["previousStatus"], "received");
    assert_eq!(bodies[2]["previousStatus"], "preparing");
    for (hit, body) in hits.iter().zip(&bodies) {
        assert!(verify(SECRET.as_bytes(), &hit.signature, &hit.body, unix_now(), Duration::from_secs(300)));
        assert!(!verify(b"wrong secret", &hit.signature, &hit.body, unix_now(), Duration::from_secs(300)));
        assert_eq!(hit.event_id, body["eventId"].as_str().unwrap(), "header and body carry the event id");
        assert_eq!(body["orderId"], id);
        assert_eq!(body["order"]["id"], id);
        assert!(body["occurredAt"].as_str().unwrap().ends_with('Z'));
    }
    let line = &bodies[0]["order"]["items"][0];
    assert_eq!(line["productId"], "margherita");
    assert_eq!(line["quantity"], 2);
    assert_eq!(line["options"][0]["choiceId"], "large");
    assert_eq!(bodies[0]["order"]["total"], json!({"amount": 3000, "currency": "USD"}));
    assert_eq!(bodies[0]["order"]["fulfilment"], json!({"type": "pickup"}));
    let ids: std::collections::HashSet<_> = hits.iter().map(|h| &h.event_id).collect();
    assert_eq!(ids.len(), 3, "every event has its own id");
    assert_eq!(app.outbox("delivered_at IS NOT NULL"), 3);
}

#[tokio::test]
async fn a_failing_receiver_gets_retries_with_growing_backoff_and_others_get_the_event_once() {
    let (flaky, flaky_url) = Receiver::start().await;
    let (steady, steady_url) = Receiver::start().await;
    flaky.fail_next.store(3, Ordering::SeqCst);
    let app = TestApp::pizza_shop().await;
    let base = Duration::from_millis(100);
    let config = RelayConfig {
        max_attempts: 5,
        backoff: stampede_notify::Backoff { base, max: Duration::from_secs(5) },
        ..fast_relay()
    };
    let relay = Relay::new(app.store.clone(), vec![webhook(&flaky_url), webhook(&steady_url)], config).spawn();
    place(&app, "ana@example.com").await;
    eventually(10, "delivery after three failures", || async {
        (app.outbox("delivered_at IS NOT NULL") == 1).then_some(())
    })
    .await;
    relay.shutdown().await;

    let hits = flaky.hits();
    assert_eq!(hits.iter().map(|h| h.status).collect::<Vec<_>>(), [500, 500, 500, 200]);
    assert!(hits.iter().all(|h| h.event_id == hits[0].event_id), "retries carry the same event id");
    for (n, pair) in hits.windows(2).enumerate() {
        // Equal jitter: retry n waits at least half of base * 2^(n-1).
        let floor = base * (1 << n) / 2;
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= floor, "retry {} came after {gap:?}, before the {floor:?} backoff", n + 1);
    }
    assert_eq!(steady.hits().len(), 1, "a receiver that took the event is not sent it again on retries");
    assert_eq!(app.outbox("attempts = 4 AND last_error IS NULL"), 1);
}

#[tokio::test]
async fn events_are_parked_after_the_last_attempt_shown_to_the_admin_and_can_be_retried() {
    let (receiver, url) = Receiver::start().await;
    receiver.always.store(503, Ordering::SeqCst);
    let app = TestApp::pizza_shop().await;
    let config = RelayConfig { max_attempts: 3, ..fast_relay() };
    let relay = webhook_relay(&app, &url, config.clone()).spawn();
    let order_id = place(&app, "ana@example.com").await;
    eventually(10, "the event to be parked", || async { (app.outbox("failed_at IS NOT NULL") == 1).then_some(()) })
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.hits().len(), 3, "exactly max_attempts attempts, then no more");
    assert_eq!(relay.stats().parked.load(Ordering::Relaxed), 1);

    let page: Value = app.admin_get("/api/admin/outbox?state=failed").await.json().await.unwrap();
    assert_eq!(page["counts"], json!({"pending": 0, "delivered": 0, "failed": 1}));
    let event = &page["events"][0];
    assert_eq!(event["orderId"], order_id);
    assert_eq!(event["state"], "failed");
    assert_eq!(event["attempts"], 3);
    assert_eq!(event["type"], "order.placed");
    assert!(event["lastError"].as_str().unwrap().contains("503"), "{event}");
    let pending: Value = app.admin_get("/api/admin/outbox?state=pending").await.json().await.unwrap();
    assert_eq!(pending["events"], json!([]));
    expect_problem(app.admin_get("/api/admin/outbox?state=lost").await, 400, "invalid-query").await;
    expect_problem(app.get("/api/admin/outbox").await, 401, "unauthorized").await;

    // The receiver is fixed; the admin puts the event back and it goes out.
    receiver.always.store(0, Ordering::SeqCst);
    let id = event["id"].as_str().unwrap();
    assert_eq!(app.admin_post(&format!("/api/admin/outbox/{id}/retry"), &json!({})).await.status(), 202);
    expect_problem(app.admin_post(&format!("/api/admin/outbox/{id}/retry"), &json!({})).await, 404, "not-found").await;
    eventually(10, "delivery after the retry", || async {
        (app.outbox("delivered_at IS NOT NULL") == 1).then_some(())
    })
    .await;
    relay.shutdown().await;
    let page: Value = app.admin_get("/api/admin/outbox?state=delivered").await.json().await.unwrap();
    assert_eq!(page["counts"], json!({"pending": 0, "delivered": 1, "failed": 0}));
    assert_eq!(page["events"][0]["deliveredTo"], json!([format!("webhook:{url}")]));
}

/// After a receiver's outage the admin puts every parked event back in pages, not one call
/// each; a loop of calls ends even while the receiver still refuses, and once it is fixed
/// everything goes out.
#[tokio::test]
async fn parked_events_are_put_back_in_bulk_and_go_out() {
    let (receiver, url) = Receiver::start().await;
    receiver.always.store(503, Ordering::SeqCst);
    let app = TestApp::pizza_shop().await;
    let config = RelayConfig { max_attempts: 1, ..fast_relay() };
    let relay = webhook_relay(&app, &url, config).spawn();
    place(&app, "ana@example.com").await;
    place(&app, "bo@example.com").await;
    let parked = || async { (app.outbox("failed_at IS NOT NULL") == 2).then_some(()) };
    eventually(10, "both events to be parked", parked).await;
    let retry = |query: Vec<(&'static str, String)>| {
        let request = app.client.post(app.url("/api/admin/outbox/retry-failed")).bearer_auth(ADMIN_TOKEN);
        async move { request.query(&query).send().await.unwrap() }
    };
    for (name, bad) in [("limit", "0"), ("limit", "1001"), ("parkedBefore", "yesterday")] {
        expect_problem(retry(vec![(name, bad.to_owned())]).await, 400, "invalid-query").await;
    }
    expect_problem(app.post_json("/api/admin/outbox/retry-failed", &json!({})).await, 401, "unauthorized").await;
    assert_eq!(app.outbox("failed_at IS NOT NULL"), 2, "refused calls put nothing back");

    // Still refused: each call's events park again, and the loop still ends.
    let first: Value = retry(vec![("limit", "1".to_owned())]).await.json().await.unwrap();
    assert_eq!(first["retried"], 1);
    let before = first["parkedBefore"].as_str().unwrap().to_owned();
    eventually(10, "the first to park again", parked).await;
    let next = vec![("limit", "1".to_owned()), ("parkedBefore", before.clone())];
    let second: Value = retry(next.clone()).await.json().await.unwrap();
    assert_eq!((second["retried"].clone(), second["parkedBefore"].as_str()), (json!(1), Some(before.as_str())));
    eventually(10, "the second to park again", parked).await;
    let done: Value = retry(next).await.json().await.unwrap();
    assert_eq!(
        (done["retried"].clone(), done["failed"].clone()),
        (json!(0), json!(2)),
        "both parked again, neither twice"
    );

    receiver.always.store(0, Ordering::SeqCst);
    let fixed: Value = retry(Vec::new()).await.json().await.unwrap();
    assert_eq!(fixed["retried"], 2);
    eventually(10, "both delivered", || async { (app.outbox("delivered_at IS NOT NULL") == 2).then_some(()) }).await;
    relay.shutdown().await;
}

#[tokio::test]
async fn a_receiver_that_asks_to_be_sent_less_is_tried_past_the_last_attempt_and_never_parks_the_event() {
    let (receiver, url) = Receiver::start().await;
    receiver.always.store(429, Ordering::SeqCst);
    let app = TestApp::pizza_shop().await;
    let config = RelayConfig { max_attempts: 2, ..fast_relay() };
    let relay = webhook_relay(&app, &url, config).spawn();
    place(&app, "ana@example.com").await;
    eventually(10, "five tries, past the two attempts", || async { (receiver.hits().len() >= 5).then_some(()) }).await;
    assert_eq!(app.outbox("failed_at IS NOT NULL"), 0, "a 429 is no reason to give up");
    receiver.always.store(0, Ordering::SeqCst);
    eventually(10, "delivery once the receiver takes it", || async {
        (app.outbox("delivered_at IS NOT NULL") == 1).then_some(())
    })
    .await;
    assert_eq!(relay.stats().parked.load(Ordering::Relaxed), 0);
    relay.shutdown().await;
    assert_eq!(app.outbox("attempts = 1"), 1, "only the attempt that went through counted");
}

#[tokio::test]
async fn a_permanent_refusal_parks_at_once() {
    let (receiver, url) = Receiver::start().await;
    receiver.always.store(410, Ordering::SeqCst);
    let app = TestApp::pizza_shop().await;
    let relay = webhook_relay(&app, &url, fast_relay()).spawn();
    place(&app, "ana@example.com").await;
    eventually(10, "the event to be parked", || async { (app.outbox("failed_at IS NOT NULL") == 1).then_some(()) })
        .await;
    relay.shutdown().await;
    assert_eq!(receiver.hits().len(), 1);
    assert_eq!(app.outbox("attempts = 1 AND last_error LIKE '%410%'"), 1);
}

#[tokio::test]
async fn killing_the_relay_mid_delivery_loses_nothing() {
    let (receiver, url) = Receiver::start().await;
    receiver.hang.store(true, Ordering::SeqCst);
    let app = TestApp::pizza_shop().await;
    let config = RelayConfig { lease: Duration::from_secs(1), send_timeout: Duration::from_secs(30), ..fast_relay() };
    let relay = webhook_relay(&app, &url, config.clone()).spawn();
    for n in 0..5 {
        place(&app, &format!("c{n}@example.com")).await;
    }
    eventually(10, "five requests in flight", || async {
        (receiver.arrived.load(Ordering::SeqCst) == 5).then_some(())
    })
    .await;
    relay.abort(); // a crash: the sends are cut off before any answer or settlement
    assert_eq!(app.outbox("delivered_at IS NULL AND failed_at IS NULL AND claim_token IS NOT NULL"), 5);

    receiver.hang.store(false, Ordering::SeqCst);
    let restarted = webhook_relay(&app, &url, config).spawn();
    eventually(10, "every event delivered after the restart", || async {
        (app.outbox("delivered_at IS NULL") == 0).then_some(())
    })
    .await;
    restarted.shutdown().await;
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 5, "every event was delivered: {accepted:?}");
    assert!(accepted.values().all(|&n| n == 1), "each accepted once: {accepted:?}");
    let page: Value = app.admin_get("/api/admin/outbox?state=delivered").await.json().await.unwrap();
    assert_eq!(page["counts"], json!({"pending": 0, "delivered": 5, "failed": 0}));
}

#[tokio::test]
async fn two_relays_on_one_store_never_send_an_event_twice() {
    let (receiver, url) = Receiver::start().await;
    let app = TestApp::pizza_shop().await;
    let a = webhook_relay(&app, &url, fast_relay()).spawn();
    let b = webhook_relay(&app, &url, fast_relay()).spawn();
    let orders = futures::future::join_all((0..40).map(|n| {
        let app = &app;
        async move { place(app, &format!("c{n}@example.com")).await }
    }))
    .await;
    eventually(20, "forty deliveries", || async { (app.outbox("delivered_at IS NOT NULL") == 40).then_some(()) }).await;
    a.shutdown().await;
    b.shutdown().await;
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), orders.len());
    assert!(accepted.values().all(|&n| n == 1), "an event was sent twice: {accepted:?}");
    assert_eq!(receiver.hits().len(), 40);
}

#[tokio::test]
async fn shutdown_flushes_events_that_are_due() {
    let (receiver, url) = Receiver::start().await;
    let app = TestApp::pizza_shop().await;
    for n in 0..3 {
        place(&app, &format!("c{n}@example.com")).await;
    }
    // Started and stopped at once: only the final flush can deliver these.
    let relay = webhook_relay(&app, &url, fast_relay()).spawn();
    relay.shutdown().await;
    assert_eq!(receiver.accepted().len(), 3);
    assert_eq!(app.outbox("delivered_at IS NULL"), 0);
}

/// The relay as `serve` runs it on SQLite: a thread of its own at nice 10, whose runtime
/// delivers (webhook over HTTP, order reads, settles through the writer) and flushes at shutdown.
#[tokio::test]
async fn a_relay_on_its_own_low_priority_thread_delivers_and_flushes() {
    let (receiver, url) = Receiver::start().await;
    let app = TestApp::pizza_shop().await;
    for n in 0..40 {
        place(&app, &format!("c{n}@example.com")).await;
    }
    let relay = webhook_relay(&app, &url, fast_relay()).spawn_background(10).unwrap();
    #[cfg(target_os = "linux")]
    eventually(10, "the relay thread at nice 10", || async { (relay_thread_nice() == Some(10)).then_some(()) }).await;
    eventually(10, "forty deliveries", || async { (receiver.accepted().len() >= 40).then_some(()) }).await;
    for n in 40..43 {
        place(&app, &format!("c{n}@example.com")).await;
    }
    relay.shutdown().await;
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 43, "every event, the last ones by the run or its final flush");
    assert!(accepted.values().all(|n| *n == 1), "each once");
    assert_eq!(app.outbox("delivered_at IS NULL"), 0);
}

/// The nice value of this process's `stampede-relay` thread, from `/proc`.
#[cfg(target_os = "linux")]
fn relay_thread_nice() -> Option<i64> {
    std::fs::read_dir("/proc/self/task").ok()?.flatten().find_map(|task| {
        let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
        if comm.trim() != "stampede-relay" {
            return None;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        // Fields after the parenthesised name; nice is the 19th field of the line.
        stat.rsplit_once(')')?.1.split_whitespace().nth(16)?.parse().ok()
    })
}

#[test]
fn webhook_urls_must_be_plain_http_in_this_build() {
    assert!(WebhookChannel::new("https://erp.example/hook", SECRET, Duration::from_secs(1)).is_err());
    assert!(WebhookChannel::new("not a url", SECRET, Duration::from_secs(1)).is_err());
    assert!(WebhookChannel::new("http://127.0.0.1:9/hook", SECRET, Duration::from_secs(1)).is_ok());
}

#[tokio::test]
async fn only_the_current_claim_can_settle_an_event() {
    use stampede_store::{Claim, Outbox, Settlement};
    let app = TestApp::pizza_shop().await;
    place(&app, "ana@example.com").await;
    let claim =
        |token: &str, lease_ms| Claim { token: token.into(), limit: 10, lease: Duration::from_millis(lease_ms) };
    let first = app.store.claim_events(claim("first", 0)).await.unwrap();
    assert_eq!(first.len(), 1);
    // The lease of 0 ms has run out: a second relay may take the event.
    let second = app.store.claim_events(claim("second", 60_000)).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].attempts, 2);
    // ...and while its lease holds, nobody else can.
    assert!(app.store.claim_events(claim("third", 60_000)).await.unwrap().is_empty());
    let delivered = || Settlement::Delivered { done_channels: vec![] };
    assert!(!app.store.settle_event(&first[0].id, "first", delivered()).await.unwrap(), "stale claim refused");
    assert_eq!(app.outbox("delivered_at IS NULL"), 1);
    assert!(app.store.settle_event(&second[0].id, "second", delivered()).await.unwrap());
    assert!(!app.store.settle_event(&second[0].id, "second", delivered()).await.unwrap(), "settled once");
    assert_eq!(app.outbox("delivered_at IS NOT NULL AND claim_token IS NULL"), 1);
}

#[tokio::test]
async fn a_hanging_receiver_does_not_slow_order_placement() {
    let (receiver, url) = Receiver::start().await;
    receiver.hang.store(true, Ordering::SeqCst);
    let app = TestApp::pizza_shop().await;
    let config = RelayConfig { send_timeout: Duration::from_secs(60), lease: Duration::from_secs(120), ..fast_relay() };
    let relay = webhook_relay(&app, &url, config).spawn();
    place(&app, "first@example.com").await;
    eventually(10, "a delivery in flight", || async { (receiver.arrived.load(Ordering::SeqCst) >= 1).then_some(()) })
        .await;
    // Every send now hangs for up to a minute; orders must not wait on any of them.
    for n in 0..30 {
        let started = Instant::now();
        place(&app, &format!("c{n}@example.com")).await;
        assert!(started.elapsed() < Duration::from_secs(2), "order {n} took {:?}", started.elapsed());
    }
    eventually(10, "every event in flight", || async { (receiver.arrived.load(Ordering::SeqCst) == 31).then_some(()) })
        .await;
    relay.abort();
}
