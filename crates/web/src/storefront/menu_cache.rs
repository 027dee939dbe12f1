//! The menu's sections, rendered once and reused for at most a second and never across a stock
//! change: building every card (prices, badges, drawings) and escaping the catalog's text was
//! most of a menu page's CPU, and it is the same for every visitor. What is the visitor's own
//! (the CSRF token in each form, the header) is filled in per request.

use stampede_domain::Millis;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Stands for the visitor's CSRF token in the cached HTML. Catalog text is escaped, so `<`
/// never comes from it: only the template writes this.
pub const TOKEN_MARK: &str = "<csrf-token>";

/// How long a rendering is reused at most: menus read a catalog snapshot that may be as old
/// (DynamoDB's `catalog_ttl`), and sale countdowns are shown to the minute.
const MAX_AGE: Duration = Duration::from_secs(1);

/// The menu's sections split at the token marks, with what decides their life.
struct Rendering {
    version: u64,
    made: Instant,
    /// The earliest sale opening or closing the sections show, when they change by themselves.
    next_change: Option<Millis>,
    pieces: Arc<[String]>,
}

/// One rendering of the menu's sections, shared by every request.
#[derive(Default)]
pub struct MenuCache {
    current: RwLock<Option<Rendering>>,
}

impl MenuCache {
    /// The pieces rendered for catalog `version`, if still fresh at `now`.
    pub fn get(&self, version: u64, now: Millis) -> Option<(Arc<[String]>, Option<Millis>)> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        let r = current.as_ref()?;
        let fresh = r.version == version && r.made.elapsed() < MAX_AGE && r.next_change.is_none_or(|t| now < t);
        fresh.then(|| (r.pieces.clone(), r.next_change))
    }

    /// Keeps `html` (the sections, with [`TOKEN_MARK`] for the token) for catalog `version`.
    pub fn put(&self, version: u64, next_change: Option<Millis>, html: &str) -> Arc<[String]> {
        let pieces: Arc<[String]> = html.split(TOKEN_MARK).map(str::to_owned).collect();
        let rendering = Rendering { version, made: Instant::now(), next_change, pieces: pieces.clone() };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(rendering);
        pieces
    }
}

/// The sections with the visitor's token in place of every mark.
pub fn with_token(pieces: &[String], token: &str) -> String {
    let len = pieces.iter().map(String::len).sum::<usize>() + token.len() * pieces.len();
    let mut html = String::with_capacity(len);
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            html.push_str(token);
        }
        html.push_str(piece);
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendering_serves_its_version_until_it_ages_or_a_sale_changes() {
        let cache = MenuCache::default();
        assert!(cache.get(1, 0).is_none());
        let pieces = cache.put(1, Some(5_000), "<form><input value=\"<csrf-token>\"></form><form><csrf-token></form>");
        assert_eq!(with_token(&pieces, "t0k"), "<form><input value=\"t0k\"></form><form>t0k</form>");
        assert!(cache.get(1, 4_999).is_some());
        assert!(cache.get(2, 4_999).is_none(), "stock changed");
        assert!(cache.get(1, 5_000).is_none(), "a sale opened or closed");
        cache.put(3, None, "plain");
        assert_eq!(with_token(&cache.get(3, i64::MAX).unwrap().0, "x"), "plain");
    }
}
