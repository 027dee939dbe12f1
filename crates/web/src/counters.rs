//! The business counters the handlers bump (`/metrics`). Kept apart from `telemetry.rs`,
//! whose `/metrics` page reads the handlers' state, so handlers never import it back.

/// Counts an order outcome: `accepted`, `replayed`, or the problem type of a refusal.
pub fn order_outcome(outcome: &str) {
    metrics::counter!("stampede_orders_total", "outcome" => outcome.to_owned()).increment(1);
}

/// Counts a waiting-room join: `joined` (a new ticket), `rejoined` (the ticket already held)
/// or `pushed_back` (a `503`: a shared line's writes were behind, or the store was busy).
pub fn join_outcome(outcome: &'static str) {
    metrics::counter!("stampede_waiting_room_joins_total", "outcome" => outcome).increment(1);
}
