//! Request telemetry: a Prometheus `/metrics` endpoint, one structured access-log line per
//! request (request id, route, status, latency), and the per-request tracing span.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tower_http::trace::{DefaultOnResponse, OnResponse};
use tracing::Span;
use tracing::field::Empty;

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();
static TRACE_ID: OnceLock<fn() -> Option<String>> = OnceLock::new();

/// Lets the access line name the request's trace id, so logs and exported traces join up. The
/// binary sets it when it exports traces; until then the access line has no `trace_id`.
pub fn set_trace_id_source(source: fn() -> Option<String>) {
    let _ = TRACE_ID.set(source);
}

/// Gives each request its `x-request-id`: a random UUIDv4 as tower-http's `MakeRequestUuid`
/// makes, without its system call per request (see `stampede_store::ids`).
#[derive(Clone, Copy)]
pub struct MakeRequestId;

impl tower_http::request_id::MakeRequestId for MakeRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<tower_http::request_id::RequestId> {
        let id = axum::http::HeaderValue::try_from(stampede_store::ids::v4().to_string());
        id.ok().map(tower_http::request_id::RequestId::new)
    }
}

/// The span of one request. Debug level, so logs at the default `info` stay as they are; the
/// binary's OTLP exporter has its own filter and exports it at any `RUST_LOG`. `route`,
/// `status` and the span name are filled in once known. The path is left out on purpose: it
/// can hold a customer's email (`/api/customers/{customer}/orders`).
pub fn request_span(req: &Request) -> Span {
    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
    tracing::debug_span!("request", method = %req.method(), request_id = %id, route = Empty, status = Empty,
        otel.name = %req.method(), otel.kind = "server", otel.status_code = Empty)
}

/// Records the status on the request span (a 5xx marks it failed), then logs as tower-http does.
pub fn on_response<B>(res: &axum::http::Response<B>, latency: Duration, span: &Span) {
    let status = res.status();
    // As i64: tracing-opentelemetry would turn a u16 into a string attribute.
    span.record("status", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    DefaultOnResponse::default().on_response(res, latency, span);
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a gauge not set again stays in the output.
const GAUGE_IDLE: std::time::Duration = std::time::Duration::from_secs(10);

/// Latency buckets in seconds: fine-grained where a healthy shop answers.
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Installs the process-wide metrics recorder (once; later calls reuse it).
pub fn install_metrics() -> &'static PrometheusHandle {
    PROMETHEUS.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            // Gauges are set at each scrape: one no longer set (an archived product's stock
            // or line) is dropped, not shown with its last value forever.
            .idle_timeout(MetricKindMask::GAUGE, Some(GAUGE_IDLE))
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .map(|b| b.build_recorder())
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Another recorder may already be installed (e.g. by an embedding program); then ours only renders.
        let _ = metrics::set_global_recorder(recorder);
        // A recorder built by hand gets no upkeep task: histogram samples would pile up until
        // the next scrape, so memory would grow with every request on a server nobody scrapes.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new().name("stampede-metrics".into()).spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
        handle
    })
}

/// The target of the access line: what `--access-log false` turns off, and what the binary's
/// JSON logs write without `tracing-subscriber`'s general formatter.
pub const ACCESS_TARGET: &str = "stampede::access";

/// Attached to a response that placed or showed an order, so the access line can name it.
#[derive(Clone)]
pub struct OrderId(pub String);

/// Records the request count and latency per route, and logs the access line.
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    // Both kept by reference count, not copied: they outlive the request passed on.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let request_id = req.headers().get("x-request-id").cloned();
    let request_id = request_id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-");
    // Only when traces are exported: `Span::current()` on every request cost ~50 µs per
    // order under a flash sale (BENCHMARKS.md), for nothing when no one reads the span.
    let span = if TRACE_ID.get().is_some() { Span::current() } else { Span::none() };
    if !span.is_disabled() {
        span.record("route", route);
        span.record("otel.name", tracing::field::display(format_args!("{method} {route}")));
    }
    let response = next.run(req).await;
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    crate::route_metrics::record(&method, route, status, elapsed.as_secs_f64());
    let order_id = response.extensions().get::<OrderId>().map(|o| o.0.as_str());
    let trace_id = TRACE_ID.get().and_then(|source| source());
    let trace_id = trace_id.as_deref();
    tracing::info!(target: ACCESS_TARGET, request_id, %method, route, status, latency_ms = elapsed.as_secs_f64() * 1000.0, order_id, trace_id, "request");
    response
}

/// `/metrics` as `access` allows it on the shop's listener.
pub fn metrics_routes(access: &crate::MetricsAccess) -> axum::Router<AppState> {
    use crate::MetricsAccess;
    let route =
        axum::Router::new().route("/metrics", axum::routing::get(metrics).fallback(crate::problem::method_not_allowed));
    match access {
        MetricsAccess::Open => route,
        MetricsAccess::Token(token) => {
            let token = token.clone();
            route.route_layer(axum::middleware::from_fn(move |req: Request, next: Next| {
                let token = token.clone();
                async move {
                    if crate::auth::bearer_matches(req.headers(), &token) {
                        next.run(req).await
                    } else {
                        crate::Problem::unauthorized(
                            "Unauthorized",
                            "send `Authorization: Bearer <metrics token>` to read the metrics",
                        )
                        .into_response()
                    }
                }
            }))
        }
        MetricsAccess::Off => axum::Router::new(),
    }
}

/// `GET /metrics`: Prometheus text format. Gauges that describe the store are read at scrape time.
pub async fn metrics(State(app): State<AppState>) -> Response {
    let handle = install_metrics();
    metrics::gauge!("stampede_order_queue_depth").set(app.store.queue_depth() as f64);
    let products = app.store.products().await.unwrap_or_default();
    for p in products.iter().filter(|p| p.product.category == "flash-sale" && !p.product.archived) {
        metrics::gauge!("stampede_flash_sale_stock", "product" => p.product.id.clone()).set(f64::from(p.stock));
    }
    for (kind, value) in app.store.service_calls() {
        metrics::gauge!("stampede_store_service_calls", "kind" => kind).set(value);
    }
    for line in crate::api::line_summary::served_lines(&app, &products) {
        let product = line.product_id;
        metrics::gauge!("stampede_waiting_room_in_line", "product" => product.clone()).set(line.in_line as f64);
        metrics::gauge!("stampede_waiting_room_waiting", "product" => product.clone()).set(line.waiting as f64);
        metrics::gauge!("stampede_waiting_room_admitted", "product" => product).set(line.admitted as f64);
    }
    let (unwritten, oldest) = app.rooms.backlog();
    metrics::gauge!("stampede_waiting_room_unwritten_joins").set(unwritten as f64);
    metrics::gauge!("stampede_waiting_room_unwritten_oldest_seconds").set(oldest.as_secs_f64());
    if let Ok(counts) = app.store.outbox_counts().await {
        for (state, n) in [("pending", counts.pending), ("delivered", counts.delivered), ("failed", counts.failed)] {
            metrics::gauge!("stampede_outbox_events", "state" => state).set(n as f64);
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
}
