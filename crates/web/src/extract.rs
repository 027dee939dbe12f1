//! Extractors whose rejections are problem+json instead of axum's plain text.

use crate::Problem;
use axum::extract::FromRequest;
use axum::extract::FromRequestParts;

/// JSON body; malformed JSON is 400, wrong shapes 422, wrong content type 415, too large 413.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Problem))]
pub struct ApiJson<T>(pub T);

/// Query string parameters.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Problem))]
pub struct ApiQuery<T>(pub T);

/// Path parameters.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Problem))]
pub struct ApiPath<T>(pub T);
