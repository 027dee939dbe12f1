//! Splitting a product's stock over counters (`stockShards`, on DynamoDB and PostgreSQL) and
//! choosing which counters an order draws from. Pure functions: the randomness comes in as a
//! starting shard.

/// Splits `stock` as evenly as possible over `shards` counters (the first ones get the remainder).
pub fn split(stock: u32, shards: u32) -> Vec<u32> {
    let shards = shards.max(1);
    (0..shards).map(|i| stock / shards + u32::from(i < stock % shards)).collect()
}

/// Picks the counters to take `want` units from, given each counter's level: the counter at
/// `start` (chosen at random by the caller, so concurrent orders spread over the counters)
/// and, when it holds too few, the next ones round the ring. An order larger than any one
/// counter is served from several, so it succeeds whenever the total allows. `None` when
/// the total is short. Returns `(shard, units)` pairs with `units > 0`.
pub fn allocate(levels: &[u32], want: u32, start: usize) -> Option<Vec<(u32, u32)>> {
    if want == 0 {
        return Some(Vec::new());
    }
    if levels.iter().map(|l| u64::from(*l)).sum::<u64>() < u64::from(want) {
        return None;
    }
    let mut plan = Vec::new();
    let mut remaining = want;
    for offset in 0..levels.len() {
        let shard = (start + offset) % levels.len();
        let take = levels[shard].min(remaining);
        if take > 0 {
            plan.push((u32::try_from(shard).ok()?, take));
            remaining -= take;
        }
        if remaining == 0 {
            break;
        }
    }
    Some(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_every_unit() {
        assert_eq!(split(10, 4), vec![3, 3, 2, 2]);
        assert_eq!(split(2, 4), vec![1, 1, 0, 0]);
        assert_eq!(split(7, 0), vec![7]);
        for (stock, shards) in [(0, 3), (1, 16), (1000, 7), (u32::MAX, 16)] {
            assert_eq!(split(stock, shards).iter().map(|s| u64::from(*s)).sum::<u64>(), u64::from(stock));
        }
    }

    #[test]
    fn takes_from_the_chosen_shard_when_it_can() {
        assert_eq!(allocate(&[5, 5, 5], 2, 1), Some(vec![(1, 2)]));
    }

    #[test]
    fn falls_over_to_other_shards_when_one_is_empty() {
        assert_eq!(allocate(&[0, 0, 3], 1, 0), Some(vec![(2, 1)]));
        assert_eq!(allocate(&[1, 0, 0], 1, 1), Some(vec![(0, 1)]));
    }

    #[test]
    fn an_order_larger_than_any_shard_draws_from_several() {
        assert_eq!(allocate(&[2, 2, 2], 5, 2), Some(vec![(2, 2), (0, 2), (1, 1)]));
    }

    #[test]
    fn short_total_is_sold_out() {
        assert_eq!(allocate(&[1, 1], 3, 0), None);
        assert_eq!(allocate(&[0, 0], 1, 1), None);
    }

    #[test]
    fn never_plans_more_than_a_shard_holds_nor_more_than_wanted() {
        let levels = [3, 0, 7, 1, 4];
        for want in 1..=15 {
            for start in 0..levels.len() {
                let plan = allocate(&levels, want, start).unwrap();
                assert_eq!(plan.iter().map(|(_, u)| u).sum::<u32>(), want);
                assert!(plan.iter().all(|(s, u)| *u > 0 && *u <= levels[*s as usize]));
            }
        }
    }
}
