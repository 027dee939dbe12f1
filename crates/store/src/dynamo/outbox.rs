//! The outbox and the dev mailbox on DynamoDB. Events are found through the sparse
//! `byState` index, spread over buckets; every claim and settlement is a conditional update,
//! so two relays (two Lambda instances) never both hold an event.

use super::DynamoStore;
use super::item::{self, DELIVERED, FAILED, PENDING, n, opt_n, s};
use super::keys::{self, BUCKETS, BY_STATE, Item, MAILBOX};
use super::op_counts::Op;
use crate::clock::now_millis;
use crate::{Claim, MailMessage, NewMail, OutboxCounts, OutboxEvent, OutboxState, Settlement, StoreError};
use aws_sdk_dynamodb::types::{ReturnValue, Select};
use stampede_domain::Millis;
use std::collections::HashSet;

fn state_name(state: OutboxState) -> &'static str {
    match state {
        OutboxState::Pending => PENDING,
        OutboxState::Delivered => DELIVERED,
        OutboxState::Failed => FAILED,
    }
}

/// Up to `limit` items of one `byState` partition, newest first (`None`: all of them).
pub(super) async fn query(store: &DynamoStore, partition: &str, limit: Option<u32>) -> Result<Vec<Item>, StoreError> {
    query_in(store, partition, limit, false).await
}

/// Up to `limit` items of one `byState` partition, oldest first if `oldest_first`.
async fn query_in(
    store: &DynamoStore,
    partition: &str,
    limit: Option<u32>,
    oldest_first: bool,
) -> Result<Vec<Item>, StoreError> {
    let query = store
        .client
        .query()
        .index_name(BY_STATE)
        .key_condition_expression("gsi3pk = :p")
        .expression_attribute_values(":p", s(partition))
        .scan_index_forward(oldest_first)
        .set_limit(limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX)));
    let mut seen = 0usize;
    let pages = store
        .query_pages(query, |page| {
            seen += page.items().len();
            limit.is_some_and(|l| seen >= l as usize)
        })
        .await?;
    Ok(pages.into_iter().flat_map(|p| p.items.unwrap_or_default()).collect())
}

/// The oldest pending events, at most `per_bucket` of each bucket (the buckets read at
/// once), oldest first, and whether that was every pending event. When a bucket held more,
/// only events up to the earliest id at which such a bucket stopped are kept: up to there
/// every bucket was read whole, so each order's oldest pending event there is known.
async fn oldest_pending(store: &DynamoStore, per_bucket: u32) -> Result<(Vec<OutboxEvent>, bool), StoreError> {
    let reads = (0..BUCKETS).map(|bucket| async move {
        query_in(store, &keys::outbox_partition(PENDING, bucket), Some(per_bucket), true).await
    });
    let mut events = Vec::new();
    let mut horizon: Option<String> = None;
    for items in futures_util::future::try_join_all(reads).await? {
        let read: Vec<OutboxEvent> = items.iter().map(item::event_from).collect::<Result<_, _>>()?;
        if read.len() >= per_bucket as usize
            && let Some(last) = read.last()
        {
            horizon = Some(horizon.map_or_else(|| last.id.clone(), |h| h.min(last.id.clone())));
        }
        events.extend(read);
    }
    if let Some(horizon) = &horizon {
        events.retain(|e| e.id <= *horizon);
    }
    events.sort_by(|a, b| a.id.cmp(&b.id));
    Ok((events, horizon.is_none()))
}

/// Most pending events one look reads from a bucket (32,768 in all): past it, events due
/// behind that many older ones not yet due (a receiver down for long) wait for those to go.
const MAX_LOOK: u32 = 1_024;

/// The oldest pending event of each order, among the oldest pending events: read a little
/// at a time, oldest first, until at least `wanted` of them are `due`, all are read, or a
/// look has read [`MAX_LOOK`] per bucket. A relay working through a backlog of thousands of
/// receipts reads a few hundred events per claim, not the backlog.
async fn pending_heads(
    store: &DynamoStore,
    wanted: usize,
    due: impl Fn(&OutboxEvent) -> bool,
) -> Result<Vec<OutboxEvent>, StoreError> {
    let mut per_bucket = store.config.outbox_first_look.clamp(1, MAX_LOOK);
    loop {
        let (events, complete) = oldest_pending(store, per_bucket).await?;
        let found = heads(events);
        if complete || per_bucket >= MAX_LOOK || found.iter().filter(|e| due(e)).count() >= wanted {
            return Ok(found);
        }
        per_bucket = per_bucket.saturating_mul(8).min(MAX_LOOK);
    }
}

/// The oldest pending event of each order, as SQLite's claim has it: one order's events go
/// out in the order they happened. Events of no order (emailed links) each go on their own.
fn heads(pending: Vec<OutboxEvent>) -> Vec<OutboxEvent> {
    let mut seen = HashSet::new();
    pending.into_iter().filter(|e| e.order_id.is_empty() || seen.insert(e.order_id.clone())).collect()
}

/// Reserves due events under a lease, each by a conditional update on the due time it was
/// seen with: a relay that loses the race for an event skips it.
pub async fn claim(store: &DynamoStore, claim: Claim) -> Result<Vec<OutboxEvent>, StoreError> {
    let now = now_millis();
    let lease_end = now.saturating_add(i64::try_from(claim.lease.as_millis()).unwrap_or(i64::MAX));
    let limit = claim.limit as usize;
    // Twice what is wanted, so that events other relays take first can be passed over.
    let is_due = |e: &OutboxEvent| e.next_attempt_at <= now;
    let mut due: Vec<OutboxEvent> =
        pending_heads(store, limit.saturating_mul(2), is_due).await?.into_iter().filter(is_due).collect();
    due.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
    // Relays that look at once see the same list: each starts at a place of its own in it.
    if due.len() > limit {
        let start = rand::random_range(0..due.len());
        due.rotate_left(start);
    }
    let mut claimed = Vec::new();
    for event in due {
        if claimed.len() >= limit {
            break;
        }
        let result = store
            .update_item(keys::event(&event.id))
            .update_expression("SET next_attempt_at = :lease, claim_token = :token ADD attempts :one")
            .condition_expression("#state = :pending AND next_attempt_at = :seen")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":lease", n(lease_end))
            .expression_attribute_values(":token", s(&claim.token))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":pending", s(PENDING))
            .expression_attribute_values(":seen", n(event.next_attempt_at))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => claimed.push(item::event_from(&out.attributes.unwrap_or_default())?),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(store.sdk(e)),
        }
    }
    claimed.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(claimed)
}

/// Records an attempt's outcome if the claim still holds.
pub async fn settle(store: &DynamoStore, id: &str, token: &str, outcome: Settlement) -> Result<bool, StoreError> {
    let now = now_millis();
    let bucket = keys::bucket(id);
    let request = store
        .update_item(keys::event(id))
        .condition_expression("claim_token = :token AND #state = :pending")
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":token", s(token))
        .expression_attribute_values(":pending", s(PENDING));
    let delivered = matches!(outcome, Settlement::Delivered { .. });
    let request = match outcome {
        Settlement::Delivered { done_channels } => request
            .update_expression(
                "SET #state = :to, gsi3pk = :part, delivered_at = :now, done_channels = :done, expires_at = :expires \
                 REMOVE claim_token, last_error",
            )
            // Without a retention the TTL lies past any horizon DynamoDB acts on.
            .expression_attribute_values(":expires", n(store.expires_at().unwrap_or(u64::from(u32::MAX))))
            .expression_attribute_values(":to", s(DELIVERED))
            .expression_attribute_values(":part", s(keys::outbox_partition(DELIVERED, bucket)))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":done", s(serde_json::to_string(&done_channels)?)),
        Settlement::Retry { at, error, done_channels } => request
            .update_expression("SET next_attempt_at = :at, last_error = :error, done_channels = :done REMOVE claim_token")
            .expression_attribute_values(":at", n(at))
            .expression_attribute_values(":error", s(error))
            .expression_attribute_values(":done", s(serde_json::to_string(&done_channels)?)),
        Settlement::Throttled { at, error, done_channels } => request
            .update_expression(
                "SET next_attempt_at = :at, last_error = :error, done_channels = :done REMOVE claim_token ADD attempts :back",
            )
            .expression_attribute_values(":at", n(at))
            .expression_attribute_values(":error", s(error))
            .expression_attribute_values(":done", s(serde_json::to_string(&done_channels)?))
            .expression_attribute_values(":back", n(-1)),
        Settlement::Park { error, done_channels } => request
            .update_expression(
                "SET #state = :to, gsi3pk = :part, failed_at = :now, last_error = :error, done_channels = :done REMOVE claim_token",
            )
            .expression_attribute_values(":to", s(FAILED))
            .expression_attribute_values(":part", s(keys::outbox_partition(FAILED, bucket)))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":error", s(error))
            .expression_attribute_values(":done", s(serde_json::to_string(&done_channels)?)),
    };
    match request.send().await {
        Ok(_) => {
            if delivered {
                count_delivered(store, bucket).await;
            }
            Ok(true)
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
        Err(e) => Err(store.sdk(e)),
    }
}

/// Un-parks an event: due now, attempts from zero, channels that took it still skipped.
pub async fn retry(store: &DynamoStore, id: &str) -> Result<bool, StoreError> {
    let result = store
        .update_item(keys::event(id))
        .update_expression(
            "SET #state = :pending, gsi3pk = :part, attempts = :zero, next_attempt_at = :now REMOVE failed_at, claim_token",
        )
        .condition_expression("#state = :failed")
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":pending", s(PENDING))
        .expression_attribute_values(":failed", s(FAILED))
        .expression_attribute_values(":part", s(keys::outbox_partition(PENDING, keys::bucket(id))))
        .expression_attribute_values(":zero", n(0))
        .expression_attribute_values(":now", n(now_millis()))
        .send()
        .await;
    match result {
        Ok(_) => {
            store.tick_outbox();
            Ok(true)
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
        Err(e) => Err(store.sdk(e)),
    }
}

/// Puts back up to `limit` events parked before `before`, oldest parked first: the oldest of
/// every bucket's failed partition are read at once (events parked since are filtered out
/// by DynamoDB), merged, and each put back by [`retry`], 16 at a time. If some were put back
/// before a call failed, those are counted and the failure logged; the next call goes on.
pub async fn retry_failed(store: &DynamoStore, before: Millis, limit: u32) -> Result<u32, StoreError> {
    use futures_util::StreamExt;
    if limit == 0 {
        return Ok(0);
    }
    let reads = (0..BUCKETS).map(|bucket| parked_before(store, bucket, before, limit));
    let mut parked = Vec::new();
    for items in futures_util::future::join_all(reads).await {
        for item in items? {
            parked.push(item::event_from(&item)?);
        }
    }
    parked.sort_by(|a, b| (a.failed_at, &a.id).cmp(&(b.failed_at, &b.id)));
    parked.truncate(limit as usize);
    let outcomes: Vec<Result<bool, StoreError>> = futures_util::stream::iter(parked)
        .map(|e| async move { retry(store, &e.id).await })
        .buffer_unordered(16)
        .collect()
        .await;
    let put_back = outcomes.iter().filter(|o| matches!(o, Ok(true))).count() as u32;
    match outcomes.into_iter().find_map(Result::err) {
        Some(e) if put_back == 0 => Err(e),
        Some(e) => {
            tracing::warn!(error = %e, put_back, "some parked events could not be put back; the next call tries them again");
            Ok(put_back)
        }
        None => Ok(put_back),
    }
}

/// Up to `limit` events of one bucket's failed partition parked before `before`, oldest first.
async fn parked_before(store: &DynamoStore, bucket: u32, before: Millis, limit: u32) -> Result<Vec<Item>, StoreError> {
    let query = store
        .client
        .query()
        .index_name(BY_STATE)
        .key_condition_expression("gsi3pk = :p")
        .filter_expression("failed_at < :before")
        .expression_attribute_values(":p", s(keys::outbox_partition(FAILED, bucket)))
        .expression_attribute_values(":before", n(before))
        .scan_index_forward(true)
        .limit(i32::try_from(limit).unwrap_or(i32::MAX));
    let mut seen = 0usize;
    let pages = store
        .query_pages(query, |page| {
            seen += page.items().len();
            seen >= limit as usize
        })
        .await?;
    Ok(pages.into_iter().flat_map(|p| p.items.unwrap_or_default()).collect())
}

/// When the earliest claimable event is due: found among the oldest pending events when one
/// of them is due already, else among them all (up to [`MAX_LOOK`] per bucket). With a
/// backlog it is the earliest among the oldest events, which are the most overdue unless
/// they are waiting out retries: the relay's lag metric may then read low.
pub async fn next_due(store: &DynamoStore) -> Result<Option<Millis>, StoreError> {
    let now = now_millis();
    let heads = pending_heads(store, 1, |e| e.next_attempt_at <= now).await?;
    Ok(heads.iter().map(|e| e.next_attempt_at).min())
}

/// Events in a state, newest first: the newest of every bucket, merged.
pub async fn events(store: &DynamoStore, state: OutboxState, limit: u32) -> Result<Vec<OutboxEvent>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut events = Vec::new();
    for bucket in 0..BUCKETS {
        for item in query(store, &keys::outbox_partition(state_name(state), bucket), Some(limit)).await? {
            events.push(item::event_from(&item)?);
        }
    }
    events.sort_by(|a, b| b.id.cmp(&a.id));
    events.truncate(limit as usize);
    Ok(events)
}

/// Adds a delivered event to its bucket's count. A second write rather than part of the
/// settlement's transaction, which would double its cost: if the relay dies between the two,
/// the count (a gauge for dashboards) is one short, and the event itself is still settled.
async fn count_delivered(store: &DynamoStore, bucket: u32) {
    let result = store
        .update_item(keys::outbox_stats(bucket))
        .update_expression("ADD delivered :one")
        .expression_attribute_values(":one", n(1))
        .send()
        .await;
    if let Err(e) = result {
        tracing::warn!(error = %store.sdk(e), "could not count a delivered event");
    }
}

/// Events per state: pending and failed counted on the index (keys only cross the wire; both
/// stay small), delivered from the per-bucket counts, so the cost does not grow with history.
pub async fn counts(store: &DynamoStore) -> Result<OutboxCounts, StoreError> {
    let stats = store.get_many((0..BUCKETS).map(keys::outbox_stats).collect(), false).await?;
    let mut delivered = 0u64;
    for item in &stats {
        delivered += opt_n::<u64>(item, "delivered")?.unwrap_or(0);
    }
    let mut counts = [0u64; 2];
    for (slot, state) in [PENDING, FAILED].into_iter().enumerate() {
        for bucket in 0..BUCKETS {
            let query = store
                .client
                .query()
                .index_name(BY_STATE)
                .key_condition_expression("gsi3pk = :p")
                .expression_attribute_values(":p", s(keys::outbox_partition(state, bucket)))
                .select(Select::Count);
            let pages = store.query_pages(query, |_| false).await?;
            counts[slot] += pages.iter().map(|p| u64::try_from(p.count).unwrap_or(0)).sum::<u64>();
        }
    }
    Ok(OutboxCounts { pending: counts[0], delivered, failed: counts[1] })
}

/// Stores a dev-mailbox message once per event and recipient.
pub async fn store_mail(store: &DynamoStore, mail: NewMail) -> Result<(), StoreError> {
    let id = crate::ids::v7().to_string();
    let mut item = keys::mail(&mail.event_id, &mail.recipient);
    item.insert("gsi3pk".into(), s(MAILBOX));
    item.insert("gsi3sk".into(), s(&id));
    item.insert("id".into(), s(id));
    item.insert("event_id".into(), s(mail.event_id));
    item.insert("recipient".into(), s(mail.recipient));
    item.insert("subject".into(), s(mail.subject));
    item.insert("text_body".into(), s(mail.text_body));
    item.insert("html_body".into(), s(mail.html_body));
    item.insert("created_at".into(), n(now_millis()));
    if let Some(at) = store.expires_at() {
        item.insert(keys::EXPIRES_AT.into(), n(at));
    }
    store.count(Op::Write);
    let result = store
        .client
        .put_item()
        .table_name(store.table())
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
        Err(e) => Err(store.sdk(e)),
    }
}

/// The newest dev-mailbox messages, or the one with `id`.
pub async fn mailbox(store: &DynamoStore, limit: u32, id: Option<&str>) -> Result<Vec<MailMessage>, StoreError> {
    store.count(Op::Read);
    let query = store
        .client
        .query()
        .table_name(store.table())
        .index_name(BY_STATE)
        .expression_attribute_values(":p", s(MAILBOX))
        .scan_index_forward(false)
        .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX));
    let query = match id {
        Some(id) => {
            query.key_condition_expression("gsi3pk = :p AND gsi3sk = :id").expression_attribute_values(":id", s(id))
        }
        None => query.key_condition_expression("gsi3pk = :p"),
    };
    let out = query.send().await.map_err(|e| store.sdk(e))?;
    out.items.unwrap_or_default().iter().take(limit as usize).map(item::mail_from).collect()
}
