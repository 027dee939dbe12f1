//! Slow and excess clients against the real binary: a client that trickles its headers is
//! cut off, connections past the cap wait, oversized headers are refused, a stalled or
//! trickled body gets 408, and a client address over `--order-rate-per-ip` gets 429.

use crate::common::process::Server;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn connect(server: &Server) -> TcpStream {
    let addr = server.base.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream
}

/// Sends one complete request and returns the status line.
fn get(stream: &mut TcpStream, path: &str) -> String {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned()
}

#[test]
fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--no-seed", "--read-timeout-secs", "1"]);
    let mut slow = connect(&server);
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let n = slow.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "expected the server to close the connection");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900) && waited < Duration::from_secs(4), "closed after {waited:?}");
    assert!(get(&mut connect(&server), "/healthz").contains("200"), "others are still served");
}

#[test]
fn connections_past_the_cap_wait_for_a_free_slot() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--no-seed", "--max-connections", "2"]);
    let mut first = connect(&server);
    let mut second = connect(&server);
    assert!(get(&mut first, "/healthz").contains("200"));
    assert!(get(&mut second, "/healthz").contains("200"));
    let mut third = connect(&server);
    third.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    assert_eq!(get(&mut third, "/healthz"), "", "a third connection must not be served while two are open");
    drop(first);
    third.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 256];
    let n = third.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "served once a slot frees up");
}

#[test]
fn oversized_headers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--no-seed"]);
    let mut stream = connect(&server);
    let huge = "a".repeat(64 * 1024);
    let _ = write!(stream, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: {huge}\r\n\r\n");
    let mut buf = [0u8; 256];
    let n = stream.read(&mut buf).unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(n == 0 || answer.starts_with("HTTP/1.1 431"), "got {answer:?}");
}

#[tokio::test]
async fn a_client_address_over_its_rate_gets_429() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--order-rate-per-ip", "1", "--order-burst-per-ip", "3"]);
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..6 {
        let body = json!({"userId": format!("u{i}"), "productId": "cola", "quantity": 1});
        statuses.push(client.post(server.url("/api/orders")).json(&body).send().await.unwrap().status().as_u16());
    }
    assert_eq!(&statuses[..3], &[201, 201, 201]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
}

/// Sends `request` raw and returns the whole answer (the server closes after errors).
fn raw(base: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn a_body_trickled_a_byte_at_a_time_is_cut_off_at_the_deadline_not_read_to_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--read-timeout-secs", "1"]);
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(b"POST /api/orders HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{").unwrap();
    // A byte every 300 ms: each in time for a timer per piece, so the body would be read to
    // its end a minute later (and answered 400, not JSON); the deadline counts the whole.
    let mut trickle = stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        for _ in 0..199 {
            std::thread::sleep(Duration::from_millis(300));
            if trickle.write_all(b" ").is_err() {
                return;
            }
        }
    });
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("/problems/request-timeout"), "{answer}");
    let _ = stream.shutdown(std::net::Shutdown::Both);
    writer.join().unwrap();
}

#[test]
fn a_stalled_body_is_408_problem_json_and_transport_errors_stay_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--read-timeout-secs", "1"]);
    // Headers promise 200 bytes; the body stops after a few and the client waits.
    let stalled = b"POST /api/orders HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"userId\": ";
    let answer = raw(&server.base, stalled);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("content-type: application/problem+json"), "{answer}");
    assert!(answer.contains("/problems/request-timeout"), "{answer}");
    // WAN Pizza's order form answers in its own shape, with the same status.
    let stalled_form = b"POST /compat/wan-pizza/order HTTP/1.1\r\nHost: shop\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\ncustomer_name=A";
    let answer = raw(&server.base, stalled_form);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive in time"), "{answer}");
    // A storefront form (its CSRF cookie taken from a page first, so the body is read) too.
    let page = raw(&server.base, b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
    let cookie = page
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: csrf=")
                .then(|| l[12..].split(';').next().unwrap().to_owned())
        })
        .unwrap_or_else(|| panic!("a CSRF cookie: {page}"));
    let stalled_page = format!(
        "POST /cart HTTP/1.1\r\nHost: shop\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n_csrf="
    );
    let answer = raw(&server.base, stalled_page.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("This form did not arrive in time"), "{answer}");
    // What hyper refuses before any handler runs is still a 4xx, never a 5xx (its bodies are
    // empty: see docs/api.md, Errors).
    for (request, status) in [
        (&b"GARBAGE\r\n\r\n"[..], "400"),
        (&b"POST /api/orders HTTP/1.1\r\nHost: shop\r\nContent-Length: nope\r\n\r\n"[..], "400"),
    ] {
        let answer = raw(&server.base, request);
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{answer}");
    }
    let huge = format!("GET /healthz HTTP/1.1\r\nHost: shop\r\nX-Big: {}\r\n\r\n", "a".repeat(20 * 1024));
    let answer = raw(&server.base, huge.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}
