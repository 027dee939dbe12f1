//! Each instance's index of waiting-room lines (#14): joins, re-joins and places in line are
//! answered from memory, and the tickets reach the store write-behind, many per transaction.
//!
//! - A product's line is loaded from the store on first use (`WaitingRoom::line`). On SQLite
//!   every later join passes this index, so it stays exact; where other instances join people
//!   to the same line (`lines_shared`), its ranks are read again at most once a second:
//!   only those that arrived since the last read (less the grace late writes have), and the
//!   whole line every [`FULL_REFRESH`] (places drawn in the pre-queue are not in arrival order).
//!   A read the store fails is logged and tried again after a backoff growing from
//!   [`REFRESH`] to [`REFRESH_BACKOFF_MAX`]: meanwhile a shared line's places are counted
//!   with the ranks this index has, as every other request does while a refresh is under way,
//!   and (on every store) a line not loaded yet answers `Busy` (a `503` with `Retry-After`):
//!   the request whose load failed, and the others until the backoff is out without asking.
//! - A join answers with the ticket the customer holds, or records the new one in memory and
//!   queues it; one task writes the queue in batches (`WaitingRoom::join_lines`), not awaited
//!   by the join. If the store already held another ticket for the customer (another
//!   instance got there first), the index takes the store's.
//! - On SQLite the write-behind gathers joins for up to [`GATHER`] before writing them, unless
//!   someone waits for them: in a rush, hundreds share a transaction and the B-tree pages they
//!   touch, which halves the bytes written per join (measured: 2.4 KB → 1.1 KB).
//! - Admission stays the store's: before the watermark moves, the instance waits for its
//!   queued joins to be written ([`Lines::flush`]), so the store's line is complete.
//! - On a shared line a join's write must land within the grace an advance leaves
//!   ([`LATE_WRITE_GRACE`](crate::waiting_room::LATE_WRITE_GRACE)). When the store falls
//!   behind (the oldest join not yet written has waited over [`PUSH_BACK_AFTER`]), new joins
//!   are refused with `Busy` (a `503` with `Retry-After`) until it catches up: a place that
//!   lands late may be let in uncounted, a refused join is simply taken on the retry. The
//!   backlog is bounded, not gone: a join answered just before the refusals began still has
//!   to be written within the other half of the grace.
//! - A ticket is signed and names its product, customer and arrival: one the store never got
//!   (the process died before writing it) is recorded again from its own claims when it is
//!   next shown ([`Lines::join`] from a status check or an order), so no place is lost.
//! - A batch the store keeps refusing ([`ATTEMPTS`] tries, about 5 s) is tried one join at a
//!   time, so one join the store cannot take does not sink the others. A join still not
//!   written keeps its place in this index and is written again, once, when its customer
//!   comes back (joins again or shows the ticket), no sooner than a backoff that grows to
//!   [`REWRITE_MAX`], or as soon as a write of fresh joins takes after such writes all
//!   failed (the store is back: they are due again, written when their customers return). Such
//!   rewrites go in a batch of their own, tried once (then one at a time): nobody loses their
//!   place to a store outage, and a join the store can never take costs a failed write a
//!   minute, never a fresh batch. Writing through (Lambda), a join not written is dropped and
//!   answered `Busy`: its customer got no ticket.

mod held_tickets;

use crate::waiting_room::LATE_WRITE_GRACE;
use crate::{LineEntry, Store, StoreError, clock};
pub use held_tickets::Held;
use held_tickets::HeldTickets;
use rand::Rng;
use stampede_domain::{Millis, last_rank_arrived_by};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OnceCell, watch};

/// How long an instance counts with a shared line's ranks before reading them again.
const REFRESH: Duration = Duration::from_secs(1);
/// Longest a line waits to be read again (loaded, or a shared one refreshed) after its reads
/// failed in a row: a store that is down or throttled is asked once in that while per
/// instance and line, not per request.
const REFRESH_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How often a shared line is read whole; in between, a refresh reads only the ranks that
/// arrived since the last read began, less [`PARTIAL_MARGIN`]. A whole read of a line of
/// 500,000 people on DynamoDB is about 16,500 read units: each second, on each instance, it
/// was more than the line's partitions sustain.
const FULL_REFRESH: Duration = Duration::from_secs(30);
/// How far before the last read began a partial read reaches back: the grace a late write
/// has, and a second for a read that does not see the latest writes yet (DynamoDB's
/// eventually consistent queries). A ticket that reached the store later than that (a
/// write-behind that fell further behind, a rewrite after a backoff, a ticket shown again
/// long after it was handed out, a writer's clock behind the reader's) is counted at the next
/// whole read. Only places shown depend on it: admission reads the store.
const PARTIAL_MARGIN: Millis = LATE_WRITE_GRACE + 1_000;
/// Local joins kept to merge into a refreshed line: far longer than a write takes.
const KEEP_RECENT: Duration = Duration::from_secs(10);
/// Most joins one store call records.
const BATCH: usize = 500;
/// Longest the write-behind waits for more joins to share a write, when nobody waits for it.
const GATHER: Duration = Duration::from_millis(20);
/// Most joins the write-behind keeps room for between batches (a spike's buffer is let go).
const SPARE_MAX: usize = 4 * BATCH;
/// Attempts to write a batch before leaving its tickets to be recorded when next shown.
const ATTEMPTS: u32 = 8;
/// Longest a flush waits for the writer.
const FLUSH_WAIT: Duration = Duration::from_secs(5);
/// On a shared line, how long the oldest unwritten join may wait before new joins are
/// refused: half the grace, so joins already answered still land within it.
const PUSH_BACK_AFTER: Duration = Duration::from_millis(GRACE_MS / 2);
/// [`LATE_WRITE_GRACE`](crate::waiting_room::LATE_WRITE_GRACE), in milliseconds and as a duration.
const GRACE_MS: u64 = crate::waiting_room::LATE_WRITE_GRACE.unsigned_abs();
const GRACE: Duration = Duration::from_millis(GRACE_MS);
/// What a join refused for a backlog is told to wait.
const PUSH_BACK_RETRY: Duration = Duration::from_secs(1);
/// How soon a join the store did not take is written again, doubling with each failure...
const REWRITE_FIRST: Duration = Duration::from_secs(2);
/// ...up to this.
const REWRITE_MAX: Duration = Duration::from_secs(60);

/// How a ticket comes to a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joining {
    /// A customer joining: refused while a shared line's writes are behind.
    New,
    /// A signed ticket shown again (a status check, an order): it has its place already, so it
    /// is recorded whatever the backlog.
    ShownAgain,
}

/// Lines of every product this instance has served.
#[derive(Default)]
pub struct Lines {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    products: Mutex<HashMap<String, Arc<ProductLine>>>,
    queue: Mutex<Queue>,
    wake: Notify,
    /// A flush is waiting: the write-behind stops gathering and writes at once.
    hurry: Notify,
    /// Sequence number of the last join written (or given up on).
    written: watch::Sender<u64>,
    started: AtomicBool,
    /// Write-through instead (Lambda: nothing runs between invocations).
    write_through: bool,
    /// The last writes all failed: the next that takes means the store is back.
    store_failing: AtomicBool,
}

#[derive(Default)]
struct ProductLine {
    loaded: OnceCell<()>,
    state: Mutex<LineState>,
    refreshing: AtomicBool,
}

#[derive(Default)]
struct LineState {
    /// Customer key → the ticket held.
    held: HeldTickets,
    /// Every rank in the line, sorted, without duplicates.
    ranks: Vec<u64>,
    /// When the store was last read: whole, and any read (when it ended, and when it began
    /// by the wall clock).
    read: Option<LineRead>,
    /// Ranks joined here lately, merged into a refresh the store may not have answered with yet.
    recent: VecDeque<(Instant, u64)>,
    /// Ranks of the held tickets the store has not taken yet (queued, or given up on and
    /// waiting to be written again), merged into a refresh too: kept apart so that a refresh
    /// need not walk every held ticket under the line's lock.
    unsettled: BTreeSet<u64>,
    /// Customer key → a held ticket whose write was given up on.
    unwritten: HashMap<String, Unwritten>,
    /// While a refresh reads the store and merges outside the lock: the ranks added (`true`)
    /// and removed here meanwhile, in order, replayed onto the merged ranks.
    changes: Option<Vec<(u64, bool)>>,
    /// Reads of the line (its load, then refreshes) the store failed in a row, and when the
    /// next may be tried.
    failed_reads: Option<(u32, Instant)>,
}

/// The last reads of a shared line.
#[derive(Debug, Clone, Copy)]
struct LineRead {
    whole_at: Instant,
    ended: Instant,
    began: Millis,
}

/// What a refresh reads: the whole line, or the ranks from `from` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadFrom {
    Whole,
    Rank(u64),
}

/// A held ticket the store did not take: written again when its customer comes back.
struct Unwritten {
    entry: LineEntry,
    failures: u32,
    /// Not written again before this.
    retry_at: Instant,
    /// Queued to be written again, or being written.
    rewriting: bool,
}

impl LineState {
    fn insert_rank(&mut self, rank: u64) {
        insert_sorted(&mut self.ranks, rank);
        if let Some(changes) = &mut self.changes {
            changes.push((rank, true));
        }
    }

    fn remove_rank(&mut self, rank: u64) {
        remove_sorted(&mut self.ranks, rank);
        self.recent.retain(|(_, r)| *r != rank);
        if let Some(changes) = &mut self.changes {
            changes.push((rank, false));
        }
    }

    /// Whether the ranks are due to be read again.
    fn stale(&self) -> bool {
        self.read.is_none_or(|read| read.ended.elapsed() >= REFRESH) && self.read_backoff_left(Instant::now()).is_none()
    }

    /// How long from `now` until the line may be read again, after reads the store failed.
    fn read_backoff_left(&self, now: Instant) -> Option<Duration> {
        self.failed_reads.and_then(|(_, retry_at)| retry_at.checked_duration_since(now)).filter(|d| !d.is_zero())
    }

    /// A read (load or refresh) the store failed at `now`: the next is tried after
    /// [`REFRESH`], doubling with each failure in a row up to [`REFRESH_BACKOFF_MAX`].
    /// Answers how long that is.
    fn read_failed(&mut self, now: Instant) -> Duration {
        let failures = self.failed_reads.map_or(1, |(n, _)| n.saturating_add(1));
        let wait = REFRESH.saturating_mul(1 << (failures - 1).min(5)).min(REFRESH_BACKOFF_MAX);
        self.failed_reads = Some((failures, now + wait));
        wait
    }

    /// Starts a refresh, before the store is read, if still [`LineState::stale`]: changes from
    /// now on are kept for [`LineState::finish_refresh`], since the read may not see them.
    fn start_refresh(&mut self) -> bool {
        let due = self.stale();
        if due {
            self.changes = Some(Vec::new());
        }
        due
    }

    /// What the refresh starting at `now` (wall clock) reads: the whole line every
    /// [`FULL_REFRESH`], else the ranks that arrived since the last read began, less
    /// [`PARTIAL_MARGIN`] (a ticket that arrived before that was in the store, and seen, by
    /// the time that read began).
    fn read_from(&self, now: Millis) -> ReadFrom {
        match self.read {
            Some(read) if read.whole_at.elapsed() < FULL_REFRESH => {
                let settled = (read.began.min(now) - PARTIAL_MARGIN).max(1);
                ReadFrom::Rank(last_rank_arrived_by(settled - 1) + 1)
            }
            _ => ReadFrom::Whole,
        }
    }

    /// Adds the ranks from `from` on that a partial read found, sorted (a union: a partial
    /// read cannot replace), merged with the ranks counted from there in one pass; the read
    /// began at `began`.
    fn finish_partial_refresh(&mut self, from: u64, found: Vec<u64>, began: Millis) {
        let tail = self.ranks.split_off(self.ranks.partition_point(|r| *r < from));
        let merged = merge_ranks(tail, found);
        self.ranks.extend(merged);
        self.changes = None;
        self.failed_reads = None;
        self.read = self.read.map(|read| LineRead { ended: Instant::now(), began, ..read });
    }

    /// The ranks joined here that the store's read may have missed (not written yet, or only
    /// just), to merge with it.
    fn missed(&self) -> Vec<u64> {
        self.recent.iter().map(|(_, r)| *r).chain(self.unsettled.iter().copied()).collect()
    }

    /// Takes `merged` (a whole read begun at `began` and the missed ranks) as the line's
    /// ranks, with the changes made since [`LineState::start_refresh`]; the ranks it replaces.
    fn finish_refresh(&mut self, mut merged: Vec<u64>, began: Millis) -> Vec<u64> {
        for (rank, added) in self.changes.take().unwrap_or_default() {
            if added {
                insert_sorted(&mut merged, rank);
            } else {
                remove_sorted(&mut merged, rank);
            }
        }
        self.whole_read_done(began);
        std::mem::replace(&mut self.ranks, merged)
    }

    /// A whole read of the line, begun at `began` (wall clock), is in: the load's or a refresh's.
    fn whole_read_done(&mut self, began: Millis) {
        self.failed_reads = None;
        self.read = Some(LineRead { whole_at: whole_read_now(), ended: Instant::now(), began });
    }

    /// Tickets in the line, and those ranked above `watermark` (not admitted yet).
    fn standing(&self, watermark: u64) -> (u64, u64) {
        let waiting = self.ranks.len() - self.ranks.partition_point(|r| *r <= watermark);
        (self.ranks.len() as u64, waiting as u64)
    }

    /// Ranks strictly between `after` and `before`.
    fn count(&self, after: u64, before: u64) -> u64 {
        let low = self.ranks.partition_point(|r| *r <= after);
        let high = self.ranks.partition_point(|r| *r < before);
        high.saturating_sub(low) as u64
    }

    /// What the store answered for a ticket this index queued.
    fn settle(&mut self, queued: &LineEntry, stored: LineEntry) {
        // Nearly always empty: not worth hashing the key to find out.
        if !self.unwritten.is_empty() {
            self.unwritten.remove(&queued.customer.0);
        }
        self.unsettled.remove(&queued.rank);
        if stored.ticket == queued.ticket {
            if let Some(h) = self.held.get_mut(&queued.customer.0).filter(|h| *h.ticket == *queued.ticket) {
                h.durable = true;
            }
            return;
        }
        // The customer held another ticket already: that one is their place.
        self.remove_rank(queued.rank);
        self.insert_rank(stored.rank);
        let held = Held { rank: stored.rank, ticket: stored.ticket.into(), durable: true };
        self.held.insert(stored.customer.0, held);
    }

    /// A ticket this index queued that the store did not take: it keeps its place here, to be
    /// written again after a backoff, or (`keep_place` false: nobody was handed it) is dropped.
    fn give_up(&mut self, queued: &LineEntry, keep_place: bool, now: Instant) {
        let customer = &queued.customer.0;
        if self.held.get(customer).is_none_or(|h| *h.ticket != *queued.ticket) {
            return;
        }
        if !keep_place {
            self.held.remove(customer);
            self.remove_rank(queued.rank);
            self.unsettled.remove(&queued.rank);
            return;
        }
        let failures = self.unwritten.get(customer).map_or(0, |u| u.failures).saturating_add(1);
        let wait = REWRITE_FIRST.saturating_mul(1 << failures.min(16).saturating_sub(1)).min(REWRITE_MAX);
        let unwritten = Unwritten { entry: queued.clone(), failures, retry_at: now + wait, rewriting: false };
        self.unwritten.insert(customer.clone(), unwritten);
    }

    /// A given-up ticket of `customer` due to be written again, marked as being rewritten.
    fn rewrite_due(&mut self, customer: &str, now: Instant) -> Option<LineEntry> {
        let unwritten = self.unwritten.get_mut(customer).filter(|u| !u.rewriting && now >= u.retry_at)?;
        unwritten.rewriting = true;
        Some(unwritten.entry.clone())
    }

    /// A rewrite of `customer`'s ticket was not tried (the store failed the ones before it):
    /// due again when they next come, its failures and backoff as they were.
    fn untried(&mut self, customer: &str) {
        if let Some(unwritten) = self.unwritten.get_mut(customer) {
            unwritten.rewriting = false;
        }
    }

    /// The store took a write: it is back, so every ticket waiting out a backoff is due.
    fn store_is_back(&mut self, now: Instant) {
        for unwritten in self.unwritten.values_mut() {
            unwritten.retry_at = unwritten.retry_at.min(now);
        }
    }
}

/// Joins waiting to be written.
#[derive(Default)]
struct Queue {
    entries: Vec<LineEntry>,
    /// Joins the store refused before, written in a batch of their own after the fresh ones.
    rewrites: Vec<LineEntry>,
    /// Sequence number of the last join queued.
    last: u64,
    /// The latest arrival handed out (Unix µs).
    last_arrival: i64,
    /// When the oldest join waiting here was queued.
    since: Option<Instant>,
    /// When the oldest join of the batch being written was queued.
    writing_since: Option<Instant>,
}

/// A clock set back by more than this is believed: arrivals handed out after a forward
/// step would otherwise stay ahead of the clock, and tickets issued in the future are refused.
const CLOCK_SET_BACK: i64 = 1_000_000;

impl Queue {
    fn push(&mut self, entry: LineEntry) {
        self.since.get_or_insert_with(Instant::now);
        self.entries.push(entry);
        self.last += 1;
    }

    fn push_rewrite(&mut self, entry: LineEntry) {
        self.since.get_or_insert_with(Instant::now);
        self.rewrites.push(entry);
        self.last += 1;
    }

    /// An arrival at `clock_us`, or just after the latest one handed out if the clock has not
    /// moved past it (the same microsecond, or a clock set back a little).
    fn next_arrival(&mut self, clock_us: i64) -> i64 {
        let after_last = self.last_arrival.saturating_add(1);
        self.last_arrival =
            if clock_us < after_last.saturating_sub(CLOCK_SET_BACK) { clock_us } else { clock_us.max(after_last) };
        self.last_arrival
    }

    /// How long the oldest join not yet written (queued or being written) has waited at `now`.
    fn oldest_wait(&self, now: Instant) -> Option<Duration> {
        [self.since, self.writing_since].into_iter().flatten().map(|at| now.duration_since(at)).max()
    }

    /// Whether that join has waited longer than `limit`.
    fn behind(&self, now: Instant, limit: Duration) -> bool {
        self.oldest_wait(now).is_some_and(|waited| waited > limit)
    }
}

/// When a whole read just made counts as made, for the next one's timing: up to a third of
/// [`FULL_REFRESH`] earlier, at random, so instances that loaded a line together (at a sale's
/// first request) do not all read it whole in the same second thereafter.
fn whole_read_now() -> Instant {
    let now = Instant::now();
    now.checked_sub(FULL_REFRESH.mul_f64(rand::rng().random_range(0.0..1.0 / 3.0))).unwrap_or(now)
}

fn insert_sorted(ranks: &mut Vec<u64>, rank: u64) {
    if let Err(at) = ranks.binary_search(&rank) {
        ranks.insert(at, rank);
    }
}

fn remove_sorted(ranks: &mut Vec<u64>, rank: u64) {
    if let Ok(at) = ranks.binary_search(&rank) {
        ranks.remove(at);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Lines {
    /// An index whose joins wait for their write (for Lambda, frozen between invocations).
    pub fn write_through() -> Lines {
        Lines { inner: Arc::new(Inner { write_through: true, ..Inner::default() }) }
    }

    /// The line of `product_id`, loaded (and, if shared and stale, refreshed).
    async fn product(&self, store: &Arc<dyn Store>, product_id: &str) -> Result<Arc<ProductLine>, StoreError> {
        let line = {
            let mut products = lock(&self.inner.products);
            match products.get(product_id) {
                Some(line) => line.clone(),
                None => products.entry(product_id.to_owned()).or_default().clone(),
            }
        };
        line.loaded
            .get_or_try_init(|| async {
                if let Some(wait) = lock(&line.state).read_backoff_left(Instant::now()) {
                    // The store failed the last load moments ago: not asked again per request.
                    return Err(StoreError::Busy { retry_after: wait });
                }
                let began = clock::now_millis();
                let entries = match store.line(product_id).await {
                    Ok(entries) => entries,
                    // Answered busy like the requests during the backoff, not as a server
                    // fault: the line is there, the store could not be read this moment (a
                    // store already busy, throttled or out of connections, says how long).
                    Err(e) => {
                        let backoff =
                            back_off(&line, product_id, &e, "its requests are answered busy until it is tried again");
                        let retry_after = match e {
                            StoreError::Busy { retry_after } => retry_after.max(backoff),
                            _ => backoff,
                        };
                        return Err(StoreError::Busy { retry_after });
                    }
                };
                let mut state = lock(&line.state);
                for e in entries {
                    state.insert_rank(e.rank);
                    // Tickets the store kept without their text (older DynamoDB items) only count.
                    if !e.ticket.is_empty() {
                        let held = Held { rank: e.rank, ticket: e.ticket.into(), durable: true };
                        state.held.insert_if_absent(e.customer.0, held);
                    }
                }
                state.whole_read_done(began);
                Ok::<(), StoreError>(())
            })
            .await?;
        if store.lines_shared() {
            refresh_if_stale(store.as_ref(), product_id, &line).await;
        }
        Ok(line)
    }

    /// Puts `entry` (a ticket that claims its place: re-recorded when shown) in line unless
    /// its customer holds a ticket, and returns the one held.
    pub async fn join(&self, store: &Arc<dyn Store>, entry: LineEntry) -> Result<Held, StoreError> {
        let (product_id, customer) = (entry.product_id.clone(), entry.customer.0.clone());
        Ok(self.enter(store, &product_id, &customer, 0, |_| entry, Joining::ShownAgain).await?.0)
    }

    /// Puts `customer` in `product_id`'s line unless they hold a ticket: the ticket held, and
    /// whether it is new. A new one is made by `ticket` from its arrival (Unix µs, no earlier
    /// than `not_before_us`: the moment the caller judged the line open), read here
    /// under the queue's lock and later than every arrival queued before it, so tickets are
    /// queued in arrival order and the flush before an advance has written every ticket ranked
    /// under the watermark that advance picks. (An arrival read before queueing could be
    /// queued after that flush, under the new watermark: let in without being counted, so the
    /// room let in more than its rate. Seen at a sale's first advance: 22 of 315 admissions.)
    /// The ticket is written behind, unless this index writes through. On a shared line whose
    /// writes have fallen behind ([`PUSH_BACK_AFTER`]), a [`Joining::New`] one is refused with `Busy`.
    pub async fn enter(
        &self,
        store: &Arc<dyn Store>,
        product_id: &str,
        customer: &str,
        not_before_us: i64,
        ticket: impl FnOnce(i64) -> LineEntry,
        joining: Joining,
    ) -> Result<(Held, bool), StoreError> {
        let line = self.product(store, product_id).await?;
        let (held, new) = {
            let mut state = lock(&line.state);
            if let Some(held) = state.held.get(customer).cloned() {
                if let Some(rewrite) = state.rewrite_due(customer, Instant::now()) {
                    // A ticket whose write was given up: its customer is back, so it is tried again.
                    lock(&self.inner.queue).push_rewrite(rewrite);
                } else if held.durable || !self.inner.write_through {
                    return Ok((held, false));
                }
                // Writing through, a ticket is handed out only once the store holds it.
                (held, false)
            } else {
                self.queue_new(store, &mut state, not_before_us, ticket, joining)?
            }
        };
        self.answer_join(store, &line, customer, held, new).await
    }

    /// Makes a new ticket for a customer with none and queues it (see [`Lines::enter`]).
    fn queue_new(
        &self,
        store: &Arc<dyn Store>,
        state: &mut LineState,
        not_before_us: i64,
        ticket: impl FnOnce(i64) -> LineEntry,
        joining: Joining,
    ) -> Result<(Held, bool), StoreError> {
        let mut queue = lock(&self.inner.queue);
        if joining == Joining::New
            && !self.inner.write_through
            && store.lines_shared()
            && queue.behind(Instant::now(), PUSH_BACK_AFTER)
        {
            return Err(StoreError::Busy { retry_after: PUSH_BACK_RETRY });
        }
        let entry = ticket(queue.next_arrival(clock::now_micros().max(not_before_us)));
        let held = Held { rank: entry.rank, ticket: entry.ticket.as_str().into(), durable: false };
        state.held.insert(entry.customer.0.clone(), held.clone());
        state.insert_rank(entry.rank);
        state.unsettled.insert(entry.rank);
        if store.lines_shared() {
            let now = Instant::now();
            while state.recent.front().is_some_and(|(at, _)| now.duration_since(*at) > KEEP_RECENT) {
                state.recent.pop_front();
            }
            state.recent.push_back((now, entry.rank));
        }
        queue.push(entry);
        Ok((held, true))
    }

    /// Starts writing what `enter` queued for `customer`. Writing behind, answers at once;
    /// writing through, waits for the write and answers with the ticket the store holds
    /// (another instance's may have got there first), or `Busy` if it was not written.
    async fn answer_join(
        &self,
        store: &Arc<dyn Store>,
        line: &ProductLine,
        customer: &str,
        held: Held,
        new: bool,
    ) -> Result<(Held, bool), StoreError> {
        self.start_writing(store);
        if !self.inner.write_through {
            return Ok((held, new));
        }
        self.flush().await?;
        let stored = lock(&line.state).held.get(customer).filter(|h| h.durable).cloned();
        let stored = stored.ok_or(StoreError::Busy { retry_after: PUSH_BACK_RETRY })?;
        let new = new && stored.ticket == held.ticket;
        Ok((stored, new))
    }

    /// The ticket the store holds for `entry`'s customer: joins it if nobody does, and waits
    /// for the write. Orders are judged by this one.
    pub async fn confirm(&self, store: &Arc<dyn Store>, entry: LineEntry) -> Result<Held, StoreError> {
        let (product_id, customer) = (entry.product_id.clone(), entry.customer.0.clone());
        let held = self.join(store, entry).await?;
        if held.durable {
            return Ok(held);
        }
        self.flush().await?;
        let line = self.product(store, &product_id).await?;
        let held = lock(&line.state).held.get(&customer).cloned();
        held.filter(|h| h.durable).ok_or(StoreError::Busy { retry_after: Duration::from_secs(1) })
    }

    /// Tickets of `product_id` ranked strictly between `after` and `before`.
    pub async fn count(
        &self,
        store: &Arc<dyn Store>,
        product_id: &str,
        after: u64,
        before: u64,
    ) -> Result<u64, StoreError> {
        let line = self.product(store, product_id).await?;
        Ok(lock(&line.state).count(after, before))
    }

    /// Tickets in `product_id`'s line and those not admitted under `watermark`, counted
    /// together; the line is loaded (and, if shared and stale, refreshed) first.
    pub async fn standing(
        &self,
        store: &Arc<dyn Store>,
        product_id: &str,
        watermark: u64,
    ) -> Result<(u64, u64), StoreError> {
        let line = self.product(store, product_id).await?;
        Ok(lock(&line.state).standing(watermark))
    }

    /// Whether `customer` holds a ticket for `product_id`'s line, as this index last knew it,
    /// reading nothing (false for a line it has not loaded).
    pub fn holds_loaded(&self, product_id: &str, customer: &str) -> bool {
        let Some(line) = lock(&self.inner.products).get(product_id).cloned() else { return false };
        line.loaded.initialized() && lock(&line.state).held.get(customer).is_some()
    }

    /// The same as this index last knew it, reading nothing: `None` for a line it has not loaded.
    pub fn standing_loaded(&self, product_id: &str, watermark: u64) -> Option<(u64, u64)> {
        let line = lock(&self.inner.products).get(product_id)?.clone();
        line.loaded.initialized().then(|| lock(&line.state).standing(watermark))
    }

    /// Waits until every join queued so far is written (or given up on after retries).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let target = lock(&self.inner.queue).last;
        let mut written = self.inner.written.subscribe();
        if *written.borrow() < target {
            self.inner.hurry.notify_one();
        }
        match tokio::time::timeout(FLUSH_WAIT, written.wait_for(|w| *w >= target)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(StoreError::Busy { retry_after: Duration::from_secs(1) }),
        }
    }

    /// Joins this instance has answered and not yet written (queued, or in the batch being
    /// written), and how long the oldest of them has waited: what pushes new joins back.
    pub fn backlog(&self) -> (u64, Duration) {
        let queue = lock(&self.inner.queue);
        let unwritten = queue.last.saturating_sub(*self.inner.written.borrow());
        (unwritten, queue.oldest_wait(Instant::now()).unwrap_or_default())
    }

    /// Starts the write-behind on first use, and wakes it.
    fn start_writing(&self, store: &Arc<dyn Store>) {
        // Read before the swap: a swap writes the flag's cache line on every join, on every core.
        if !self.inner.started.load(Ordering::Acquire) && !self.inner.started.swap(true, Ordering::AcqRel) {
            tokio::spawn(write_behind(self.inner.clone(), Arc::downgrade(store)));
        }
        self.inner.wake.notify_one();
    }
}

/// Reads a shared line's ranks again once they are a second old: one request does, the
/// others count with the ranks they have meanwhile. A read the store fails leaves the ranks as
/// they were (the request is answered with them, like the others) and is tried again after a
/// backoff: places shown lag a little longer, admission reads the store anyway.
async fn refresh_if_stale(store: &dyn Store, product_id: &str, line: &ProductLine) {
    if !lock(&line.state).stale() {
        return;
    }
    let Some(_refreshing) = Refreshing::start(line) else { return };
    if let Err(e) = refresh(store, product_id, line).await {
        back_off(line, product_id, &e, "places are counted with the ranks this instance has");
    }
}

/// After a read of `line` the store failed: no read before the backoff is out. Logs the
/// failure with what happens `meanwhile`; the backoff.
fn back_off(line: &ProductLine, product_id: &str, error: &StoreError, meanwhile: &str) -> Duration {
    let retry_in = lock(&line.state).read_failed(Instant::now());
    let retry_in_ms = retry_in.as_millis() as u64;
    tracing::warn!(error = %error, product_id, retry_in_ms, "could not read a waiting-room line; {meanwhile}");
    retry_in
}

/// One refresh of a shared line (see [`refresh_if_stale`]), the caller holding its
/// [`Refreshing`].
async fn refresh(store: &dyn Store, product_id: &str, line: &ProductLine) -> Result<(), StoreError> {
    let began = clock::now_millis();
    let from = lock(&line.state).read_from(began);
    let read = store.line_ranks(product_id, if let ReadFrom::Rank(rank) = from { rank } else { 0 }).await?;
    if let ReadFrom::Rank(from) = from {
        lock(&line.state).finish_partial_refresh(from, read, began);
        return Ok(());
    }
    let missed = lock(&line.state).missed();
    // Merged outside the line's lock, which every join and status check of the line takes.
    let ranks = merge_ranks(read, missed);
    let replaced = lock(&line.state).finish_refresh(ranks, began);
    // Half a million ranks are freed after the lock is let go.
    drop(replaced);
    Ok(())
}

/// A line's refresh under way: one at a time, until the new ranks are in, the read failed, or
/// the request that started it went away.
struct Refreshing<'a>(&'a ProductLine);

impl<'a> Refreshing<'a> {
    /// Takes `line`'s refresh, unless another request has it or has just finished it.
    fn start(line: &'a ProductLine) -> Option<Refreshing<'a>> {
        if line.refreshing.swap(true, Ordering::AcqRel) {
            return None;
        }
        let refreshing = Refreshing(line);
        let started = lock(&line.state).start_refresh();
        started.then_some(refreshing)
    }
}

impl Drop for Refreshing<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).changes = None;
        self.0.refreshing.store(false, Ordering::Release);
    }
}

/// The store's ranks (sorted) and `missed`, sorted and without duplicates: the stable sort
/// sees two sorted runs and merges them in one pass.
fn merge_ranks(mut read: Vec<u64>, mut missed: Vec<u64>) -> Vec<u64> {
    missed.sort_unstable();
    read.append(&mut missed);
    read.sort();
    read.dedup();
    read
}

/// The write-behind: takes whatever joins are queued, writes them in batches, and tells the
/// index what the store holds. Stops once the store is gone.
async fn write_behind(inner: Arc<Inner>, store: Weak<dyn Store>) {
    // The last batch's buffer, emptied, becomes the queue's next one: joins are queued into
    // room already there instead of a vector regrown from nothing on every batch.
    let mut spare = Vec::new();
    loop {
        let notified = inner.wake.notified();
        let (queued, rewrites) = {
            let queue = lock(&inner.queue);
            (queue.entries.len(), queue.rewrites.len())
        };
        if queued + rewrites == 0 {
            notified.await;
            continue;
        }
        let Some(store) = store.upgrade() else { return };
        // Only where this instance's index is the whole line: on a shared one, a join another
        // instance has not written yet when the watermark passes it is let in uncounted, so
        // joins there are written as soon as possible.
        if queued < BATCH && rewrites == 0 && !store.lines_shared() {
            tokio::select! {
                () = tokio::time::sleep(GATHER) => {}
                () = inner.hurry.notified() => {}
            }
        }
        let (batch, rewrites, last, since) = {
            let mut queue = lock(&inner.queue);
            queue.writing_since = queue.since;
            let batch = std::mem::replace(&mut queue.entries, std::mem::take(&mut spare));
            (batch, std::mem::take(&mut queue.rewrites), queue.last, queue.since.take())
        };
        // Rewrites apart from the fresh joins: a join the store cannot take sinks no fresh batch.
        for (entries, writes) in [(&batch, Writes::Fresh), (&rewrites, Writes::Rewrites)] {
            for chunk in entries.chunks(BATCH) {
                let outcomes = write_chunk(store.as_ref(), chunk, writes).await;
                record(&inner, chunk, outcomes, writes);
            }
        }
        lock(&inner.queue).writing_since = None;
        inner.written.send_replace(last);
        let waited = since.map(|at| at.elapsed()).unwrap_or_default();
        if store.lines_shared() && waited > GRACE {
            // Another instance's advance may have passed these already (see LATE_WRITE_GRACE).
            tracing::warn!(
                joins = batch.len(),
                waited_ms = waited.as_millis() as u64,
                "waiting-room joins reached the shared line later than the grace; the room may let in more than its rate"
            );
        }
        if batch.capacity() <= SPARE_MAX {
            spare = batch;
            spare.clear();
        }
    }
}

/// Which joins a write carried: only fresh ones failing all together say the store is down
/// (rewrites are of joins it refused before, one it can never take among them).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Writes {
    Fresh,
    Rewrites,
}

/// Tells the index what became of `written`: the ticket the store holds for each, or, for one
/// it did not take, that it keeps its place for a later rewrite (dropped when writing through).
fn record(inner: &Inner, written: &[LineEntry], outcomes: Vec<Written>, writes: Writes) {
    let products = lock(&inner.products);
    let now = Instant::now();
    let (mut failed, mut untried, mut took) = (0, 0, false);
    for (queued, outcome) in written.iter().zip(outcomes) {
        let Some(line) = products.get(&queued.product_id) else { continue };
        let mut state = lock(&line.state);
        match outcome {
            Written::Stored(stored) => {
                took = true;
                state.settle(queued, stored);
            }
            // A rewrite not tried is due again as it was; a fresh join waits out a backoff.
            Written::NotTried if writes == Writes::Rewrites => state.untried(&queued.customer.0),
            Written::NotTried => {
                untried += 1;
                state.give_up(queued, !inner.write_through, now);
            }
            Written::Failed(e) => {
                if failed == 0 {
                    tracing::error!(error = %e, "a waiting-room join was not written; it keeps its place and is written again when its customer comes back");
                }
                failed += 1;
                state.give_up(queued, !inner.write_through, now);
            }
        }
    }
    if failed > 1 {
        tracing::error!(
            joins = failed,
            "waiting-room joins not written; each is written again when its customer comes back"
        );
    }
    // A write that took after writes that all failed: the store is back, and every ticket
    // waiting out a backoff is due. Only fresh joins, at least two failing and none taken, say
    // the store is down: one join (or a rewrite, of a join refused before) may be one it can
    // never take, and some taken and some not says nothing of the store.
    if failed + untried >= 2 && !took && writes == Writes::Fresh {
        inner.store_failing.store(true, Ordering::Relaxed);
    } else if took && inner.store_failing.swap(false, Ordering::Relaxed) {
        for line in products.values() {
            lock(&line.state).store_is_back(now);
        }
    }
}

/// What became of one join of a write.
enum Written {
    Stored(LineEntry),
    Failed(StoreError),
    /// Not tried alone: the joins before it failed in a row, so the store itself is failing.
    NotTried,
}

impl From<Result<LineEntry, StoreError>> for Written {
    fn from(result: Result<LineEntry, StoreError>) -> Written {
        result.map_or_else(Written::Failed, Written::Stored)
    }
}

/// Writes `chunk`: fresh joins with [`write`]'s retries, rewrites once (they are not retried
/// here); a chunk the store refuses is then tried one join at a time.
async fn write_chunk(store: &dyn Store, chunk: &[LineEntry], writes: Writes) -> Vec<Written> {
    let written = match writes {
        Writes::Fresh => write(store, chunk).await,
        Writes::Rewrites => store.join_lines(chunk.to_vec()).await,
    };
    match written {
        Ok(stored) => stored.into_iter().map(Written::Stored).collect(),
        Err(e) if chunk.len() == 1 => vec![Written::Failed(e)],
        Err(_) => one_at_a_time(store, chunk).await,
    }
}

/// Each join of a batch the store refused, written alone: one join the store cannot take
/// (whatever it is about) no longer holds back the rest. Two failures in a row mean the store
/// itself is failing, and the rest are not tried.
async fn one_at_a_time(store: &dyn Store, batch: &[LineEntry]) -> Vec<Written> {
    let mut results = Vec::with_capacity(batch.len());
    let mut failed_in_a_row = 0;
    for entry in batch {
        if failed_in_a_row >= 2 {
            results.push(Written::NotTried);
            continue;
        }
        let result = store.join_line(entry.clone()).await;
        failed_in_a_row = if result.is_ok() { 0 } else { failed_in_a_row + 1 };
        results.push(result.into());
    }
    results
}

/// Writes one batch, retrying a failure with backoff.
async fn write(store: &dyn Store, batch: &[LineEntry]) -> Result<Vec<LineEntry>, StoreError> {
    let mut wait = Duration::from_millis(50);
    let mut attempt = 1;
    loop {
        match store.join_lines(batch.to_vec()).await {
            Ok(stored) => return Ok(stored),
            Err(e) if attempt >= ATTEMPTS => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, attempt, "writing waiting-room joins failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_domain::CustomerKey;
    use stampede_domain::arrived_at;

    fn entry(customer: &str, rank: u64) -> LineEntry {
        LineEntry {
            product_id: "hot".into(),
            customer: CustomerKey(customer.into()),
            rank,
            ticket: format!("t-{customer}-{rank}"),
            joined_at: 1,
        }
    }

    #[test]
    fn arrivals_are_handed_out_in_order_even_when_the_clock_stalls_or_steps_back() {
        let mut queue = Queue::default();
        let arrivals: Vec<i64> = [100, 100, 99, 250, 40].into_iter().map(|t| queue.next_arrival(t)).collect();
        assert_eq!(arrivals, [100, 101, 102, 250, 251]);
        // Set back by more than a second: the clock is believed, so arrivals do not stay ahead.
        assert_eq!(queue.next_arrival(9_000_000), 9_000_000);
        assert_eq!(queue.next_arrival(7_000_000), 7_000_000);
    }

    #[test]
    fn the_queue_is_behind_once_its_oldest_unwritten_join_queued_or_being_written_is_old() {
        let t0 = Instant::now();
        let limit = Duration::from_secs(1);
        let mut queue = Queue::default();
        assert!(!queue.behind(t0 + Duration::from_secs(60), limit), "nothing unwritten");
        queue.since = Some(t0);
        assert!(!queue.behind(t0 + limit, limit));
        assert!(queue.behind(t0 + limit + Duration::from_millis(1), limit));
        // Taken for writing: the batch being written still counts, the fresh queue too.
        queue.writing_since = queue.since.take();
        assert!(queue.behind(t0 + Duration::from_secs(2), limit));
        queue.since = Some(t0 + Duration::from_secs(2));
        queue.writing_since = None;
        assert!(!queue.behind(t0 + Duration::from_secs(2), limit));
        assert_eq!(PUSH_BACK_AFTER, Duration::from_secs(1), "half the grace");
    }

    #[test]
    fn a_ticket_not_written_keeps_its_place_and_is_rewritten_after_a_growing_backoff_or_dropped_if_nobody_holds_it() {
        let t0 = Instant::now();
        let mut state = LineState::default();
        let a = entry("a", 10);
        state.held.insert("a".into(), Held { rank: 10, ticket: a.ticket.as_str().into(), durable: false });
        state.insert_rank(10);
        state.unsettled.insert(10);
        state.give_up(&a, true, t0);
        assert_eq!(state.ranks, [10], "the place is kept");
        assert!(state.unsettled.contains(&10), "and added to every refresh until the store takes it");
        assert!(state.rewrite_due("a", t0 + Duration::from_millis(1_999)).is_none(), "not before 2 s");
        assert_eq!(state.rewrite_due("a", t0 + REWRITE_FIRST), Some(a.clone()));
        assert!(state.rewrite_due("a", t0 + REWRITE_MAX * 2).is_none(), "not twice while being rewritten");
        state.give_up(&a, true, t0);
        assert_eq!(state.unwritten["a"].retry_at, t0 + Duration::from_secs(4), "doubled");
        state.store_is_back(t0 + Duration::from_secs(1));
        assert!(state.rewrite_due("a", t0 + Duration::from_secs(1)).is_some(), "due once the store took a write");
        state.give_up(&a, true, t0);
        for _ in 0..10 {
            state.give_up(&a, true, t0);
        }
        assert_eq!(state.unwritten["a"].retry_at, t0 + REWRITE_MAX, "capped");
        assert!(!state.unwritten["a"].rewriting);
        state.settle(&a, a.clone());
        assert!(state.unwritten.is_empty() && state.held.get("a").is_some_and(|h| h.durable), "written at last");
        assert!(state.unsettled.is_empty(), "a refresh no longer needs to add it");

        // Writing through, the customer was answered `Busy`: no ticket, no place.
        let b = entry("b", 20);
        state.held.insert("b".into(), Held { rank: 20, ticket: b.ticket.as_str().into(), durable: false });
        state.insert_rank(20);
        state.unsettled.insert(20);
        state.give_up(&b, false, t0);
        assert!(state.held.get("b").is_none() && state.unwritten.is_empty());
        assert_eq!(state.ranks, [10]);
        assert!(state.unsettled.is_empty(), "nor added to a refresh");
    }

    #[test]
    fn a_refresh_keeps_what_changed_here_while_it_read_and_merged() {
        let mut state = LineState::default();
        for r in [10, 20] {
            state.insert_rank(r);
        }
        // x joined here; the store has not answered for the ticket yet.
        let x = entry("x", 30);
        state.held.insert("x".into(), Held { rank: 30, ticket: x.ticket.as_str().into(), durable: false });
        state.insert_rank(30);
        state.unsettled.insert(30);
        assert!(state.start_refresh(), "never read");
        // The store's ranks: 5 joined on another instance, x's not written yet.
        let missed = state.missed();
        assert_eq!(missed, [30]);
        // Meanwhile: the store answers that x held rank 3 already, and y joins here.
        state.settle(&x, entry("x", 3));
        state.insert_rank(40);
        let replaced = state.finish_refresh(merge_ranks(vec![5, 10, 20], missed), 0);
        assert_eq!(replaced, [3, 10, 20, 40], "what this index counted meanwhile");
        assert_eq!(state.ranks, [3, 5, 10, 20, 40], "x once, at the rank the store holds; y; the other instance's");
        assert!(state.changes.is_none() && state.read.is_some());
        state.insert_rank(50);
        assert!(state.changes.is_none(), "changes are kept only while a refresh is under way");
        assert!(!state.start_refresh(), "read just now");
        assert_eq!(merge_ranks(vec![1, 4, 9], vec![9, 2, 4, 12]), [1, 2, 4, 9, 12]);
    }

    #[test]
    fn a_read_the_store_failed_waits_out_a_growing_backoff_and_a_read_that_takes_ends_it() {
        let mut state = LineState::default();
        assert!(state.stale(), "never read");
        let now = Instant::now();
        let waits: Vec<u64> = (0..8).map(|_| state.read_failed(now).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(state.read_backoff_left(now), Some(REFRESH_BACKOFF_MAX));
        assert!(!state.stale(), "not read again before the backoff is out, even never read");
        assert!(!state.start_refresh());
        state.failed_reads = state.failed_reads.map(|(n, _)| (n, now));
        assert_eq!(state.read_backoff_left(now), None);
        assert!(state.stale() && state.start_refresh(), "tried again once it is out");
        state.finish_refresh(vec![1, 2], 0);
        assert!(state.failed_reads.is_none(), "a read that took starts the backoff over");
        assert_eq!(state.read_failed(now), REFRESH);
        state.failed_reads = state.failed_reads.map(|(n, _)| (n, now));
        state.finish_partial_refresh(3, vec![3], 0);
        assert!(state.failed_reads.is_none() && state.ranks == [1, 2, 3], "a partial read too");
    }

    #[test]
    fn a_refresh_reads_the_whole_line_every_so_often_and_else_what_arrived_since_the_last_read_less_a_margin() {
        let t0: Millis = 1_900_000_000_000;
        let from = |state: &LineState, now: Millis| match state.read_from(now) {
            ReadFrom::Rank(rank) => rank,
            ReadFrom::Whole => panic!("a whole read"),
        };
        let mut state = LineState::default();
        assert_eq!(state.read_from(t0), ReadFrom::Whole, "never read");
        state.finish_refresh(vec![7], t0);
        // The first rank that arrived at the read's start less the margin, not one before.
        let low = from(&state, t0 + 1_000);
        assert_eq!((arrived_at(low), arrived_at(low - 1)), (Some(t0 - PARTIAL_MARGIN), Some(t0 - PARTIAL_MARGIN - 1)));
        let mine = low + 3;
        state.insert_rank(mine);
        state.finish_partial_refresh(low, vec![low, mine, low + 5], t0 + 1_000);
        assert_eq!(state.ranks, [7, low, mine, low + 5], "added to what was counted, once");
        assert_eq!(arrived_at(from(&state, t0 + 2_000)), Some(t0 + 1_000 - PARTIAL_MARGIN), "from the last read on");
        assert_eq!(arrived_at(from(&state, t0 - 60_000)), Some(t0 - 60_000 - PARTIAL_MARGIN), "clock set back");
        // Each whole read counts as made up to a third of the interval early, at random.
        let before = Instant::now();
        let counted = whole_read_now();
        assert!(counted <= Instant::now() && before.saturating_duration_since(counted) <= FULL_REFRESH / 3);
        let whole_at = Instant::now().checked_sub(FULL_REFRESH).expect("a clock past 30 s");
        state.read = state.read.map(|read| LineRead { whole_at, ..read });
        assert_eq!(state.read_from(t0 + 3_000), ReadFrom::Whole, "drawn places are not in arrival order");
    }

    #[test]
    fn counts_are_strictly_between_and_a_ticket_the_store_held_first_wins() {
        let mut state = LineState::default();
        for r in [30, 10, 20, 20] {
            state.insert_rank(r);
        }
        assert_eq!(state.ranks, [10, 20, 30]);
        assert_eq!((state.count(0, u64::MAX), state.count(10, 30), state.count(20, 21)), (3, 1, 0));
        // The whole line, and those above a watermark: at it counts as admitted.
        assert_eq!((state.standing(0), state.standing(20), state.standing(30)), ((3, 3), (3, 1), (3, 0)));
        state.held.insert("a".into(), Held { rank: 30, ticket: "t-a-30".into(), durable: false });
        state.settle(&entry("a", 30), entry("a", 5));
        assert_eq!(state.ranks, [5, 10, 20]);
        assert_eq!(state.held.get("a"), Some(&Held { rank: 5, ticket: "t-a-5".into(), durable: true }));
        state.held.insert("b".into(), Held { rank: 40, ticket: "t-b-40".into(), durable: false });
        state.insert_rank(40);
        state.settle(&entry("b", 40), entry("b", 40));
        assert!(state.held.get("b").is_some_and(|h| h.durable));
    }
}
