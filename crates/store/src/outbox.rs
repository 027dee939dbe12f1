//! The transactional outbox as the relay and the admin see it: events written with the
//! change they announce, claimed under a lease, then settled as delivered, retried or parked.

use crate::StoreError;
use async_trait::async_trait;
use stampede_domain::Millis;
use std::time::Duration;

/// Event type of a newly placed order.
pub const ORDER_PLACED: &str = "order.placed";
/// Event type of a cancelled order (by the customer or by staff).
pub const ORDER_CANCELLED: &str = "order.cancelled";
/// Event type of any other staff status change (preparing, ready, ...).
pub const ORDER_STATUS_CHANGED: &str = "order.status_changed";

/// A new event's id (UUIDv7) and payload, the same on every engine: what receivers see.
pub(crate) fn new_event_payload(
    kind: &str,
    order_id: &str,
    status: stampede_domain::OrderStatus,
    previous: Option<stampede_domain::OrderStatus>,
    now: Millis,
) -> (String, serde_json::Value) {
    let id = crate::ids::v7().to_string();
    let mut payload = serde_json::json!({ "eventId": id, "type": kind, "orderId": order_id, "status": status.as_str(), "occurredAt": now });
    if let Some(previous) = previous {
        payload["previousStatus"] = previous.as_str().into();
    }
    (id, payload)
}

/// One outbox row.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// UUIDv7, stable across retries: receivers de-duplicate on it.
    pub id: String,
    /// `order.placed`, `order.cancelled` or `order.status_changed`.
    pub kind: String,
    pub order_id: String,
    /// The event as JSON (`eventId`, `type`, `orderId`, `status`, `occurredAt`, ...).
    pub payload: serde_json::Value,
    pub created_at: Millis,
    /// Delivery attempts begun so far (a claim counts as an attempt).
    pub attempts: u32,
    /// When the event is next due; while claimed, the end of the claim's lease.
    pub next_attempt_at: Millis,
    pub delivered_at: Option<Millis>,
    pub failed_at: Option<Millis>,
    pub last_error: Option<String>,
    /// Channels that already took the event, so a retry does not send to them again.
    pub done_channels: Vec<String>,
}

/// Where an event is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxState {
    /// Not yet delivered and not parked: due now, later, or claimed by a relay.
    Pending,
    Delivered,
    /// Parked after too many failed attempts or a permanent refusal; needs a person.
    Failed,
}

impl OutboxState {
    /// Parses the query-string name.
    pub fn parse(s: &str) -> Option<OutboxState> {
        match s {
            "pending" => Some(OutboxState::Pending),
            "delivered" => Some(OutboxState::Delivered),
            "failed" => Some(OutboxState::Failed),
            _ => None,
        }
    }
}

/// How many events are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u64,
    pub delivered: u64,
    pub failed: u64,
}

/// A relay's request for due events.
#[derive(Debug, Clone)]
pub struct Claim {
    /// Identifies this claim; only its holder may settle the events.
    pub token: String,
    pub limit: u32,
    /// How long the events stay reserved for this claim. After it, another relay may take
    /// them: that is how a crashed relay's events get delivered.
    pub lease: Duration,
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    /// Every channel took the event; `done_channels` names them.
    Delivered { done_channels: Vec<String> },
    /// Some channel failed; try again at `at`, skipping the channels in `done_channels`.
    Retry { at: Millis, error: String, done_channels: Vec<String> },
    /// As `Retry`, but every channel that failed asked to be sent less (a `429`, SES or SNS
    /// throttling): the attempt the claim counted is given back, so throttling never uses
    /// up the attempts that park an event.
    Throttled { at: Millis, error: String, done_channels: Vec<String> },
    /// Give up: out of attempts or permanently refused. Kept for the admin, never dropped.
    Park { error: String, done_channels: Vec<String> },
}

/// One attempt's outcome, for [`Outbox::settle_events`].
#[derive(Debug, Clone, PartialEq)]
pub struct Settle {
    pub id: String,
    pub claim_token: String,
    pub outcome: Settlement,
}

/// The relay's and the admin's view of the outbox.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Reserves up to `claim.limit` due events for `claim.lease` and counts an attempt on each.
    async fn claim_events(&self, claim: Claim) -> Result<Vec<OutboxEvent>, StoreError>;
    /// Records the outcome of an attempt; `false` if the claim was lost (lease ran out and
    /// another relay took the event), in which case nothing was written.
    async fn settle_event(&self, id: &str, claim_token: &str, outcome: Settlement) -> Result<bool, StoreError>;
    /// Settles several attempts, each as [`Outbox::settle_event`] would, answering in order.
    /// By default one call each, all at once; SQLite writes them in one writer command.
    async fn settle_events(&self, settles: Vec<Settle>) -> Result<Vec<bool>, StoreError> {
        let calls =
            settles.into_iter().map(|s| async move { self.settle_event(&s.id, &s.claim_token, s.outcome).await });
        futures_util::future::join_all(calls).await.into_iter().collect()
    }
    /// When the earliest pending event is due, `None` if nothing is pending. A read: costs the writer nothing.
    async fn next_due(&self) -> Result<Option<Millis>, StoreError>;
    /// Events in a state, newest first.
    async fn outbox_events(&self, state: OutboxState, limit: u32) -> Result<Vec<OutboxEvent>, StoreError>;
    /// Events per state.
    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError>;
    /// Puts a parked event back in the queue with a fresh attempt count; `false` if it is not parked.
    async fn retry_event(&self, id: &str) -> Result<bool, StoreError>;
    /// Puts back, as [`Outbox::retry_event`] does, up to `limit` events parked before
    /// `parked_before`, oldest first; how many were put back. Called again with the same
    /// `parked_before` until it puts back none, it empties the failed list as it stood then,
    /// and ends even while a receiver still refuses (what parks again is parked later).
    async fn retry_failed(&self, parked_before: Millis, limit: u32) -> Result<u32, StoreError>;
    /// Ticks after every commit that wrote an outbox event.
    fn outbox_changes(&self) -> tokio::sync::watch::Receiver<u64>;
}

/// A message for the dev mailbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMail {
    /// The outbox event it announces; one message per event and recipient, so a resent event is stored once.
    pub event_id: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
}

/// A stored dev-mailbox message.
#[derive(Debug, Clone, PartialEq)]
pub struct MailMessage {
    pub id: String,
    pub event_id: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: Millis,
}

/// The local mailbox that shows what email would have been sent, for development and demos.
#[async_trait]
pub trait Mailbox: Send + Sync + 'static {
    /// Stores a message; a second message for the same event and recipient is ignored.
    async fn store_mail(&self, mail: NewMail) -> Result<(), StoreError>;
    /// The newest messages first.
    async fn mailbox(&self, limit: u32) -> Result<Vec<MailMessage>, StoreError>;
    /// One message.
    async fn mail(&self, id: &str) -> Result<Option<MailMessage>, StoreError>;
}
