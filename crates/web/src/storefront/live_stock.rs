//! `GET /api/stock/events`: live stock as Server-Sent Events. One `stock` event with every
//! product's stock when the stream opens, then one after each commit that changed stock.
//! During a rush commits arrive far faster than anyone can read a badge, so each stream
//! sends at most a few events a second, each with the latest numbers. Streams end when
//! the server starts shutting down, so open pages never hold up a restart.

use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use stampede_store::Store;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Shortest gap between two events on one stream.
const THROTTLE: Duration = Duration::from_millis(250);
/// How long a browser waits before reconnecting a dropped stream.
const RECONNECT: Duration = Duration::from_secs(3);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StockLevel<'a> {
    id: &'a str,
    stock: u32,
    sold_out: bool,
}

struct Stream {
    store: Arc<dyn Store>,
    changes: watch::Receiver<u64>,
    closing: watch::Receiver<bool>,
    first: bool,
}

/// Resolves once the server starts shutting down; never, if nobody can signal it.
pub async fn closing(mut closing: watch::Receiver<bool>) {
    loop {
        if *closing.borrow_and_update() {
            return;
        }
        if closing.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Stream {
    /// Waits for the next stock change (throttled); `None` when the stream should end.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Stream)> {
        if !self.first {
            let wait = async {
                self.changes.changed().await.ok()?;
                tokio::time::sleep(THROTTLE).await;
                Some(())
            };
            tokio::select! {
                changed = wait => changed?,
                () = closing(self.closing.clone()) => return None,
            }
        }
        let products = self.store.products().await.ok()?;
        self.changes.borrow_and_update();
        let levels: Vec<StockLevel<'_>> =
            products.iter().map(|p| StockLevel { id: &p.product.id, stock: p.stock, sold_out: p.stock == 0 }).collect();
        let mut event = Event::default().event("stock").data(serde_json::to_string(&levels).ok()?);
        if self.first {
            event = event.retry(RECONNECT);
        }
        self.first = false;
        Some((Ok(event), self))
    }
}

/// The event stream.
pub async fn events(State(app): State<AppState>) -> Response {
    let stream = Stream {
        changes: app.store.stock_changes(),
        store: app.store.clone(),
        closing: app.closing.clone(),
        first: true,
    };
    let events = futures_util::stream::unfold(stream, Stream::next);
    let mut response = Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response();
    // Proxies that buffer responses would hold events back.
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
