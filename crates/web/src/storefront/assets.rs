//! The stylesheet and the script, embedded in the binary. Each carries a strong ETag (a hash
//! of its bytes, computed once) and pages link it as `/static/<file>?v=<hash>`, so browsers
//! may cache it for a long time and still see a new release at once.

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// A file served under `/static/`.
pub struct Asset {
    pub name: &'static str,
    content_type: &'static str,
    pub body: &'static str,
    /// Quoted strong validator, e.g. `"3f2a..."`.
    etag: String,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, body: &'static str) -> Asset {
        let hex = hex::encode(&Sha256::digest(body.as_bytes())[..12]);
        Asset { name, content_type, body, etag: format!("\"{hex}\"") }
    }

    /// The URL pages link, versioned by content.
    pub fn href(&self) -> String {
        format!("/static/{}?v={}", self.name, self.etag.trim_matches('"'))
    }
}

/// The storefront stylesheet.
pub static CSS: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("shop.css", "text/css; charset=utf-8", include_str!("../../static/shop.css")));
/// The storefront script.
pub static JS: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("shop.js", "text/javascript; charset=utf-8", include_str!("../../static/shop.js")));

/// The dashboard's stylesheet (on top of the storefront's).
pub static ADMIN_CSS: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("admin.css", "text/css; charset=utf-8", include_str!("../../static/admin.css")));
/// The dashboard's script: the live order list.
pub static ADMIN_JS: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("admin.js", "text/javascript; charset=utf-8", include_str!("../../static/admin.js")));

/// `?v=` of a static URL.
#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// `GET /static/{file}`: the asset, or 304 when the client's copy is current.
pub async fn serve(Path(file): Path<String>, Query(version): Query<Version>, headers: HeaderMap) -> Response {
    let Some(asset) = [&*CSS, &*JS, &*ADMIN_CSS, &*ADMIN_JS].into_iter().find(|a| a.name == file) else {
        return super::page::not_found_page(&headers);
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
