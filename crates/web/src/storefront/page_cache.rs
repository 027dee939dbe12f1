//! Pages' shared parts, rendered once and reused for at most a second and never across a stock
//! change: the menu's sections, and each product's builder as a visitor with none of it in
//! the cart and none bought sees it. Building cards (prices, badges, drawings) and escaping
//! the catalog's text was most of such a page's CPU, and it is the same for every visitor.
//! What is the visitor's own (the CSRF token in each form, the header) is filled in per
//! request.

use stampede_domain::Millis;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Stands for the visitor's CSRF token in the cached HTML. Catalog text is escaped, so `<`
/// never comes from it: only the template writes this.
pub const TOKEN_MARK: &str = "<csrf-token>";

/// How long a rendering is reused at most: pages read a catalog snapshot that may be as old
/// (DynamoDB's `catalog_ttl`), and sale countdowns are shown to the minute.
const MAX_AGE: Duration = Duration::from_secs(1);

/// A page's part split at the token marks, with what decides its life.
struct Rendering {
    version: u64,
    made: Instant,
    /// The earliest sale opening or closing the part shows, when it changes by itself.
    next_change: Option<Millis>,
    pieces: Arc<[String]>,
}

/// Renderings shared by every request, one per `K`: `()` for the menu, a product's id for
/// its builder. Only renderings of the latest stock version are kept.
pub struct PageCache<K> {
    current: RwLock<HashMap<K, Rendering>>,
}

impl<K> Default for PageCache<K> {
    fn default() -> Self {
        PageCache { current: RwLock::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash> PageCache<K> {
    /// The pieces of `key` rendered for catalog `version`, if still fresh at `now`.
    pub fn get<Q>(&self, key: &Q, version: u64, now: Millis) -> Option<(Arc<[String]>, Option<Millis>)>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        let r = current.get(key)?;
        let fresh = r.version == version && r.made.elapsed() < MAX_AGE && r.next_change.is_none_or(|t| now < t);
        fresh.then(|| (r.pieces.clone(), r.next_change))
    }

    /// Keeps `html` (with [`TOKEN_MARK`] for the token) as `key`'s for catalog `version`,
    /// and lets go of renderings of older versions. A rendering of a version older than one
    /// already kept (a request that read the stock before a change and finished after)
    /// serves its own request only: kept, it would push out the newer ones.
    pub fn put(&self, key: K, version: u64, next_change: Option<Millis>, html: &str) -> Arc<[String]> {
        let pieces: Arc<[String]> = html.split(TOKEN_MARK).map(str::to_owned).collect();
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if current.values().any(|r| r.version > version) {
            return pieces;
        }
        current.retain(|_, r| r.version == version);
        let rendering = Rendering { version, made: Instant::now(), next_change, pieces: pieces.clone() };
        current.insert(key, rendering);
        pieces
    }
}

/// The part with the visitor's token in place of every mark.
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
        let cache = PageCache::<()>::default();
        assert!(cache.get(&(), 1, 0).is_none());
        let pieces =
            cache.put((), 1, Some(5_000), "<form><input value=\"<csrf-token>\"></form><form><csrf-token></form>");
        assert_eq!(with_token(&pieces, "t0k"), "<form><input value=\"t0k\"></form><form>t0k</form>");
        assert!(cache.get(&(), 1, 4_999).is_some());
        assert!(cache.get(&(), 2, 4_999).is_none(), "stock changed");
        assert!(cache.get(&(), 1, 5_000).is_none(), "a sale opened or closed");
        cache.put((), 3, None, "plain");
        assert_eq!(with_token(&cache.get(&(), 3, i64::MAX).unwrap().0, "x"), "plain");
    }

    #[test]
    fn each_page_has_its_own_rendering_and_a_new_version_lets_the_old_ones_go() {
        let cache = PageCache::<String>::default();
        cache.put("margherita".to_owned(), 1, None, "M");
        cache.put("diavola".to_owned(), 1, None, "D");
        assert_eq!(with_token(&cache.get("margherita", 1, 0).unwrap().0, "x"), "M");
        assert_eq!(with_token(&cache.get("diavola", 1, 0).unwrap().0, "x"), "D");
        cache.put("diavola".to_owned(), 2, None, "D2");
        assert!(cache.get("margherita", 1, 0).is_none(), "let go with version 1");
        assert_eq!(cache.current.read().unwrap().len(), 1);
        // A late rendering of version 1 is handed back but not kept.
        assert_eq!(with_token(&cache.put("margherita".to_owned(), 1, None, "M1"), "x"), "M1");
        assert!(cache.get("margherita", 1, 0).is_none());
        assert_eq!(with_token(&cache.get("diavola", 2, 0).unwrap().0, "x"), "D2", "the newer one stays");
    }
}
