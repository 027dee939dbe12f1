//! Waiting rooms (#14): each product's line of signed tickets and its serving watermark.
//! The rules are the domain's (`stampede_domain::waiting_room`); a store keeps the tickets,
//! ordered by rank, and the room's state, changed only by a conditional save. Each instance
//! answers joins and places from its own index of the line ([`Lines`](crate::Lines)).

use crate::StoreError;
use async_trait::async_trait;
use stampede_domain::{CustomerKey, Millis, RoomState, WaitingRoomRules, last_rank_arrived_by};
use std::collections::HashSet;
use std::ops::RangeInclusive;

/// A customer's ticket in a product's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineEntry {
    pub product_id: String,
    pub customer: CustomerKey,
    /// The ticket's rank (see the domain): smaller is earlier.
    pub rank: u64,
    /// The signed ticket handed to the customer.
    pub ticket: String,
    pub joined_at: Millis,
}

/// Where a room stands after [`WaitingRoom::advance_room`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomView {
    pub state: RoomState,
    /// People admitted by this call.
    pub admitted_now: u64,
}

/// Most tickets one advance admits: a stock of millions is let in over several ticks.
pub const MAX_ADMIT_PER_ADVANCE: u64 = 1_000;

/// On a line several instances write to, how long an advance leaves a ticket's arrival behind
/// before letting it in: far longer than a join's write takes. An instance reads a ticket's
/// arrival before its write lands; were the watermark passed in between, the ticket would
/// land under it and be let in without being counted, and the room would let in more than
/// the shop's rate. So nobody is let in before the sale has been open this long either (a
/// pre-queue join's write may land after opening). Assumes the instances' clocks agree to
/// well within this (NTP), and that joins do not queue up on an instance for this long
/// (the write-behind warns when they do).
pub const LATE_WRITE_GRACE: Millis = 2_000;

/// Lines of customers waiting for a product.
#[async_trait]
pub trait WaitingRoom: Send + Sync {
    /// Puts `entry` in line unless its customer already holds a ticket for the product, and
    /// returns the ticket the customer holds: one per customer and product, whoever wins a race.
    async fn join_line(&self, entry: LineEntry) -> Result<LineEntry, StoreError>;
    /// [`join_line`](WaitingRoom::join_line) for many entries at once, answered in their
    /// order: the write-behind of [`Lines`](crate::Lines) records a batch of joins this way.
    async fn join_lines(&self, entries: Vec<LineEntry>) -> Result<Vec<LineEntry>, StoreError> {
        let mut held = Vec::with_capacity(entries.len());
        for entry in entries {
            held.push(self.join_line(entry).await?);
        }
        Ok(held)
    }
    /// Every ticket in a product's line, by rank: what an instance loads its line index from.
    async fn line(&self, product_id: &str) -> Result<Vec<LineEntry>, StoreError>;
    /// The ranks of a product's line at or above `from` (0: every ticket), smallest first:
    /// what an instance refreshes its index with when other instances join people to the
    /// same line (mostly only the ranks that arrived since it last read).
    async fn line_ranks(&self, product_id: &str, from: u64) -> Result<Vec<u64>, StoreError>;
    /// Whether other instances may add to the lines (DynamoDB, PostgreSQL): then an
    /// instance's line index is refreshed from the store every second, and an advance lets a
    /// ticket in only once [`LATE_WRITE_GRACE`] has passed since its arrival. SQLite has one.
    fn lines_shared(&self) -> bool {
        true
    }
    /// The room's state; the default (nobody admitted, version 0) for a room never advanced.
    async fn room(&self, product_id: &str) -> Result<RoomState, StoreError>;
    /// Ranks of the next (at most) `limit` tickets ranked above `after`, smallest first.
    async fn next_in_line(&self, product_id: &str, after: u64, limit: u64) -> Result<Vec<u64>, StoreError>;
    /// Saves `next` if the stored state's version is still `next.version - 1`; `false` when
    /// another advance got there first.
    async fn save_room(&self, product_id: &str, next: &RoomState) -> Result<bool, StoreError>;
    /// Marks the ticket of rank `rank`, held by `customer`, as bought by the order
    /// `order_id`, unless that order is cancelled (checked in the same write, so a mark never
    /// lands on a cancelled order). The room then counts its holder as done deciding
    /// (`RoomState::count_buyers`). Cancelling the order takes its mark off in the cancel's
    /// own write, with the units' return. Marking again for the same order, or a ticket the
    /// store does not hold, changes nothing; another order of the holder's replaces the mark
    /// (SQLite, PostgreSQL) or is added to it (DynamoDB).
    async fn mark_bought(
        &self,
        product_id: &str,
        customer: &CustomerKey,
        rank: u64,
        order_id: &str,
    ) -> Result<(), StoreError>;
    /// The marked tickets within `ranks`, as (rank, order id), in any order, a rank once per
    /// order marking it; a store that can leaves out marks of orders cancelled meanwhile.
    async fn purchase_marks(
        &self,
        product_id: &str,
        ranks: RangeInclusive<u64>,
    ) -> Result<Vec<(u64, String)>, StoreError>;
    /// The product's stock as committed now (`None`: no such product), read so that every
    /// order whose mark an earlier [`purchase_marks`](WaitingRoom::purchase_marks) returned is in it.
    async fn stock_now(&self, product_id: &str) -> Result<Option<u32>, StoreError>;
    /// Of `marks` (read by [`purchase_marks`](WaitingRoom::purchase_marks) within `ranks`),
    /// those still on their tickets, read after a [`stock_now`](WaitingRoom::stock_now) so that
    /// a cancel whose returned units that stock level holds is never seen with its mark still
    /// on. The default reads the marks again: enough where a cancel's writes are seen whole
    /// (SQLite, PostgreSQL); DynamoDB reads the tickets in transactions instead.
    async fn marks_still_held(
        &self,
        product_id: &str,
        ranks: RangeInclusive<u64>,
        marks: Vec<(u64, String)>,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let now: HashSet<(u64, String)> = self.purchase_marks(product_id, ranks).await?.into_iter().collect();
        Ok(marks.into_iter().filter(|mark| now.contains(mark)).collect())
    }

    /// Admits whoever the rule says is due at `now`, and returns the room as it then is. Any
    /// instance may call it at any time: a concurrent advance wins or loses as a whole.
    async fn advance_room(
        &self,
        product_id: &str,
        rules: &WaitingRoomRules,
        opens_at: Option<Millis>,
        now: Millis,
        stock_left: u32,
    ) -> Result<RoomView, StoreError> {
        let mut state = self.room(product_id).await?;
        let mut stock_left = stock_left;
        if state.worth_counting(rules, opens_at, now, stock_left, MAX_ADMIT_PER_ADVANCE)
            && !self.next_in_line(product_id, state.watermark(), 1).await?.is_empty()
        {
            count_buyers(self, product_id, &mut state, &mut stock_left).await;
        }
        let mut view = admit_due(self, product_id, state, (rules, opens_at, now), stock_left).await?;
        // The counts hold only against the stock read with them: neither kept nor shown.
        view.state.forget_buyers();
        Ok(view)
    }
}

/// Lets in whoever `state` says is due, if the save wins.
async fn admit_due<W: WaitingRoom + ?Sized>(
    store: &W,
    product_id: &str,
    state: RoomState,
    (rules, opens_at, now): (&WaitingRoomRules, Option<Millis>, Millis),
    stock_left: u32,
) -> Result<RoomView, StoreError> {
    let due = state.due_admissions(rules, opens_at, now, stock_left).min(MAX_ADMIT_PER_ADVANCE);
    if due == 0 {
        return Ok(RoomView { state, admitted_now: 0 });
    }
    let mut next = store.next_in_line(product_id, state.watermark(), due).await?;
    if store.lines_shared() {
        // Only tickets whose writes have surely landed (see LATE_WRITE_GRACE).
        let settled = now - LATE_WRITE_GRACE;
        if opens_at.is_some_and(|opens| settled < opens) {
            return Ok(RoomView { state, admitted_now: 0 });
        }
        let cap = last_rank_arrived_by(settled);
        next.truncate(next.partition_point(|rank| *rank <= cap));
    }
    let Some(&watermark) = next.last() else { return Ok(RoomView { state, admitted_now: 0 }) };
    let count = next.len() as u64;
    let advanced = state.advanced(rules, now, watermark, count, stock_left);
    if store.save_room(product_id, &advanced).await? {
        Ok(RoomView { state: advanced, admitted_now: count })
    } else {
        Ok(RoomView { state: store.room(product_id).await?, admitted_now: 0 })
    }
}

/// Counts who of the people let in lately has bought (`RoomState::count_buyers`), so their
/// units are not held for them, and lowers `stock_left` to the level read with the marks.
/// A mark counts only if the same order's mark is read both before and after the stock
/// (`marks_still_held`): marked before, its order had drawn its units (a mark is written
/// after its order); still marked after, it had not been cancelled (a cancel takes the mark
/// off with the units' return, in one write). The lower of the two stock readings is kept. Each way the room
/// errs towards letting in fewer. A count that fails leaves the room to judge by the units
/// sold alone.
async fn count_buyers<W: WaitingRoom + ?Sized>(
    store: &W,
    product_id: &str,
    state: &mut RoomState,
    stock_left: &mut u32,
) {
    let Some(ranks) = state.counted_ranks() else { return };
    let counted = async {
        let before = store.purchase_marks(product_id, ranks.clone()).await?;
        let Some(stock) = store.stock_now(product_id).await? else { return Ok(None) };
        let held = store.marks_still_held(product_id, ranks, before).await?;
        Ok::<_, StoreError>(Some((held, stock)))
    };
    match counted.await {
        Ok(Some((held, stock))) => {
            let held: Vec<u64> = held.into_iter().map(|(rank, _)| rank).collect();
            state.count_buyers(&held);
            *stock_left = (*stock_left).min(stock);
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(product_id, error = %e, "could not count a waiting room's buyers; judging by units sold")
        }
    }
}
