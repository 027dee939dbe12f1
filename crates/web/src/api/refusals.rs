//! Answers several endpoints share, for the OpenAPI document: a handler's `responses(...)`
//! names the group once instead of repeating its lines. Each is a `Problem`, which
//! `openapi.rs` documents as `application/problem+json`.

use crate::Problem;
use utoipa::IntoResponses;

/// The admin token's refusals, before the endpoint runs (see `management::Admin`).
#[derive(IntoResponses)]
pub enum AdminTokenRefusals {
    #[response(status = 401, description = "No token")]
    NoToken(Problem),
    #[response(status = 403, description = "Wrong token or admin API disabled")]
    WrongToken(Problem),
}

/// A JSON body refused before the endpoint reads it (see `extract::ApiJson`).
#[derive(IntoResponses)]
pub enum JsonBodyRefusals {
    #[response(status = 413, description = "Body over 64 KiB")]
    TooLarge(Problem),
    #[response(status = 415, description = "Body is not JSON")]
    NotJson(Problem),
}

/// Refusals that say when to come back: the rate limits (`rate_limit`) and a full write
/// queue (`problem::busy`), both with `Retry-After`.
#[derive(IntoResponses)]
pub enum RetryLaterRefusals {
    #[response(
        status = 429,
        description = "Too many from this address or customer: retry after `Retry-After` seconds",
        headers(("Retry-After" = u64, description = "Seconds to wait"))
    )]
    TooMany(Problem),
    #[response(
        status = 503,
        description = "Busy, the write queue is full: retry after `Retry-After` seconds",
        headers(("Retry-After" = u64, description = "Seconds to wait"))
    )]
    Busy(Problem),
}
