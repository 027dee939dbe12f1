//! Hashes of every idempotency key that has placed an order, so the sold-out fast path can
//! tell "certainly never seen" from memory and only asks the database on a (possible) hit.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, RwLock};

/// Shared set of committed key hashes. A hash collision only costs one extra lookup.
#[derive(Clone, Default)]
pub struct CommittedKeys(Arc<RwLock<HashSet<u64>>>);

fn hash(key: &str) -> u64 {
    // `DefaultHasher::new()` uses fixed keys: the same key hashes the same across restarts.
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

impl CommittedKeys {
    /// Builds the set from keys already in the database.
    pub fn from_keys(keys: impl IntoIterator<Item = String>) -> CommittedKeys {
        CommittedKeys(Arc::new(RwLock::new(keys.into_iter().map(|k| hash(&k)).collect())))
    }

    /// Whether `key` may have placed an order (false means it certainly has not).
    pub fn may_contain(&self, key: &str) -> bool {
        self.0.read().unwrap_or_else(|p| p.into_inner()).contains(&hash(key))
    }

    /// Records keys whose orders have committed.
    pub fn extend<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        let mut set = self.0.write().unwrap_or_else(|p| p.into_inner());
        set.extend(keys.into_iter().map(hash));
    }
}
