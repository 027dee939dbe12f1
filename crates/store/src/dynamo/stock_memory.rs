//! What one instance has lately learnt about stock counters, so a hot product's orders go
//! straight to a counter likely to hold enough: which counters were short (a conditional
//! decrement failed, or a read showed their level) and which products are sold out. It only
//! steers: every draw is still a conditional write, so a stale memory costs a retry or a
//! read, never an oversell. Entries expire after a few seconds because other instances
//! (cancellations, restocks) change the counters without telling this one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

pub struct StockMemory {
    /// How long a learnt fact about a counter or a product is trusted.
    trusted_for: Duration,
    products: HashMap<String, Product>,
}

#[derive(Default)]
struct Product {
    /// Shard → (its level is below this, until).
    short: HashMap<u32, (u32, Instant)>,
    sold_out_until: Option<Instant>,
}

impl StockMemory {
    pub fn new(trusted_for: Duration) -> StockMemory {
        StockMemory { trusted_for, products: HashMap::new() }
    }

    /// A counter of `product`, out of `shards`, that may hold `want` units: the `roll`-th
    /// (modulo) of those not known to be short. `None` when every counter is known short,
    /// and only a read can tell what is left.
    pub fn pick(&self, product: &str, shards: u32, want: u32, roll: usize, now: Instant) -> Option<u32> {
        let known = self.products.get(product);
        let may_hold = |shard: &u32| {
            known.and_then(|p| p.short.get(shard)).is_none_or(|(below, until)| *until <= now || want < *below)
        };
        let candidates: Vec<u32> = (0..shards.max(1)).filter(may_hold).collect();
        (!candidates.is_empty()).then(|| candidates[roll % candidates.len()])
    }

    /// A conditional draw of `want` units from `shard` failed: it holds fewer.
    pub fn short(&mut self, product: &str, shard: u32, want: u32, now: Instant) {
        let entry = self.products.entry(product.to_owned()).or_default();
        let below = entry.short.get(&shard).filter(|(_, until)| *until > now).map_or(want, |(b, _)| want.min(*b));
        entry.short.insert(shard, (below, now + self.trusted_for));
    }

    /// A read showed every counter's level (index = shard).
    pub fn levels(&mut self, product: &str, levels: &[u32], now: Instant) {
        let until = now + self.trusted_for;
        let entry = self.products.entry(product.to_owned()).or_default();
        entry.short = levels
            .iter()
            .enumerate()
            .filter_map(|(shard, level)| Some((u32::try_from(shard).ok()?, (level.saturating_add(1), until))))
            .collect();
        let total: u64 = levels.iter().map(|l| u64::from(*l)).sum();
        entry.sold_out_until = (total == 0).then_some(until);
    }

    /// Whether `product` was lately read sold out: refused without asking the table.
    pub fn sold_out(&self, product: &str, now: Instant) -> bool {
        self.products.get(product).and_then(|p| p.sold_out_until).is_some_and(|until| now < until)
    }

    /// Stock came back to `product` (a cancellation here): what was learnt no longer holds.
    pub fn forget(&mut self, product: &str) {
        self.products.remove(product);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUSTED_FOR: Duration = Duration::from_secs(2);

    fn memory() -> StockMemory {
        StockMemory::new(TRUSTED_FOR)
    }

    #[test]
    fn a_fresh_memory_picks_any_shard_by_the_roll() {
        let memory = memory();
        let now = Instant::now();
        let picks: Vec<_> = (0..8).map(|roll| memory.pick("p", 4, 1, roll, now)).collect();
        assert_eq!(picks, [0, 1, 2, 3, 0, 1, 2, 3].map(Some));
    }

    #[test]
    fn empty_shards_are_skipped_until_the_memory_expires() {
        let mut memory = memory();
        let now = Instant::now();
        memory.short("p", 0, 1, now);
        memory.short("p", 2, 1, now);
        let picks: Vec<_> = (0..4).filter_map(|roll| memory.pick("p", 4, 1, roll, now)).collect();
        assert_eq!(picks, [1, 3, 1, 3]);
        // Another product is not affected.
        assert_eq!(memory.pick("q", 4, 1, 0, now), Some(0));
        let later = now + TRUSTED_FOR;
        assert_eq!(memory.pick("p", 4, 1, 0, later), Some(0));
    }

    #[test]
    fn a_short_shard_still_serves_smaller_orders() {
        let mut memory = memory();
        let now = Instant::now();
        memory.short("p", 0, 3, now);
        assert_eq!(memory.pick("p", 1, 3, 0, now), None);
        assert_eq!(memory.pick("p", 1, 2, 0, now), Some(0));
        // A later, smaller failure narrows it; a larger one does not widen it.
        memory.short("p", 0, 2, now);
        memory.short("p", 0, 5, now);
        assert_eq!(memory.pick("p", 1, 2, 0, now), None);
        assert_eq!(memory.pick("p", 1, 1, 0, now), Some(0));
    }

    #[test]
    fn no_pick_once_every_shard_is_known_empty() {
        let mut memory = memory();
        let now = Instant::now();
        for shard in 0..3 {
            memory.short("p", shard, 1, now);
        }
        assert_eq!(memory.pick("p", 3, 1, 7, now), None);
    }

    #[test]
    fn read_levels_steer_picks_and_tell_sold_out() {
        let mut memory = memory();
        let now = Instant::now();
        memory.levels("p", &[0, 2, 0], now);
        assert!(!memory.sold_out("p", now));
        assert_eq!(memory.pick("p", 3, 2, 5, now), Some(1));
        assert_eq!(memory.pick("p", 3, 3, 0, now), None);
        memory.levels("p", &[0, 0, 0], now);
        assert!(memory.sold_out("p", now));
        assert!(!memory.sold_out("p", now + TRUSTED_FOR));
        memory.forget("p");
        assert!(!memory.sold_out("p", now));
        assert_eq!(memory.pick("p", 3, 1, 0, now), Some(0));
    }
}
