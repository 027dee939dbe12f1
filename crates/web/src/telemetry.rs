//! Request telemetry: a Prometheus `/metrics` endpoint and one structured access-log line per
//! request (request id, route, status, latency).

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets in seconds: fine-grained where a healthy shop answers.
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Installs the process-wide metrics recorder (once; later calls reuse it).
pub fn install_metrics() -> &'static PrometheusHandle {
    PROMETHEUS.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .map(|b| b.build_recorder())
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Another recorder may already be installed (e.g. by an embedding program); then ours only renders.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Attached to a response that placed or showed an order, so the access line can name it.
#[derive(Clone)]
pub struct OrderId(pub String);

/// Records the request count and latency per route, and logs the access line.
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
    let response = next.run(req).await;
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    let labels = [("method", method.to_string()), ("route", route.clone()), ("status", status.to_string())];
    metrics::counter!("stampede_http_requests_total", &labels).increment(1);
    metrics::histogram!("stampede_http_request_duration_seconds", "method" => method.to_string(), "route" => route.clone())
        .record(elapsed.as_secs_f64());
    let order_id = response.extensions().get::<OrderId>().map(|o| o.0.as_str());
    tracing::info!(target: "stampede::access", request_id, %method, route, status, latency_ms = elapsed.as_secs_f64() * 1000.0, order_id, "request");
    response
}

/// Counts an order outcome: `accepted`, `replayed`, or the problem type of a refusal.
pub fn order_outcome(outcome: &str) {
    metrics::counter!("stampede_orders_total", "outcome" => outcome.to_owned()).increment(1);
}

/// `GET /metrics`: Prometheus text format. Gauges that describe the store are read at scrape time.
pub async fn metrics(State(app): State<AppState>) -> Response {
    let handle = install_metrics();
    metrics::gauge!("stampede_order_queue_depth").set(app.store.queue_depth() as f64);
    if let Ok(products) = app.store.products().await {
        for p in products.iter().filter(|p| p.product.category == "flash-sale") {
            metrics::gauge!("stampede_flash_sale_stock", "product" => p.product.id.clone()).set(f64::from(p.stock));
        }
    }
    if let Ok(counts) = app.store.outbox_counts().await {
        for (state, n) in [("pending", counts.pending), ("delivered", counts.delivered), ("failed", counts.failed)] {
            metrics::gauge!("stampede_outbox_events", "state" => state).set(n as f64);
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
}
