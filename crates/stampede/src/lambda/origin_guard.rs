//! Refuses requests that did not come through CloudFront. API Gateway's own URL
//! (`https://<id>.execute-api...`) stays reachable from the internet; CloudFront adds a
//! secret header on its way to the origin, and without it a request never reaches the shop.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use stampede_web::Problem;
use stampede_web::auth::cookies::same;
use std::sync::Arc;

/// The header CloudFront sets (deploy/template.yaml, the API origin's custom headers).
pub const HEADER: &str = "x-stampede-origin";

/// Middleware: passes requests carrying the origin secret, answers `403` to the rest.
pub async fn require(State(secret): State<Arc<str>>, request: Request, next: Next) -> Response {
    let given = request.headers().get(HEADER).and_then(|v| v.to_str().ok());
    if given.is_some_and(|given| same(given, &secret)) {
        return next.run(request).await;
    }
    Problem::new(
        StatusCode::FORBIDDEN,
        "not-through-cdn",
        "Use the shop's address",
        "this address is the shop's origin; open the shop through its public (CloudFront) address",
    )
    .into_response()
}
