//! The analytics stylesheet, embedded in the binary and linked by a content-versioned URL,
//! served like the storefront's assets (`precompressed`: a strong ETag, gzipped for browsers).

use crate::precompressed::Precompressed;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::Response;
use std::sync::LazyLock;

static CSS: LazyLock<Precompressed> =
    LazyLock::new(|| Precompressed::new(Bytes::from_static(include_bytes!("../../static/analytics.css"))));

/// The URL pages link: it changes whenever the stylesheet does.
pub fn href() -> String {
    format!("/admin/analytics.css?v={}", CSS.version())
}

/// `GET /admin/analytics.css`, or 304 when the client's copy is current.
pub async fn serve(request: Request) -> Response {
    // Private: the file is public knowledge, but it sits behind the staff guard.
    CSS.respond(request.headers(), "text/css; charset=utf-8", HeaderValue::from_static("private, max-age=86400"))
}
