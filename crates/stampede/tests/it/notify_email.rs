//! Customer email end to end: an order placed over HTTP reaches a real SMTP server (an
//! aiosmtpd sink in a subprocess) and the dev mailbox, rendered from the receipt templates.

use crate::common::*;
use serde_json::{Value, json};
use stampede_domain::ShopProfile;
use stampede_notify::channels::{MailboxChannel, SmtpChannel};
use stampede_notify::mail::MailContext;
use stampede_notify::{Channel, Relay};
use stampede_store::Outbox;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// The SMTP sink subprocess; killed when dropped.
struct SmtpSink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    fn start() -> SmtpSink {
        SmtpSink::start_on(None)
    }

    /// A sink on a given port (a free one if `None`).
    fn start_on(port: Option<u16>) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(dir.path())
            .args(port.map(|p| p.to_string()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 must be installed (scripts/test.sh installs aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("SMTP sink did not start (is aiosmtpd installed?): {line:?}"));
        SmtpSink { child, port, dir }
    }

    fn messages(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files.iter().map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
    }
}

/// Mail from `from` through the SMTP server on this machine's `port`, with links to `links`.
fn smtp_on(port: u16, from: &str, links: impl Into<MailContext>) -> Arc<dyn Channel> {
    Arc::new(SmtpChannel::new(&format!("smtp://127.0.0.1:{port}"), from, links, Duration::from_secs(5)).unwrap())
}

fn pizza_order() -> Value {
    json!({
        "customer": {"email": "ana@example.com", "name": "Ana"},
        "items": [
            {"productId": "margherita", "quantity": 2, "options": {"size": "large", "crust": "stuffed", "toppings": ["basil", "olives"]}},
            {"productId": "cola", "quantity": 3}
        ],
        "fulfilment": delivery()
    })
}

const PUBLIC_URL: &str = "https://pizza.example";

#[tokio::test]
async fn a_placed_order_sends_a_receipt_over_real_smtp() {
    let sink = SmtpSink::start();
    let app = TestApp::pizza_shop().await;
    let context = MailContext {
        public_url: PUBLIC_URL.into(),
        signer: Some(app.signer.clone()),
        shop: ShopProfile { name: "Pizza Stampede".into(), address: "9 Oven Lane".into(), phone: "555-0100".into() },
        zone: None,
    };
    let smtp = smtp_on(sink.port, "Pizza Stampede <orders@pizza.example>", context);
    let relay = Relay::new(app.store.clone(), vec![smtp], fast_relay()).spawn();

    let order: Value = app.order(&pizza_order(), None).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_owned();
    // A shorthand order has no email address: nothing is sent for it, and it still counts as delivered.
    let anonymous = app.order(&json!({"userId": "u-1", "productId": "cola", "quantity": 1}), None).await;
    assert_eq!(anonymous.status(), 201);

    let mail = eventually(10, "the receipt", || async { sink.messages().into_iter().next() }).await;
    eventually(10, "both events settled", || async { (app.outbox("delivered_at IS NOT NULL") == 2).then_some(()) })
        .await;
    relay.shutdown().await;

    let event_id: String = rusqlite::Connection::open(&app.db_path)
        .unwrap()
        .query_row("SELECT id FROM outbox WHERE order_id = ?1", [&id], |r| r.get(0))
        .unwrap();
    assert_eq!(sink.messages().len(), 1, "one email for two orders: the userId order has no address");
    let headers = &mail["headers"];
    assert_eq!(mail["rcpt_tos"], json!(["ana@example.com"]));
    assert_eq!(headers["to"], "ana@example.com");
    assert_eq!(headers["from"], "Pizza Stampede <orders@pizza.example>");
    let number = stampede_domain::short_number(&id);
    assert_eq!(headers["subject"], format!("Order placed: #{number}"));
    assert_eq!(headers["message-id"], format!("<{event_id}@pizza.example>"), "stable id for de-duplication");
    assert_eq!(mail["content_type"], "multipart/alternative");

    // The receipt's link carries the order's access key: the customer sees their details and may cancel.
    let status_link = format!("{PUBLIC_URL}/orders/{id}?key={}", order["accessToken"].as_str().unwrap());
    let text = mail["parts"]["text/plain"].as_str().expect("a plain-text part");
    let html = mail["parts"]["text/html"].as_str().expect("an HTML part");
    for part in [text, html] {
        assert!(part.contains("Hello Ana,"), "{part}");
        assert!(part.contains(&format!("#{number}")), "short order number in {part}");
        assert!(part.contains("Order received"), "status in words in {part}");
        assert!(part.contains("Margherita") && part.contains("Cola"), "items in {part}");
        assert!(part.contains("Size: Large 35 cm") && part.contains("Crust: Cheese-stuffed"), "options in {part}");
        assert!(part.contains("Extra toppings: ") && part.contains("Fresh basil") && part.contains("Black olives"));
        assert!(part.contains("$45.50") && !part.contains("USD"), "total as on the site in {part}");
        assert!(part.contains("$38.00") && part.contains("$7.50"), "line totals in {part}");
        assert!(part.contains("Pizza Stampede") && part.contains("9 Oven Lane") && part.contains("555-0100"), "{part}");
        assert!(part.contains(&status_link), "status link in {part}");
        assert!(part.contains("Delivery to 1 Main St, 12345 Springfield"), "delivery address in {part}");
        assert!(part.contains("Phone: 555 0100") && part.contains("When: As soon as possible"), "{part}");
    }
    assert!(text.contains("2 x Margherita") && text.contains("3 x Cola"), "{text}");
    assert!(html.contains(&format!(r#"href="{status_link}""#)), "{html}");
}

#[tokio::test]
async fn status_changes_email_the_customer_and_html_is_escaped() {
    let sink = SmtpSink::start();
    let app = TestApp::pizza_shop().await;
    let smtp = smtp_on(sink.port, "orders@pizza.example", PUBLIC_URL);
    let relay = Relay::new(app.store.clone(), vec![smtp], fast_relay()).spawn();
    let body = json!({"customer": {"email": "bo@example.com", "name": "<b>Bo</b>"},
                      "items": [{"productId": "margherita", "quantity": 1, "options": {"crust": "thin"}}]});
    let order: Value = app.order(&body, None).await.json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    let resp = app.admin_post(&format!("/api/admin/orders/{id}/status"), &json!({"status": "preparing"})).await;
    assert_eq!(resp.status(), 200);
    let mails = eventually(10, "two emails", || async { Some(sink.messages()).filter(|m| m.len() == 2) }).await;
    relay.shutdown().await;
    let number = stampede_domain::short_number(id);
    assert_eq!(mails[1]["headers"]["subject"], format!("Order #{number} is being prepared"));
    let html = mails[0]["parts"]["text/html"].as_str().unwrap();
    // askama escapes with numeric entities.
    assert!(html.contains("Thin &#38; crispy") && html.contains("&#60;b&#62;Bo&#60;/b&#62;"), "{html}");
    assert!(!html.contains("<b>"), "customer input must not become markup");
    assert!(mails[0]["parts"]["text/plain"].as_str().unwrap().contains("Crust: Thin & crispy"));
}

#[tokio::test]
async fn the_dev_mailbox_shows_receipts_newest_first_and_stores_a_resend_once() {
    let app = TestApp::pizza_shop().await;
    let mailbox = Arc::new(MailboxChannel::new(app.store.clone(), PUBLIC_URL));
    let relay = Relay::new(app.store.clone(), vec![mailbox.clone()], fast_relay()).spawn();
    let app = &app;
    let stored = |n| async move { (app.count("SELECT COUNT(*) FROM dev_mailbox") == n).then_some(()) };
    // One after the other, so arrival order is known (concurrent deliveries may land either way).
    let first: Value = app.order(&pizza_order(), None).await.json().await.unwrap();
    eventually(10, "the first receipt", || stored(1)).await;
    let second: Value = app.order(&order_body("cy@example.com", "cola", 1), None).await.json().await.unwrap();
    eventually(10, "the second receipt", || stored(2)).await;
    relay.shutdown().await;

    let page = app.get("/dev/mailbox").await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = page.text().await.unwrap();
    let (first_id, second_id) = (first["id"].as_str().unwrap(), second["id"].as_str().unwrap());
    let subject = |id: &str| format!("Order placed: #{}", stampede_domain::short_number(id));
    let newest = page.find(&subject(second_id)).expect("second receipt listed");
    let oldest = page.find(&subject(first_id)).expect("first receipt listed");
    assert!(newest < oldest, "newest first");
    assert!(page.contains("cy@example.com") && page.contains("ana@example.com"));

    let link = page.split("href=\"/dev/mailbox/").nth(2).and_then(|s| s.split('"').next()).unwrap();
    let message = app.get(&format!("/dev/mailbox/{link}")).await.text().await.unwrap();
    assert!(message.contains("srcdoc=") && message.contains("Size: Large 35 cm"), "{message}");
    assert!(message.contains(&format!("{PUBLIC_URL}/orders/{first_id}")));
    expect_problem(app.get("/dev/mailbox/nope").await, 404, "not-found").await;

    // A resend after a crash (same event id) does not show up twice.
    let stored = app.store.outbox_events(stampede_store::OutboxState::Delivered, 10).await.unwrap();
    let order = stampede_store::Store::order(app.store.as_ref(), &stored[0].order_id).await.unwrap();
    mailbox.send(&stampede_notify::Event::new(&stored[0], order)).await.unwrap();
    assert_eq!(app.count("SELECT COUNT(*) FROM dev_mailbox"), 2);
}

#[tokio::test]
async fn the_dev_mailbox_is_not_served_when_real_email_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(stampede_store::SqliteStore::open(stampede_store::SqliteConfig::in_dir(dir.path())).unwrap());
    let state = stampede_web::AppState::new(store, None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, stampede_web::router(state)).await.unwrap() });
    let resp = reqwest::get(format!("http://{addr}/dev/mailbox")).await.unwrap();
    expect_problem(resp, 404, "not-found").await;
}

#[tokio::test]
async fn email_waits_for_a_mail_server_that_is_down_and_goes_out_when_it_is_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = TestApp::pizza_shop().await;
    let smtp = smtp_on(port, "orders@pizza.example", PUBLIC_URL);
    let config = stampede_notify::RelayConfig { max_attempts: 1000, ..fast_relay() };
    let relay = Relay::new(app.store.clone(), vec![smtp], config).spawn();
    let order: Value = app.order(&pizza_order(), None).await.json().await.unwrap();
    // Nothing listens on the port yet: connection refused is worth retrying, not parking.
    eventually(10, "two failed attempts", || async {
        (app.outbox("attempts >= 2 AND delivered_at IS NULL AND failed_at IS NULL AND last_error LIKE 'smtp:%'") == 1)
            .then_some(())
    })
    .await;
    let sink = SmtpSink::start_on(Some(port));
    let mail = eventually(10, "the receipt", || async { sink.messages().into_iter().next() }).await;
    relay.shutdown().await;
    let number = stampede_domain::short_number(order["id"].as_str().unwrap());
    assert_eq!(mail["headers"]["subject"], format!("Order placed: #{number}"));
    assert_eq!(app.outbox("delivered_at IS NOT NULL"), 1);
}
