//! A webhook receiver inside the load generator, so a load test runs with notifications on
//! and can audit the outbox: every acknowledged order's `order.placed` event arrives, once.

use axum::extract::State;
use axum::http::StatusCode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The secret the spawned server signs with; this receiver does not check signatures (the
/// test suite does), it only counts.
pub const SECRET: &str = "loadtest-webhook-secret";

/// Deliveries of `order.placed` per order id.
#[derive(Clone, Default)]
pub struct Receiver {
    placed: Arc<Mutex<HashMap<String, u32>>>,
}

/// What the receiver saw of a set of orders.
pub struct Deliveries {
    /// Orders whose `order.placed` event never arrived within the wait.
    pub missing: usize,
    /// Events that arrived more than once.
    pub duplicates: usize,
    /// How long after the sale ended its last event arrived.
    pub waited: Duration,
}

impl Receiver {
    /// Starts listening on a free loopback port; returns the receiver and its URL.
    pub async fn start() -> anyhow::Result<(Receiver, String)> {
        let receiver = Receiver::default();
        let app = axum::Router::new().route("/hook", axum::routing::post(hook)).with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("webhook receiver stopped: {e}");
            }
        });
        Ok((receiver, url))
    }

    /// Waits (at most `patience`) until every order in `ids` has its event, then counts.
    pub async fn deliveries(&self, ids: &[String], patience: Duration) -> Deliveries {
        let start = Instant::now();
        loop {
            let missing = {
                let placed = self.placed.lock().unwrap_or_else(|p| p.into_inner());
                ids.iter().filter(|id| !placed.contains_key(id.as_str())).count()
            };
            if missing == 0 || start.elapsed() >= patience {
                let placed = self.placed.lock().unwrap_or_else(|p| p.into_inner());
                let duplicates = ids.iter().filter(|id| placed.get(id.as_str()).is_some_and(|n| *n > 1)).count();
                return Deliveries { missing, duplicates, waited: start.elapsed() };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The two fields the receiver counts; serde skips the rest of the event without building it,
/// which keeps the load generator's share of the two cores small.
#[derive(serde::Deserialize)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(rename = "orderId", borrow)]
    order_id: &'a str,
}

async fn hook(State(r): State<Receiver>, body: axum::body::Bytes) -> StatusCode {
    let Ok(event) = serde_json::from_slice::<Event<'_>>(&body) else { return StatusCode::BAD_REQUEST };
    if event.kind == "order.placed" {
        *r.placed.lock().unwrap_or_else(|p| p.into_inner()).entry(event.order_id.to_owned()).or_default() += 1;
    }
    StatusCode::NO_CONTENT
}
