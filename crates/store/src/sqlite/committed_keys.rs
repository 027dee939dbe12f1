//! Which idempotency keys have placed an order, as a fixed-size Bloom filter: "certainly
//! never seen" is answered from memory (the sold-out fast path and the writer skip the
//! database), "maybe seen" costs one indexed lookup. Memory is 8 MiB however many orders
//! the shop takes; past ~7 million keys false positives rise above 1%, which only adds
//! lookups, never a wrong answer.

use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// 2^26 bits = 8 MiB.
const BITS: u64 = 1 << 26;
/// Probes per key: optimal for ~7 million keys at 1% false positives.
const PROBES: u64 = 7;

/// Shared Bloom filter of committed keys. Lock-free: bits are only ever set.
#[derive(Clone)]
pub struct CommittedKeys(Arc<[AtomicU64]>);

/// Two independent 64-bit hashes of `key` (fixed seeds: stable across restarts).
fn hashes(key: &str) -> (u64, u64) {
    let hash_with = |seed: u64| {
        let mut h =
            std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().build_hasher();
        seed.hash(&mut h);
        key.hash(&mut h);
        h.finish()
    };
    (hash_with(0x5eed_0001), hash_with(0x5eed_0002) | 1)
}

/// The bit positions of `key` (double hashing).
fn positions(key: &str) -> impl Iterator<Item = u64> {
    let (a, b) = hashes(key);
    (0..PROBES).map(move |i| a.wrapping_add(i.wrapping_mul(b)) % BITS)
}

impl CommittedKeys {
    /// Builds the filter from keys already in the database.
    pub fn from_keys(keys: impl IntoIterator<Item = String>) -> CommittedKeys {
        let words: Arc<[AtomicU64]> = (0..BITS / 64).map(|_| AtomicU64::new(0)).collect();
        // The allocator may hand out lazily zeroed pages; storing to every word makes the
        // filter's memory resident now instead of creeping up as keys arrive.
        words.iter().for_each(|w| w.store(0, Ordering::Relaxed));
        let filter = CommittedKeys(words);
        for key in keys {
            filter.insert(&key);
        }
        filter
    }

    fn insert(&self, key: &str) {
        for bit in positions(key) {
            self.0[(bit / 64) as usize].fetch_or(1 << (bit % 64), Ordering::Relaxed);
        }
    }

    /// Whether `key` may have placed an order (false means it certainly has not).
    pub fn may_contain(&self, key: &str) -> bool {
        positions(key).all(|bit| self.0[(bit / 64) as usize].load(Ordering::Relaxed) & (1 << (bit % 64)) != 0)
    }

    /// Records keys whose orders have committed.
    pub fn extend<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        keys.into_iter().for_each(|k| self.insert(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let filter = CommittedKeys::from_keys((0..10_000).map(|i| format!("key-{i}")));
        filter.extend(["late-key"]);
        assert!((0..10_000).all(|i| filter.may_contain(&format!("key-{i}"))));
        assert!(filter.may_contain("late-key"));
        let false_positives = (0..100_000).filter(|i| filter.may_contain(&format!("other-{i}"))).count();
        assert!(false_positives < 10, "{false_positives} false positives in 100k");
    }
}
