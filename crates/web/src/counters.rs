//! The business counters the handlers bump (`/metrics`). Kept apart from `telemetry.rs`,
//! whose `/metrics` page reads the handlers' state, so handlers never import it back.

use metrics::Counter;
use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

/// Counts an order outcome: `accepted`, `replayed`, or the problem type of a refusal.
pub fn order_outcome(outcome: &str) {
    static BY_OUTCOME: LazyLock<RwLock<HashMap<String, Counter>>> = LazyLock::new(Default::default);
    cached(&BY_OUTCOME, outcome, || metrics::counter!("stampede_orders_total", "outcome" => outcome.to_owned()))
        .increment(1);
}

/// Counts a waiting-room join: `joined` (a new ticket), `rejoined` (the ticket already held)
/// or `pushed_back` (a `503`: a shared line's writes were behind, or the store was busy).
pub fn join_outcome(outcome: &'static str) {
    static BY_OUTCOME: LazyLock<RwLock<HashMap<String, Counter>>> = LazyLock::new(Default::default);
    cached(&BY_OUTCOME, outcome, || metrics::counter!("stampede_waiting_room_joins_total", "outcome" => outcome))
        .increment(1);
}

/// The counter registered for `label`, registered once: `counter!` builds and hashes its key
/// and looks it up in the recorder's registry on every call, a cost of every order and join.
/// The outcomes are a handful of fixed words, so the map stays small. Handlers run only behind
/// `router()`, which installs the recorder first: a handle taken before that would count nowhere.
fn cached(by_label: &RwLock<HashMap<String, Counter>>, label: &str, register: impl FnOnce() -> Counter) -> Counter {
    if let Some(counter) = by_label.read().unwrap_or_else(|e| e.into_inner()).get(label) {
        return counter.clone();
    }
    let mut map = by_label.write().unwrap_or_else(|e| e.into_inner());
    map.entry(label.to_owned()).or_insert_with(register).clone()
}
