//! `GET /static/{file}`: the embedded assets (`assets.rs`) with their ETags, gzipped for
//! browsers, long-cached under the URL pages link, and the friendly 404 page for any other file.

use super::assets::{ADMIN_CSS, ADMIN_JS, CSS, JS};
use super::page::not_found_page;
use axum::extract::{Path, Query, Request};
use axum::http::HeaderValue;
use axum::response::Response;

/// `?v=` of a static URL.
#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// `GET /static/{file}`: the asset (gzipped for clients that take it), or 304 when the
/// client's copy is current.
pub async fn serve(Path(file): Path<String>, Query(version): Query<Version>, request: Request) -> Response {
    let headers = request.headers();
    let Some(asset) = [&*CSS, &*JS, &*ADMIN_CSS, &*ADMIN_JS].into_iter().find(|a| a.name == file) else {
        return not_found_page(headers);
    };
    // The URL pages link names this content: caches (browsers, CloudFront) may keep it for
    // good. Any other URL (no or an old version) is kept briefly, so that a release is not
    // hidden behind an old version's cache entry.
    let cache = if version.v.as_deref() == Some(asset.body.version()) {
        HeaderValue::from_static("public, max-age=31536000, immutable")
    } else {
        HeaderValue::from_static("public, max-age=300")
    };
    asset.body.respond(headers, asset.content_type, cache)
}
