//! What the store asks of DynamoDB, counted per call kind, with the capacity units the
//! server reports (`ReturnConsumedCapacity`): the measurable model of a flash sale's cost.

use aws_sdk_dynamodb::types::ConsumedCapacity;
use std::sync::atomic::{AtomicU64, Ordering};

/// Calls and units since the store was made (see [`super::DynamoStore::op_counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OpCounts {
    /// `GetItem`, `BatchGetItem`, `TransactGetItems`, `Query` and `Scan` requests.
    pub reads: u64,
    /// Single-item `PutItem`, `UpdateItem` and `DeleteItem` requests.
    pub writes: u64,
    /// `TransactWriteItems` requests, committed or cancelled.
    pub transactions: u64,
    /// Order transactions sent again after one was cancelled.
    pub retries: u64,
    /// Order transactions cancelled because another transaction held one of their items
    /// (`TransactionConflict`): the contention on a hot counter the capacity model predicts.
    pub conflicts: u64,
    /// Order transactions cancelled because a stock counter held fewer units than drawn: a
    /// counter drained by other orders since this instance last knew its level.
    pub short_draws: u64,
    /// Items the queries returned: what their read units grow with (moto reports no units).
    pub queried_items: u64,
    /// Read capacity units the server reported (0 where it reports none).
    pub read_units: f64,
    /// Write capacity units the server reported (0 where it reports none).
    pub write_units: f64,
}

impl OpCounts {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &OpCounts) -> OpCounts {
        OpCounts {
            reads: self.reads - earlier.reads,
            writes: self.writes - earlier.writes,
            transactions: self.transactions - earlier.transactions,
            retries: self.retries - earlier.retries,
            conflicts: self.conflicts - earlier.conflicts,
            short_draws: self.short_draws - earlier.short_draws,
            queried_items: self.queried_items - earlier.queried_items,
            read_units: self.read_units - earlier.read_units,
            write_units: self.write_units - earlier.write_units,
        }
    }

    /// Every request sent, of any kind.
    pub fn calls(&self) -> u64 {
        self.reads + self.writes + self.transactions
    }
}

/// The kinds of call counted.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    Read,
    Write,
    Transaction,
    Retry,
    Conflict,
    ShortDraw,
}

/// The live counters; units are kept in thousandths so they fit atomics.
#[derive(Default)]
pub struct Counters {
    reads: AtomicU64,
    writes: AtomicU64,
    transactions: AtomicU64,
    retries: AtomicU64,
    conflicts: AtomicU64,
    short_draws: AtomicU64,
    queried_items: AtomicU64,
    read_milliunits: AtomicU64,
    write_milliunits: AtomicU64,
}

impl Counters {
    pub fn count(&self, op: Op) {
        let counter = match op {
            Op::Read => &self.reads,
            Op::Write => &self.writes,
            Op::Transaction => &self.transactions,
            Op::Retry => &self.retries,
            Op::Conflict => &self.conflicts,
            Op::ShortDraw => &self.short_draws,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts the items a query page returned.
    pub fn queried(&self, items: usize) {
        self.queried_items.fetch_add(items as u64, Ordering::Relaxed);
    }

    /// Adds what the server reported having consumed.
    pub fn consumed<'a>(&self, reports: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        for report in reports {
            let milli = |units: Option<f64>| (units.unwrap_or(0.0).max(0.0) * 1000.0).round() as u64;
            self.read_milliunits.fetch_add(milli(report.read_capacity_units), Ordering::Relaxed);
            self.write_milliunits.fetch_add(milli(report.write_capacity_units), Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> OpCounts {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        OpCounts {
            reads: load(&self.reads),
            writes: load(&self.writes),
            transactions: load(&self.transactions),
            retries: load(&self.retries),
            conflicts: load(&self.conflicts),
            short_draws: load(&self.short_draws),
            queried_items: load(&self.queried_items),
            read_units: load(&self.read_milliunits) as f64 / 1000.0,
            write_units: load(&self.write_milliunits) as f64 / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_kind_and_sums_reported_units() {
        let counters = Counters::default();
        counters.count(Op::Read);
        counters.count(Op::Transaction);
        counters.count(Op::Transaction);
        counters.count(Op::Conflict);
        counters.consumed(&[ConsumedCapacity::builder().write_capacity_units(2.0).read_capacity_units(0.5).build()]);
        let now = counters.snapshot();
        assert_eq!((now.reads, now.writes, now.transactions, now.retries), (1, 0, 2, 0));
        assert_eq!((now.conflicts, now.short_draws), (1, 0));
        assert_eq!((now.read_units, now.write_units), (0.5, 2.0));
        assert_eq!(now.since(&now).calls(), 0);
        assert_eq!(now.since(&OpCounts::default()).calls(), 3);
    }
}
