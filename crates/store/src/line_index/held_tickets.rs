//! The tickets a line's customers hold, by customer key, in shards.
//!
//! Why shards: a map grows by doubling, and a doubling moves every entry at once, under the
//! line's lock. With one map, the join that made it double held every other join (and every
//! status check of that line) for as long as that took: under wrk, joins' p99 rose to as much
//! as 286 ms in runs in which one line passed 229,376 or 458,752 people, where the map
//! doubles, against at most 24 ms sharded (BENCHMARKS.md, "Hot paths with wrk"). Each shard
//! holds about a 64th of the line and doubles on its own, so no single join moves more than a
//! 64th of it.
//!
//! Each key is hashed once per lookup, with a per-line seed (std's SipHash: customer keys come
//! from outside, so they cannot be chosen to collide): the middle bits of that hash pick the
//! shard, and the shard's table uses the whole hash (a `HashMap` per shard hashed each key a
//! second time, on every lookup of every join and status check).

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

/// The ticket a customer holds, as the index knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub rank: u64,
    pub ticket: Arc<str>,
    /// Whether the store is known to hold this very ticket.
    pub durable: bool,
}

const SHARDS: usize = 64;
/// Where in the hash the shard's bits are: above those a table of up to 2^40 buckets places
/// entries by (the low bits), below the 7 it tells entries apart by (the top ones).
const SHARD_SHIFT: u32 = 40;

pub(super) struct HeldTickets {
    shards: Box<[HashTable<(String, Held)>]>,
    /// Hashes a key; seeded per line, as std's maps are, so keys cannot be chosen to pile into
    /// one shard or one bucket.
    seed: RandomState,
}

impl Default for HeldTickets {
    fn default() -> Self {
        HeldTickets { shards: (0..SHARDS).map(|_| HashTable::new()).collect(), seed: RandomState::new() }
    }
}

impl HeldTickets {
    /// The key's hash and its shard.
    fn locate(&self, customer: &str) -> (u64, usize) {
        let hash = self.seed.hash_one(customer);
        (hash, (hash >> SHARD_SHIFT) as usize & (SHARDS - 1))
    }

    pub(super) fn get(&self, customer: &str) -> Option<&Held> {
        let (hash, shard) = self.locate(customer);
        self.shards[shard].find(hash, |(k, _)| k == customer).map(|(_, held)| held)
    }

    pub(super) fn get_mut(&mut self, customer: &str) -> Option<&mut Held> {
        let (hash, shard) = self.locate(customer);
        self.shards[shard].find_mut(hash, |(k, _)| k == customer).map(|(_, held)| held)
    }

    pub(super) fn insert(&mut self, customer: String, held: Held) {
        self.put(customer, held, true);
    }

    /// Records `held` unless `customer` holds a ticket already.
    pub(super) fn insert_if_absent(&mut self, customer: String, held: Held) {
        self.put(customer, held, false);
    }

    fn put(&mut self, customer: String, held: Held, replace: bool) {
        let (hash, shard) = self.locate(&customer);
        let seed = &self.seed;
        let entry = self.shards[shard].entry(hash, |(k, _)| *k == customer, |(k, _)| seed.hash_one(k.as_str()));
        match entry {
            Entry::Occupied(mut found) if replace => found.get_mut().1 = held,
            Entry::Occupied(_) => {}
            Entry::Vacant(room) => {
                room.insert((customer, held));
            }
        }
    }

    pub(super) fn remove(&mut self, customer: &str) {
        let (hash, shard) = self.locate(customer);
        if let Ok(found) = self.shards[shard].find_entry(hash, |(k, _)| k == customer) {
            found.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(rank: u64) -> Held {
        Held { rank, ticket: format!("t-{rank}").into(), durable: false }
    }

    #[test]
    fn every_customer_is_found_in_the_shard_it_went_to() {
        let mut tickets = HeldTickets::default();
        for i in 0..1_000u64 {
            tickets.insert(format!("c-{i}"), held(i));
        }
        tickets.insert_if_absent("c-7".into(), held(9_999));
        tickets.insert("c-6".into(), held(6_000));
        tickets.insert_if_absent("new".into(), held(5_000));
        tickets.get_mut("c-8").expect("held").durable = true;
        tickets.remove("c-9");
        assert_eq!(tickets.get("c-7").map(|h| h.rank), Some(7), "the first ticket stays");
        assert_eq!(tickets.get("c-6").map(|h| h.rank), Some(6_000), "an insert replaces");
        assert_eq!(tickets.get("new").map(|h| h.rank), Some(5_000));
        assert!(tickets.get("c-8").is_some_and(|h| h.durable));
        assert!(tickets.get("c-9").is_none());
        assert_eq!(tickets.shards.iter().map(HashTable::len).sum::<usize>(), 1_000);
        let used = tickets.shards.iter().filter(|s| !s.is_empty()).count();
        assert!(used > SHARDS / 2, "a thousand customers spread over the shards, not {used} of them");
    }
}
