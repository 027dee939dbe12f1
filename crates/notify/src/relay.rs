//! The outbox relay: claims due events, hands each to every channel, and settles it.
//!
//! Why the relay's writes (claim, mark delivered, reschedule, park) go through the store's
//! single writer queue rather than a second write connection: SQLite admits one writer at a
//! time, so a second connection would not write in parallel anyway. It would take the
//! database lock on its own schedule, and the order writer's `BEGIN IMMEDIATE` would then
//! wait on it (busy_timeout) in the middle of a flash sale. Through the queue, each of the
//! relay's writes is one indexed UPDATE of a few rows inside a batch that orders share: a
//! few microseconds of the writer's time and no extra fsync. The relay never does I/O while
//! the writer waits on it: sending happens between its claim and its settle commands. It
//! also only asks the writer for a claim when a read on the read pool says an event is due.
//!
//! Delivery is at least once. A claim leases events (`next_attempt_at` moves to the end of
//! the lease and a claim token is stamped), so two relays never send the same event at the
//! same time, and a relay that dies mid-send leaves its events to be taken again once the
//! lease runs out. Only the claim's holder can settle an event. Receivers de-duplicate on
//! the event id, which every channel carries.

use crate::{Backoff, Channel, ChannelError, Event};
use futures_util::future::join_all;
use stampede_domain::Millis;
use stampede_store::clock::now_millis;
use stampede_store::{Claim, Order, OutboxEvent, Settle, Settlement, Store, StoreError};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use std::time::Instant;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Most events claimed at once.
    pub batch_size: u32,
    /// Most deliveries in progress at once.
    pub max_in_flight: usize,
    /// How long a claim reserves its events; must exceed the time all channels may take for one event.
    pub lease: Duration,
    /// Attempts before an event is parked as failed.
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// Longest one channel may take for one event before the attempt counts as failed.
    pub send_timeout: Duration,
    /// Longest sleep between checks when nothing wakes the relay earlier.
    pub idle_poll: Duration,
    /// On shutdown, how long the final flush may take.
    pub flush_timeout: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            batch_size: 32,
            max_in_flight: 64,
            lease: Duration::from_secs(120),
            max_attempts: 10,
            backoff: Backoff::default(),
            send_timeout: Duration::from_secs(30),
            idle_poll: Duration::from_secs(5),
            flush_timeout: Duration::from_secs(5),
        }
    }
}

/// Counts since start, for metrics and logs.
#[derive(Debug, Default)]
pub struct RelayStats {
    pub delivered: AtomicU64,
    pub retried: AtomicU64,
    pub parked: AtomicU64,
    /// Settles refused because the lease had run out and another relay took the event.
    pub lease_lost: AtomicU64,
}

/// Delivers outbox events to channels.
#[derive(Clone)]
pub struct Relay {
    store: Arc<dyn Store>,
    channels: Arc<[Arc<dyn Channel>]>,
    config: RelayConfig,
    stats: Arc<RelayStats>,
    /// Deliveries allowed under way at once (see [`Window`]).
    window: Arc<Mutex<Window>>,
}

/// How many deliveries may be under way at once: `max_in_flight` at first, halved when a
/// receiver asks to be sent less, and grown by one each time a window's worth of events has
/// been delivered (additive increase, multiplicative decrease, as TCP does), so a throttled
/// receiver is sent to at about the rate it takes. A cut counts only the refusals of sends
/// begun after the last cut: the replies to earlier ones say nothing about it.
struct Window {
    size: usize,
    /// Deliveries since the window last grew.
    credit: usize,
    last_cut: Option<Instant>,
}

impl Window {
    fn after(&mut self, throttled_sends: impl IntoIterator<Item = Instant>, delivered: usize, max: usize) {
        let last_cut = self.last_cut;
        if throttled_sends.into_iter().any(|started| last_cut.is_none_or(|cut| started > cut)) {
            self.size = (self.size / 2).max(1);
            self.credit = 0;
            self.last_cut = Some(Instant::now());
            return;
        }
        self.credit = self.credit.saturating_add(delivered);
        while self.size < max && self.credit >= self.size {
            self.credit -= self.size;
            self.size += 1;
        }
        if self.size >= max {
            self.credit = 0;
        }
    }
}

/// When a throttled event is tried again. Its attempts are given back, so they cannot pace
/// it; its age does: up to a quarter of it (equal jitter: a minute-old event waits 7.5-15 s,
/// an hour-old one half to all of the backoff's cap), never less than the backoff after its
/// real failures. It is never parked for throttling: at worst tried once per backoff cap.
fn throttled_delay(backoff: &Backoff, event: &OutboxEvent) -> Duration {
    let age = Duration::from_millis(u64::try_from(now_millis().saturating_sub(event.created_at)).unwrap_or(0));
    let quarter = (age / 4).min(backoff.max);
    let jittered = quarter / 2 + (quarter / 2).mul_f64(rand::random::<f64>());
    jittered.max(backoff.delay(event.attempts))
}

/// A running relay task.
pub struct RelayHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    stats: Arc<RelayStats>,
}

impl RelayHandle {
    /// Stops the relay after a final flush attempt (bounded by `flush_timeout`).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "outbox relay task failed");
        }
    }

    /// Kills the relay at once, mid-send if need be: what a crash does. Claimed events stay
    /// leased until the lease runs out, then any relay delivers them.
    pub fn abort(self) {
        self.task.abort();
    }

    /// Counters of this relay.
    pub fn stats(&self) -> &RelayStats {
        &self.stats
    }
}

/// Why an attempt did not deliver to every channel.
struct Failure {
    errors: Vec<String>,
    permanent: bool,
    /// Every channel that failed only asked to be sent less: no attempt is held against it.
    throttled: bool,
}

/// A finished attempt, waiting to be settled under its claim.
struct Attempt {
    token: String,
    event: OutboxEvent,
    outcome: Settlement,
    /// When its sends began.
    started: Instant,
}

/// The span an event's warnings and errors are logged in. Made only when there is something
/// to log: a delivered event logs nothing at the usual levels, and a span per event cost
/// the relay a few microseconds each. Entered only around synchronous logging, never across
/// an `.await`: a guard held across one leaves the span on the stack of a thread the task
/// has moved off, and the next span cloned on that thread panics in the registry ("tried to
/// clone a span that already closed"), seen in the soak. clippy.toml makes holding such a
/// guard across an `.await` a lint error.
fn span(event: &OutboxEvent) -> tracing::Span {
    tracing::info_span!("outbox", event_id = %event.id, kind = %event.kind, attempt = event.attempts)
}

impl Relay {
    /// A relay over `store` delivering to `channels`.
    pub fn new(store: Arc<dyn Store>, channels: Vec<Arc<dyn Channel>>, config: RelayConfig) -> Relay {
        let window = Window { size: config.max_in_flight.max(1), credit: 0, last_cut: None };
        Relay { store, channels: channels.into(), config, stats: Arc::default(), window: Arc::new(Mutex::new(window)) }
    }

    /// Counters of this relay.
    pub fn stats(&self) -> Arc<RelayStats> {
        self.stats.clone()
    }

    /// Runs the relay on the current runtime until `RelayHandle::shutdown`.
    pub fn spawn(self) -> RelayHandle {
        let (stop, stopped) = watch::channel(false);
        let stats = self.stats.clone();
        let task = tokio::spawn(self.run(stopped));
        RelayHandle { stop, task, stats }
    }

    /// Runs the relay on a thread of its own with its own single-threaded runtime, at CPU
    /// priority `nice` (Linux's scale: 0 is the request threads' priority, 19 the lowest).
    ///
    /// Why: during a flash sale the receipts of the orders just accepted pile up faster
    /// than they go out, and delivering them (an order read, the channels, a settle) costs
    /// about what an order costs. On the request threads' runtime that work takes an equal
    /// share of the cores and the requests of the moment (refusals, the next orders) slow
    /// down by as much. At a lower priority the relay gets whatever the requests leave: all
    /// of an idle machine, and a small share of a busy one, so it still makes progress and
    /// the backlog drains a little later instead. Its reads of the store (SQLite's read
    /// pool) run on its runtime's blocking threads, which inherit the priority.
    ///
    /// Only for stores whose connections belong to no runtime (SQLite): a pooled network
    /// connection first opened here would be driven by this thread for every caller.
    pub fn spawn_background(self, nice: i32) -> std::io::Result<RelayHandle> {
        let (stop, stopped) = watch::channel(false);
        let stats = self.stats.clone();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        // The thread runs the runtime until the relay ends: when it stops, or is aborted.
        let (ended, on_end) = tokio::sync::oneshot::channel::<()>();
        let task = runtime.spawn(async move {
            let _ended = ended;
            self.run(stopped).await;
        });
        std::thread::Builder::new().name("stampede-relay".into()).spawn(move || {
            lower_priority(nice);
            runtime.block_on(async {
                let _ = on_end.await;
            });
        })?;
        Ok(RelayHandle { stop, task, stats })
    }

    /// Delivers events until `stop` turns true (or its sender is gone), then flushes once more.
    ///
    /// Each event is delivered in its own task, at most `max_in_flight` at once, so one slow
    /// receiver holds up only the events waiting on it, not the rest of the outbox. A claim's
    /// orders are read in one call, and the attempts that finished are settled in one call
    /// before the next claim: per event, a store round trip each cost the relay about as
    /// much CPU as an order costs (140 µs per event, BENCHMARKS.md).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut changes = self.store.outbox_changes();
        // Owned here: aborting the relay aborts its deliveries too, like a crash would.
        let mut in_flight = JoinSet::new();
        tracing::info!(channels = ?self.channels.iter().map(|c| c.name()).collect::<Vec<_>>(), "outbox relay started");
        // Finished attempts, settled together before the next claim (which a settle may
        // unblock: the next event of the same order).
        let mut finished = Vec::new();
        while !*stop.borrow() {
            while let Some(attempt) = in_flight.try_join_next() {
                finished.extend(attempt.ok());
            }
            self.settle(std::mem::take(&mut finished)).await;
            // Mark the current version seen before looking, so an event committed while
            // we look still wakes the wait below.
            changes.borrow_and_update();
            let room = self.window_size().saturating_sub(in_flight.len());
            // A read decides whether to bother the writer: idle polling costs it nothing.
            let mut wait = if room > 0 { self.until_next_due().await } else { Duration::MAX };
            if wait.is_zero() {
                match self.claim(room).await {
                    Ok((token, events)) if !events.is_empty() => {
                        for (event, order) in self.with_orders(events).await {
                            let (relay, token) = (self.clone(), token.clone());
                            in_flight.spawn(async move {
                                let started = Instant::now();
                                let outcome = relay.attempt(&event, order).await;
                                Attempt { token, event, outcome, started }
                            });
                        }
                        continue;
                    }
                    // Another relay took them first; look again shortly rather than spin.
                    Ok(_) => wait = self.config.idle_poll.min(Duration::from_millis(100)),
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox relay could not claim events");
                        wait = self.config.idle_poll;
                    }
                }
            }
            // Wait for the next due event, a new event, or a finished delivery (which frees
            // room and may unblock the next event of its order). When full, only the latter.
            tokio::select! {
                r = stop.changed() => if r.is_err() { break },
                r = changes.changed(), if room > 0 => if r.is_err() { tokio::time::sleep(wait).await },
                () = tokio::time::sleep(wait), if room > 0 => {}
                Some(attempt) = in_flight.join_next(), if !in_flight.is_empty() => finished.extend(attempt.ok()),
            }
        }
        let flush = async {
            while let Some(attempt) = in_flight.join_next().await {
                finished.extend(attempt.ok());
            }
            self.settle(finished).await;
            while let Ok(n) = self.run_once().await {
                if n == 0 {
                    break;
                }
            }
        };
        if tokio::time::timeout(self.config.flush_timeout, flush).await.is_err() {
            tracing::warn!("outbox relay stopped before its final flush finished; leased events go out after restart");
        }
        tracing::info!("outbox relay stopped");
    }

    /// Claims the events due now and delivers them, waiting for every delivery; returns how
    /// many it claimed. `run` is the long-running form; this suits flushes and tools.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let (token, events) = self.claim(self.window_size()).await?;
        let count = events.len();
        let attempts = self.with_orders(events).await.into_iter().map(|(event, order)| {
            let token = token.clone();
            async move {
                let started = Instant::now();
                let outcome = self.attempt(&event, order).await;
                Attempt { token, event, outcome, started }
            }
        });
        let attempts = join_all(attempts).await;
        self.settle(attempts).await;
        Ok(count)
    }

    /// Leases up to `room` due events (at most one batch) under a fresh claim token.
    async fn claim(&self, room: usize) -> Result<(String, Vec<OutboxEvent>), StoreError> {
        let token = stampede_store::ids::v7().to_string();
        let limit = u32::try_from(room).unwrap_or(u32::MAX).min(self.config.batch_size).max(1);
        let events = self.store.claim_events(Claim { token: token.clone(), limit, lease: self.config.lease }).await?;
        Ok((token, events))
    }

    async fn until_next_due(&self) -> Duration {
        match self.store.next_due().await {
            Ok(Some(at)) => Duration::from_millis(u64::try_from(at - now_millis()).unwrap_or(0)),
            Ok(None) => self.config.idle_poll,
            Err(e) => {
                tracing::warn!(error = %e, "outbox relay could not read the next due time");
                self.config.idle_poll
            }
        }
        .min(self.config.idle_poll)
    }

    /// Pairs claimed events with their orders, read in one call for the batch rather than
    /// one read each (link emails are about no order). A failed read fails every attempt.
    async fn with_orders(&self, events: Vec<OutboxEvent>) -> Vec<(OutboxEvent, Result<Option<Order>, String>)> {
        let ids: Vec<String> = events.iter().filter(|e| !e.order_id.is_empty()).map(|e| e.order_id.clone()).collect();
        let mut orders = match self.store.orders(&ids).await {
            Ok(found) => found.into_iter().map(Ok).collect::<Vec<_>>().into_iter(),
            Err(e) => vec![Err(e.to_string()); ids.len()].into_iter(),
        };
        events
            .into_iter()
            .map(|event| {
                let order = if event.order_id.is_empty() { Ok(None) } else { orders.next().unwrap_or(Ok(None)) };
                (event, order)
            })
            .collect()
    }

    /// One attempt at one event: what to record of it.
    async fn attempt(&self, stored: &OutboxEvent, order: Result<Option<Order>, String>) -> Settlement {
        let mut done = stored.done_channels.clone();
        let result = match order {
            Ok(order) => self.send_to_channels(&Event::new(stored, order), &mut done).await,
            Err(e) => Err(Failure { errors: vec![format!("loading order: {e}")], permanent: false, throttled: false }),
        };
        match result {
            Ok(()) => Settlement::Delivered { done_channels: done },
            // Throttled means every failure asked to be sent less, so nothing was refused.
            Err(f) if f.throttled => {
                let at =
                    now_millis().saturating_add(throttled_delay(&self.config.backoff, stored).as_millis() as Millis);
                Settlement::Throttled { at, error: f.errors.join("; "), done_channels: done }
            }
            Err(f) if f.permanent || stored.attempts >= self.config.max_attempts => {
                Settlement::Park { error: f.errors.join("; "), done_channels: done }
            }
            Err(f) => {
                let delay = self.config.backoff.delay(stored.attempts);
                let at = now_millis().saturating_add(delay.as_millis() as Millis);
                Settlement::Retry { at, error: f.errors.join("; "), done_channels: done }
            }
        }
    }

    fn window_size(&self) -> usize {
        self.window.lock().unwrap_or_else(PoisonError::into_inner).size
    }

    /// Moves the delivery window by what finished attempts met (see [`Window`]).
    fn adjust_window(&self, attempts: &[Attempt]) {
        let throttled =
            attempts.iter().filter(|a| matches!(a.outcome, Settlement::Throttled { .. })).map(|a| a.started);
        let delivered = attempts.iter().filter(|a| matches!(a.outcome, Settlement::Delivered { .. })).count();
        let max = self.config.max_in_flight.max(1);
        self.window.lock().unwrap_or_else(PoisonError::into_inner).after(throttled, delivered, max);
    }

    /// Records finished attempts, in one store call for all of them.
    async fn settle(&self, attempts: Vec<Attempt>) {
        if attempts.is_empty() {
            return;
        }
        self.adjust_window(&attempts);
        let mut settles = Vec::with_capacity(attempts.len());
        let mut settled = Vec::with_capacity(attempts.len());
        for Attempt { token, event, outcome, .. } in attempts {
            let (counter, label) = match &outcome {
                Settlement::Delivered { .. } => (&self.stats.delivered, "delivered"),
                Settlement::Throttled { at, error, .. } => {
                    span(&event).in_scope(|| {
                        tracing::debug!(%error, retry_at = at, "receiver asked to be sent less; will retry");
                    });
                    (&self.stats.retried, "throttled")
                }
                Settlement::Retry { at, error, .. } => {
                    span(&event).in_scope(|| {
                        tracing::warn!(%error, retry_at = at, "event delivery failed; will retry");
                    });
                    (&self.stats.retried, "rescheduled")
                }
                Settlement::Park { error, .. } => {
                    span(&event).in_scope(|| {
                        tracing::error!(%error, "event parked as failed; see /api/admin/outbox?state=failed");
                    });
                    (&self.stats.parked, "parked")
                }
            };
            settles.push(Settle { id: event.id.clone(), claim_token: token, outcome });
            settled.push((event, counter, label));
        }
        let results = match self.store.settle_events(settles).await {
            Ok(results) => results.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e.to_string()); settled.len()],
        };
        for ((event, counter, label), result) in settled.iter().zip(results) {
            match result {
                Ok(true) => {
                    counter.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("stampede_outbox_attempts_total", "outcome" => *label).increment(1);
                }
                Ok(false) => {
                    self.stats.lease_lost.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("stampede_outbox_attempts_total", "outcome" => "lease_lost").increment(1);
                    span(event).in_scope(|| {
                        tracing::warn!(
                            settled = label,
                            "lease ran out before the event was settled; another relay owns it now"
                        );
                    });
                }
                // The lease runs out and the event is tried again: at least once, never lost.
                Err(error) => span(event).in_scope(|| {
                    tracing::error!(%error, settled = label, "could not record the delivery outcome");
                }),
            }
        }
    }

    /// Sends to every channel that has not yet taken the event, recording those that do.
    async fn send_to_channels(&self, event: &Event, done: &mut Vec<String>) -> Result<(), Failure> {
        let mut failure = Failure { errors: Vec::new(), permanent: false, throttled: true };
        for channel in self.channels.iter() {
            let name = channel.name();
            if done.iter().any(|d| d == name) || !channel.takes(&event.kind) {
                continue;
            }
            match tokio::time::timeout(self.config.send_timeout, channel.send(event)).await {
                Ok(Ok(())) => done.push(name.to_owned()),
                Ok(Err(e)) => {
                    failure.permanent |= matches!(e, ChannelError::Rejected(_));
                    failure.throttled &= matches!(e, ChannelError::Throttled(_));
                    failure.errors.push(format!("{name}: {e}"));
                }
                Err(_) => {
                    failure.throttled = false;
                    failure.errors.push(format!("{name}: no answer within {:?}", self.config.send_timeout));
                }
            }
        }
        if failure.errors.is_empty() { Ok(()) } else { Err(failure) }
    }
}

/// Lowers the calling thread's CPU priority to `nice`; threads it starts inherit it.
#[cfg(target_os = "linux")]
fn lower_priority(nice: i32) {
    // On Linux the nice value belongs to the thread, and PRIO_PROCESS with a thread id sets it.
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), nice) {
        tracing::warn!(error = %e, nice, "could not lower the outbox relay's priority; it runs at the requests' priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(nice: i32) {
    tracing::debug!(nice, "thread priorities are only set on Linux");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aged(minutes: i64, attempts: u32) -> OutboxEvent {
        OutboxEvent {
            id: "e".into(),
            kind: "order.placed".into(),
            order_id: "o".into(),
            payload: serde_json::Value::Null,
            created_at: now_millis() - minutes * 60_000,
            attempts,
            next_attempt_at: 0,
            delivered_at: None,
            failed_at: None,
            last_error: None,
            done_channels: Vec::new(),
        }
    }

    #[test]
    fn a_throttled_event_waits_longer_as_it_ages_and_at_least_its_real_failures_backoff() {
        let backoff = Backoff { base: Duration::from_secs(2), max: Duration::from_secs(900) };
        let fresh = throttled_delay(&backoff, &aged(0, 1));
        assert!(fresh >= Duration::from_secs(1) && fresh <= Duration::from_secs(2), "{fresh:?}");
        let minute = throttled_delay(&backoff, &aged(1, 1));
        assert!(minute >= Duration::from_millis(7_490) && minute <= Duration::from_millis(15_100), "{minute:?}");
        let old = throttled_delay(&backoff, &aged(600, 1));
        assert!(old >= backoff.max / 2 && old <= backoff.max, "capped: {old:?}");
        // Five real failures already: their backoff (16-32 s) stands.
        assert!(throttled_delay(&backoff, &aged(0, 5)) >= Duration::from_secs(16));
    }

    #[test]
    fn the_window_halves_once_per_cut_and_grows_by_one_per_window_delivered() {
        let mut w = Window { size: 64, credit: 0, last_cut: None };
        let before = Instant::now();
        w.after([before], 0, 64);
        assert_eq!(w.size, 32);
        // Refusals of sends begun before that cut do not cut again.
        w.after([before, before], 0, 64);
        assert_eq!(w.size, 32);
        w.after(std::iter::once(Instant::now()), 0, 64);
        assert_eq!(w.size, 16, "a send begun after the cut, refused: cut again");
        w.after(std::iter::empty(), 15, 64);
        assert_eq!(w.size, 16, "not a window's worth yet");
        w.after(std::iter::empty(), 1, 64);
        assert_eq!(w.size, 17, "one more per window delivered, not one per delivery");
        w.after(std::iter::empty(), 10_000, 64);
        assert_eq!((w.size, w.credit), (64, 0), "up to max_in_flight");
    }
}
