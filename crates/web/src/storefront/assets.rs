//! The stylesheet and the script, embedded in the binary. Each carries a strong ETag (a hash
//! of its bytes, computed once) and pages link it as `/static/<file>?v=<hash>`, so browsers
//! may cache it for a long time and still see a new release at once.

use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// A file served under `/static/`.
pub struct Asset {
    pub name: &'static str,
    pub(super) content_type: &'static str,
    pub body: &'static str,
    /// Quoted strong validator, e.g. `"3f2a..."`.
    pub(super) etag: String,
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
