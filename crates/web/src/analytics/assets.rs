//! The analytics stylesheet, embedded in the binary and linked by a content-versioned URL
//! with a strong ETag, like the storefront's assets.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const CSS: &str = include_str!("../../static/analytics.css");

/// Quoted strong validator of the stylesheet.
static ETAG: LazyLock<String> = LazyLock::new(|| {
    let hex = hex::encode(&Sha256::digest(CSS.as_bytes())[..12]);
    format!("\"{hex}\"")
});

/// The URL pages link: it changes whenever the stylesheet does.
pub fn href() -> String {
    format!("/admin/analytics.css?v={}", ETAG.trim_matches('"'))
}

/// `GET /admin/analytics.css`, or 304 when the client's copy is current.
pub async fn serve(headers: HeaderMap) -> Response {
    let etag = HeaderValue::from_str(&ETAG).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    // Private: the file is public knowledge, but it sits behind the staff guard.
    let cache = HeaderValue::from_static("private, max-age=86400");
    let current = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == ETAG.as_str() || t.trim() == "*"));
    if current {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), (header::CACHE_CONTROL, cache)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        CSS,
    )
        .into_response()
}
