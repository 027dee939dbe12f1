//! `GET /static/{file}`: the embedded assets (`assets.rs`) with their ETags, long-cached
//! under the URL pages link, and the friendly 404 page for any other file.

use super::assets::{ADMIN_CSS, ADMIN_JS, CSS, JS};
use super::page::not_found_page;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `?v=` of a static URL.
#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// `GET /static/{file}`: the asset, or 304 when the client's copy is current.
pub async fn serve(Path(file): Path<String>, Query(version): Query<Version>, headers: HeaderMap) -> Response {
    let Some(asset) = [&*CSS, &*JS, &*ADMIN_CSS, &*ADMIN_JS].into_iter().find(|a| a.name == file) else {
        return not_found_page(&headers);
    };
    let etag = HeaderValue::from_str(&asset.etag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
    // The URL pages link names this content: caches (browsers, CloudFront) may keep it for
    // good. Any other URL (no or an old version) is kept briefly, so that a release is not
    // hidden behind an old version's cache entry.
    let cache = if version.v.as_deref() == Some(asset.etag.trim_matches('"')) {
        HeaderValue::from_static("public, max-age=31536000, immutable")
    } else {
        HeaderValue::from_static("public, max-age=300")
    };
    let current = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == asset.etag || t.trim() == "*"));
    if current {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), (header::CACHE_CONTROL, cache)]).into_response();
    }
    let content_type = HeaderValue::from_static(asset.content_type);
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        asset.body,
    )
        .into_response()
}
