//! The stylesheet and the script, embedded in the binary. Each carries a strong ETag (a hash
//! of its bytes, computed once) and pages link it as `/static/<file>?v=<hash>`, so browsers
//! may cache it for a long time and still see a new release at once.

use crate::precompressed::Precompressed;
use axum::body::Bytes;
use std::sync::LazyLock;

/// A file served under `/static/`.
pub struct Asset {
    pub name: &'static str,
    pub(super) content_type: &'static str,
    /// The file, with a strong `ETag` (a hash of it), and gzipped for browsers: a sale's
    /// crowd of first-time visitors all fetch it at once.
    pub(super) body: Precompressed,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, body: &'static str) -> Asset {
        Asset { name, content_type, body: Precompressed::new(Bytes::from_static(body.as_bytes())) }
    }

    /// The URL pages link, versioned by content.
    pub fn href(&self) -> String {
        format!("/static/{}?v={}", self.name, self.body.version())
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
