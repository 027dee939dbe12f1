//! Trace export (feature `otlp`): the real binary sends its spans over OTLP/HTTP to a receiver
//! run by the test, while serving and, for the last spans, on SIGTERM.
use crate::common::eventually;
use crate::common::process::Server;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use serde_json::{Value, json};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An OTLP/HTTP trace receiver on a loopback port: keeps every protobuf body POSTed to /v1/traces.
struct Receiver {
    endpoint: String,
    bodies: Arc<Mutex<Vec<Bytes>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        let app = Router::new().route(
            "/v1/traces",
            post(move |headers: HeaderMap, body: Bytes| async move {
                let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
                if content_type != "application/x-protobuf" {
                    return (StatusCode::UNSUPPORTED_MEDIA_TYPE, [(header::CONTENT_TYPE, "text/plain")], Vec::new());
                }
                kept.lock().unwrap().push(body);
                // An empty ExportTraceServiceResponse: everything accepted.
                (StatusCode::OK, [(header::CONTENT_TYPE, "application/x-protobuf")], Vec::new())
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { endpoint, bodies }
    }

    /// Whether some received body contains all of `needles`.
    fn has(&self, needles: &[&[u8]]) -> bool {
        let bodies = self.bodies.lock().unwrap();
        bodies.iter().any(|b| !b.is_empty() && needles.iter().all(|n| contains(b, n)))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Places one order and returns its id and the request id the server gave it.
async fn place_order(server: &Server) -> (String, String) {
    let body = json!({"userId": "otel-buyer", "productId": "margherita", "quantity": 1});
    let resp = reqwest::Client::new().post(server.url("/api/orders")).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let order: Value = resp.json().await.unwrap();
    (order["id"].as_str().unwrap().to_owned(), request_id)
}

/// The `trace_id` of the access line of `request_id`, as the 16 bytes OTLP carries.
fn logged_trace_id(server: &Server, request_id: &str) -> Option<Vec<u8>> {
    let log = server.log.lock().unwrap();
    let line = log
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["target"] == "stampede::access" && l["request_id"] == request_id)?;
    let hex = line["trace_id"].as_str()?;
    assert_eq!(hex.len(), 32, "trace id {hex}");
    Some((0..16).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_order_spans_reach_the_collector_with_the_logged_trace_id() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    // RUST_LOG=warn: exported spans must not depend on the log level. A short batch delay so
    // spans leave while the server runs.
    let env = [("OTEL_BSP_SCHEDULE_DELAY", "100"), ("RUST_LOG", "warn,stampede::serve=info,stampede::access=info")];
    let server = Server::start_with_env(dir.path(), &["--otlp-endpoint", &receiver.endpoint], &env);
    let (order_id, request_id) = place_order(&server).await;

    let trace_id =
        eventually(10, "the access line with a trace id", || async { logged_trace_id(&server, &request_id) }).await;
    let needles: [&[u8]; 7] = [
        b"stampede",         // service.name
        b"POST /api/orders", // span name
        b"place_order",      // the child span
        request_id.as_bytes(),
        order_id.as_bytes(),
        b"accepted",
        trace_id.as_slice(),
    ];
    // Seconds at most, alone; the full suite on 2 cores once took over 10 (CI).
    eventually(30, "the order's spans at the receiver", || async { receiver.has(&needles).then_some(()) }).await;
    let status = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_sends_the_spans_still_queued() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Batches would leave only after a minute: what arrives was flushed by the shutdown.
    let env = [("OTEL_BSP_SCHEDULE_DELAY", "60000")];
    let server = Server::start_with_env(dir.path(), &["--otlp-endpoint", &receiver.endpoint], &env);
    let (order_id, _) = place_order(&server).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!receiver.has(&[order_id.as_bytes()]), "exported before the shutdown");

    let status = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    assert!(status.success(), "{status}");
    assert!(receiver.has(&[b"/api/orders", order_id.as_bytes()]), "spans were not sent on shutdown");
}

#[test]
fn an_unusable_endpoint_fails_at_startup_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    for (endpoint, says) in [("https://collector:4318", "https is not supported"), ("collector:4318", "http://")] {
        let out = Command::new(env!("CARGO_BIN_EXE_stampede"))
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(["--otlp-endpoint", endpoint])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{endpoint}: {stderr}");
    }
}
