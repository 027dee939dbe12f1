//! The JSON API's routes.

pub mod catalog_cache;
pub mod dto;
pub mod health;
pub mod line_summary;
pub mod management;
mod openapi;
pub mod order_body;
pub mod orders;
pub mod outbox;
pub mod products;
pub mod queue;
pub mod refusals;
pub mod rooms;

use crate::AppState;
use axum::Router;
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};

/// A body that fits TCP's first flight (10 segments, RFC 6928) arrives in the same round
/// trip compressed or not, so only a larger one is worth compressing per request: gzipping a
/// 1.4 KB product held it to 0.33 of `/healthz` under wrk (0.8 as it is). The catalog keeps
/// a gzipped copy of its own (`catalog_cache`).
const COMPRESS_ABOVE_BYTES: u16 = 14_600;

/// Every API route, health probes and the OpenAPI document.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/products", get(products::list_products))
        .route(
            "/api/products/{id}",
            get(products::get_product).layer(
                CompressionLayer::new()
                    .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES))),
            ),
        )
        .route("/api/products/{id}/queue", post(queue::join_queue))
        .route("/api/products/{id}/queue/{ticket}", get(queue::queue_status))
        .route("/api/products/{id}/queue/{ticket}/events", get(queue::queue_events))
        .route("/api/orders", post(orders::place_order))
        .route("/api/orders/{id}", get(orders::get_order))
        .route("/api/orders/{id}/cancel", post(orders::cancel_order))
        .route("/api/customers/{customer}/orders", get(orders::customer_orders))
        .route("/api/admin/products", post(management::create_product))
        .route("/api/admin/products/{id}/sales", get(management::product_sales))
        .route("/api/admin/products/{id}/queue", get(line_summary::admin_line))
        .route("/api/admin/orders/{id}/status", post(management::set_order_status))
        .route("/api/admin/outbox", get(outbox::list_outbox))
        .route("/api/admin/outbox/{id}/retry", post(outbox::retry_event))
        .route("/api/admin/outbox/retry-failed", post(outbox::retry_failed))
}
