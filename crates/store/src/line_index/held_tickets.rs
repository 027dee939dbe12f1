//! The tickets a line's customers hold, by customer key, in shards.
//!
//! Why shards: a map grows by doubling, and a doubling moves every entry at once, under the
//! line's lock. With one map, the join that made it double held every other join (and every
//! status check of that line) for as long as that took: under wrk, joins' p99 rose to as much
//! as 286 ms in runs in which one line passed 229,376 or 458,752 people, where the map
//! doubles, against at most 24 ms sharded (BENCHMARKS.md, "Hot paths with wrk"). Each shard
//! holds about a 64th of the line and doubles on its own, so no single join moves more than a
//! 64th of it.

use std::collections::HashMap;
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

pub(super) struct HeldTickets {
    shards: Box<[HashMap<String, Held>]>,
    /// Picks a key's shard; seeded per line, as std's maps are, so keys cannot be chosen to
    /// pile into one shard.
    pick: RandomState,
}

impl Default for HeldTickets {
    fn default() -> Self {
        HeldTickets { shards: (0..SHARDS).map(|_| HashMap::new()).collect(), pick: RandomState::new() }
    }
}

impl HeldTickets {
    fn shard(&self, customer: &str) -> usize {
        // The low bits of a SipHash are as good as any; SHARDS is a power of two.
        (self.pick.hash_one(customer) as usize) & (SHARDS - 1)
    }

    pub(super) fn get(&self, customer: &str) -> Option<&Held> {
        self.shards[self.shard(customer)].get(customer)
    }

    pub(super) fn get_mut(&mut self, customer: &str) -> Option<&mut Held> {
        let shard = self.shard(customer);
        self.shards[shard].get_mut(customer)
    }

    pub(super) fn insert(&mut self, customer: String, held: Held) {
        let shard = self.shard(&customer);
        self.shards[shard].insert(customer, held);
    }

    /// Records `held` unless `customer` holds a ticket already.
    pub(super) fn insert_if_absent(&mut self, customer: String, held: Held) {
        let shard = self.shard(&customer);
        self.shards[shard].entry(customer).or_insert(held);
    }

    pub(super) fn remove(&mut self, customer: &str) {
        let shard = self.shard(customer);
        self.shards[shard].remove(customer);
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
        tickets.insert_if_absent("new".into(), held(5_000));
        tickets.get_mut("c-8").expect("held").durable = true;
        tickets.remove("c-9");
        assert_eq!(tickets.get("c-7").map(|h| h.rank), Some(7), "the first ticket stays");
        assert_eq!(tickets.get("new").map(|h| h.rank), Some(5_000));
        assert!(tickets.get("c-8").is_some_and(|h| h.durable));
        assert!(tickets.get("c-9").is_none());
        assert_eq!(tickets.shards.iter().map(HashMap::len).sum::<usize>(), 1_000);
        let used = tickets.shards.iter().filter(|s| !s.is_empty()).count();
        assert!(used > SHARDS / 2, "a thousand customers spread over the shards, not {used} of them");
    }
}
