//! Stampede's HTTP face: one axum `Router` for the JSON API, health checks and OpenAPI,
//! served the same way by the local binary and by Lambda.

// `Problem` is the one error type of this layer and is built at most once per request,
// so its size (a few strings) costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

mod analytics;
pub mod api;
pub mod auth;
pub mod body_deadline;
mod body_limit;
mod compat;
pub mod cors;
mod counters;
pub mod dashboard;
mod dev_mailbox;
mod extract;
mod precompressed;
mod problem;
pub mod rate_limit;
mod respond;
mod route_metrics;
pub mod shop;
pub mod shop_time;
mod state;
mod storefront;
pub mod telemetry;
mod timefmt;

pub use analytics::analytics_routes;
pub use body_limit::MAX_BODY_BYTES;
pub use problem::Problem;
pub use state::{AppParts, AppState, DevMailbox, MetricsAccess, random_signer};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// `/metrics` alone, for a listener of its own (`--metrics-addr`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new().merge(telemetry::metrics_routes(&MetricsAccess::Open)).with_state(state)
}

/// Builds the whole application router.
pub fn router(state: AppState) -> Router {
    telemetry::install_metrics();
    let request_id = HeaderName::from_static("x-request-id");
    // The API gets its 405 fallback before the CORS layer wraps its routes, and CORS only
    // where the setting allows it; the compat surfaces bring their own (see `compat`).
    // Live stock is the storefront's stream, but other origins' pages read it as API.
    let api = api::routes().route("/api/stock/events", axum::routing::get(storefront::live_stock::events));
    let mut api = api.method_not_allowed_fallback(problem::method_not_allowed);
    if let Some(cors) = cors::layer(&state.cors) {
        api = api.layer(cors).layer(axum::middleware::map_response(cors::preflight_no_content));
    }
    let mut routes = api.merge(compat::routes(&state.cors)).merge(storefront::routes(state.clone()));
    match state.dev_mailbox {
        DevMailbox::Off => {}
        DevMailbox::Open => routes = routes.merge(dev_mailbox::routes()),
        DevMailbox::AdminOnly => {
            routes =
                routes.merge(dev_mailbox::routes().route_layer(axum::middleware::from_fn(auth::guard::require_admin)))
        }
    }
    if state.auth.is_some() {
        // Extra admin-only pages (e.g. analytics) go in the argument: they get the same guard.
        routes = routes.merge(dashboard::routes(analytics_routes())).merge(storefront::account_routes());
    }
    Router::new()
        .merge(routes)
        .fallback(storefront::fallback)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::visitor_layer::layer))
        .route_layer(axum::middleware::from_fn(telemetry::track))
        .merge(telemetry::metrics_routes(&state.metrics))
        .with_state(state)
        // One stack, outermost first, applied once: each `Router::layer` wraps every route in
        // a service of its own that is cloned and boxed again on every request.
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), telemetry::MakeRequestId))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(telemetry::request_span)
                        .on_response(telemetry::on_response),
                )
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(CatchPanicLayer::custom(problem::panicked))
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
}
