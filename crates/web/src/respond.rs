//! Response pieces shared by the JSON API, the compat surfaces and the HTML pages.

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// `response` with a `Location` header. Every location is built from ids the shop minted or
/// checked, so a value a header cannot carry does not arise; should one, the header is left
/// off rather than failing an answer whose work is already done.
/// An owned location becomes the header's bytes as it is, not copied.
pub(crate) fn with_location(mut response: Response, location: impl Into<String>) -> Response {
    if let Ok(value) = HeaderValue::try_from(location.into()) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
