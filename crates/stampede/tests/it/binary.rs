//! The real `stampede` binary: starts on a fresh data dir, seeds, serves, keeps data across restarts.

use crate::common::PASSWORD;
use crate::common::browser::{Browser, form_token};
use crate::common::process::Server;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

fn start(dir: &std::path::Path, extra: &[&str]) -> Server {
    Server::start(dir, extra)
}

/// What the binary says on stderr when it refuses to start on a fresh data dir with the
/// settings `configure` adds.
fn startup_error(configure: impl FnOnce(&mut Command) -> &mut Command) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_stampede"));
    command.args(["--addr", "127.0.0.1:0", "--data-dir"]).arg(dir.path());
    let out = configure(&mut command).output().unwrap();
    assert!(!out.status.success(), "the binary started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn the_binary_seeds_serves_and_keeps_orders_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let order_id = {
        let server = start(dir.path(), &[]);
        let products: Vec<Value> =
            client.get(format!("{}/api/products", server.base)).send().await.unwrap().json().await.unwrap();
        assert!(products.len() >= 9);
        assert_eq!(client.get(format!("{}/readyz", server.base)).send().await.unwrap().status(), 200);
        let body = serde_json::json!({"userId": "u1", "productId": "margherita", "quantity": 1});
        let resp = client.post(format!("{}/api/orders", server.base)).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), 201);
        resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    };
    assert!(dir.path().join("stampede.db").exists());
    let server = start(dir.path(), &[]);
    let again: Vec<Value> =
        client.get(format!("{}/api/products", server.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(again.iter().filter(|p| p["id"] == "margherita").count(), 1, "restart must not seed twice");
    assert_eq!(again[0]["stock"], 499);
    let order = client.get(format!("{}/api/orders/{order_id}", server.base)).send().await.unwrap();
    assert_eq!(order.status(), 200);
}

#[tokio::test]
async fn no_seed_starts_an_empty_shop() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--no-seed"]);
    let products: Vec<Value> =
        reqwest::get(format!("{}/api/products", server.base)).await.unwrap().json().await.unwrap();
    assert!(products.is_empty());
}

#[test]
fn help_documents_every_flag_and_its_environment_variable() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stampede")).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--addr",
        "STAMPEDE_ADDR",
        "--data-dir",
        "STAMPEDE_DATA_DIR",
        "--no-seed",
        "--queue-depth",
        "--admin-token",
        "loadtest",
        "STAMPEDE_SMTP_URL",
        "STAMPEDE_MAIL_FROM",
        "STAMPEDE_PUBLIC_URL",
        "STAMPEDE_WEBHOOK_URLS",
        "STAMPEDE_WEBHOOK_SECRET",
        "STAMPEDE_SNS_TOPIC_ARN",
        "STAMPEDE_AWS_ENDPOINT_URL",
        "STAMPEDE_NOTIFY_MAX_ATTEMPTS",
        "--otlp-endpoint",
        "STAMPEDE_OTLP_ENDPOINT",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

#[tokio::test]
async fn the_binary_delivers_receipts_to_the_dev_mailbox_and_events_to_webhooks() {
    use std::sync::{Arc, Mutex};
    /// Signature header and body of each request.
    type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let received: Received = Arc::default();
    let sink = received.clone();
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
            let signature = headers["stampede-signature"].to_str().unwrap().to_owned();
            sink.lock().unwrap().push((signature, body.to_vec()));
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--webhook-urls", &hook_url, "--webhook-secret", "s3cret"]);
    let client = reqwest::Client::new();
    let body =
        serde_json::json!({"customer": {"email": "ana@example.com"}, "items": [{"productId": "cola", "quantity": 1}]});
    let order: Value =
        client.post(format!("{}/api/orders", server.base)).json(&body).send().await.unwrap().json().await.unwrap();
    let id = order["id"].as_str().unwrap();
    let number = stampede_domain::short_number(id);
    let mut mailbox = String::new();
    for _ in 0..200 {
        mailbox = client.get(format!("{}/dev/mailbox", server.base)).send().await.unwrap().text().await.unwrap();
        if mailbox.contains(&number) && !received.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(mailbox.contains(&format!("Order placed: #{number}")), "{mailbox}");
    let (signature, body) = received.lock().unwrap()[0].clone();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(stampede_notify::channels::webhook::verify(
        b"s3cret",
        &signature,
        &body,
        now,
        std::time::Duration::from_secs(60)
    ));
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["orderId"], id);
}

#[test]
fn bad_notification_settings_stop_the_binary_with_a_clear_message() {
    let stderr = startup_error(|c| {
        c.args(["--webhook-urls", "http://127.0.0.1:9/hook"])
            .env("STAMPEDE_LOG_FORMAT", "json")
            .env_remove("STAMPEDE_WEBHOOK_SECRET")
    });
    assert!(stderr.contains("STAMPEDE_WEBHOOK_SECRET"), "{stderr}");
}

/// Without the `otlp` feature an endpoint cannot be honoured: say so instead of ignoring it.
#[cfg(not(feature = "otlp"))]
#[test]
fn an_otlp_endpoint_without_the_otlp_feature_fails_at_startup() {
    let stderr = startup_error(|c| c.env("STAMPEDE_OTLP_ENDPOINT", "http://127.0.0.1:4318"));
    assert!(stderr.contains("rebuild with --features otlp"), "{stderr}");
}

#[tokio::test]
async fn on_a_public_address_the_dev_mailbox_and_metrics_are_closed_and_readyz_warns() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = Server::start_public(dir.path(), &[]);
    assert_eq!(client.get(server.url("/dev/mailbox")).send().await.unwrap().status(), 404);
    assert_eq!(client.get(server.url("/metrics")).send().await.unwrap().status(), 404);
    let ready: Value = client.get(server.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert!(ready["warnings"][0].as_str().unwrap().contains("no mail channel"), "{ready}");
    assert!(
        server.log.lock().unwrap().iter().any(|l| l.contains("ERROR") && l.contains("no mail channel")),
        "the start says so loudly"
    );
    drop(server);

    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let server = Server::start_public(dir.path(), &["--dev-mailbox", "--metrics-token", "scrape-me"]);
    let mailbox = client.get(server.url("/dev/mailbox")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(mailbox.url().path(), "/sign-in", "admins only: anonymous browsers are sent to sign in");
    assert_eq!(client.get(server.url("/metrics")).send().await.unwrap().status(), 401);
    let scraped = client.get(server.url("/metrics")).bearer_auth("scrape-me").send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(scraped.text().await.unwrap().contains("stampede_"));
    drop(server);

    let server = Server::start_public(dir.path(), &["--metrics-addr", &metrics_addr]);
    assert_eq!(client.get(server.url("/metrics")).send().await.unwrap().status(), 404, "not on the shop's address");
    let own = client.get(format!("http://{metrics_addr}/metrics")).send().await.unwrap();
    assert_eq!(own.status(), 200);

    // On loopback (local development) both stay open, as before.
    drop(server);
    let local = start(dir.path(), &[]);
    assert_eq!(client.get(local.url("/dev/mailbox")).send().await.unwrap().status(), 200);
    assert_eq!(client.get(local.url("/metrics")).send().await.unwrap().status(), 200);
}

#[test]
fn an_unknown_shop_time_zone_stops_the_binary_with_a_clear_message() {
    let stderr = startup_error(|c| c.args(["--shop-timezone", "Mars/Olympus_Mons"]));
    assert!(stderr.contains("--shop-timezone") && stderr.contains("IANA name such as Europe/Berlin"), "{stderr}");
    let help = Command::new(env!("CARGO_BIN_EXE_stampede")).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("STAMPEDE_SHOP_TIMEZONE") && help.contains("STAMPEDE_KITCHEN_CAN_CANCEL"), "{help}");
}

#[tokio::test]
async fn create_user_on_the_real_binary_never_accepts_a_weak_or_default_password() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], password: Option<&str>, stdin: &str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"));
        cmd.args(["admin", "create-user", "--data-dir"]).arg(dir.path()).args(args);
        cmd.env_remove("STAMPEDE_USER_PASSWORD");
        if let Some(p) = password {
            cmd.env("STAMPEDE_USER_PASSWORD", p);
        }
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let empty = run(&["--email", "boss@example.com", "--role", "admin"], None, "");
    assert!(!empty.status.success(), "no password, no account");
    assert!(String::from_utf8_lossy(&empty.stderr).contains("at least 10 characters"));
    let made = run(&["--email", "boss@example.com", "--role", "admin"], Some(PASSWORD), "");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    assert!(String::from_utf8_lossy(&made.stdout).contains("created admin account boss@example.com"));
    let cook = run(&["--email", "cook@example.com", "--role", "kitchen"], None, "a kitchen passphrase\n");
    assert!(cook.status.success(), "password from stdin: {}", String::from_utf8_lossy(&cook.stderr));
    let again = run(&["--email", "BOSS@example.com", "--role", "kitchen"], Some(PASSWORD), "");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has an account"));

    let server = Server::start(dir.path(), &["--cookie-secure", "true"]);
    let mut browser = Browser::new(&server.base);
    let page = browser.get("/sign-in").await;
    let csrf = page.set_cookies.iter().find(|c| c.starts_with("__Host-csrf=")).expect("a host-only CSRF cookie");
    assert!(csrf.contains("; Secure"), "{csrf}");
    let token = form_token(&page.html);
    let signed_in = browser
        .post_raw("/sign-in", &[("email", "cook@example.com"), ("password", "a kitchen passphrase"), ("_csrf", &token)])
        .await;
    assert_eq!((signed_in.status, signed_in.location.as_deref()), (303, Some("/admin")));
    let session = signed_in.set_cookies.iter().find(|c| c.starts_with("__Host-session=")).unwrap();
    assert!(session.contains("; Secure") && session.contains("HttpOnly"), "{session}");
    assert_eq!(browser.get("/admin/orders").await.status, 200);
    assert_eq!(browser.get("/admin/products").await.status, 403, "kitchen staff cannot edit products");
}

#[tokio::test]
async fn an_open_stock_stream_does_not_hold_up_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut stream = reqwest::get(server.url("/api/stock/events")).await.unwrap();
    assert!(stream.chunk().await.unwrap().is_some(), "the stream is open");
    let started = Instant::now();
    let log = server.log.clone();
    let status = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    assert!(status.success(), "{status}; the server's log:\n{}", log.lock().unwrap().join("\n"));
    assert!(started.elapsed() < Duration::from_secs(5), "shutdown took {:?}", started.elapsed());
    assert!(tokio::time::timeout(Duration::from_secs(1), stream.chunk()).await.is_ok(), "the stream ended");
}
