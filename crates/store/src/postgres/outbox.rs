//! Outbox and dev-mailbox rows. Claims take rows with `FOR UPDATE SKIP LOCKED`, so relays on
//! several instances never wait on each other nor take the same event; a claim is a lease
//! (token, and `next_attempt_at` pushed to the lease's end), so the events of an instance
//! killed mid-delivery are due again, for any relay, once the lease runs out.

use super::cached;
use super::error::pg_error;
use crate::{Claim, MailMessage, NewMail, OutboxCounts, OutboxEvent, OutboxState, Settlement, StoreError};
use deadpool_postgres::GenericClient;
use stampede_domain::Millis;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

const EVENT_COLUMNS: &str = "id, kind, order_id, payload, created_at, attempts, next_attempt_at, delivered_at, \
                             failed_at, last_error, done_channels";

fn event(r: &Row) -> Result<OutboxEvent, StoreError> {
    Ok(OutboxEvent {
        id: r.get(0),
        kind: r.get(1),
        order_id: r.get(2),
        payload: serde_json::from_str(r.get(3))?,
        created_at: r.get(4),
        attempts: u32::try_from(r.get::<_, i32>(5)).unwrap_or(0),
        next_attempt_at: r.get(6),
        delivered_at: r.get(7),
        failed_at: r.get(8),
        last_error: r.get(9),
        done_channels: serde_json::from_str(r.get(10))?,
    })
}

/// Every event not yet delivered (pending or parked), oldest first, for an export.
pub async fn undelivered(c: &impl GenericClient) -> Result<Vec<OutboxEvent>, StoreError> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM outbox WHERE delivered_at IS NULL ORDER BY id COLLATE \"C\"");
    c.query(&sql, &[]).await.map_err(pg_error)?.iter().map(event).collect()
}

/// Only an order's oldest open event may go out, so one order's events arrive in the order
/// they happened (a receipt before "being prepared"); a parked event stops blocking. Events
/// of no order (emailed links, `order_id` empty) go out each on its own.
const FIRST_OPEN: &str = "e.delivered_at IS NULL AND e.failed_at IS NULL
    AND (e.order_id = '' OR NOT EXISTS (SELECT 1 FROM outbox earlier
                    WHERE earlier.order_id = e.order_id AND earlier.id < e.id
                      AND earlier.delivered_at IS NULL AND earlier.failed_at IS NULL))";

/// Reserves due events for the claim's lease and counts an attempt on each. Rows another
/// relay is claiming right now are skipped, not waited for; one it claimed a moment ago is
/// re-checked by PostgreSQL after its lock and found no longer due.
pub async fn claim(c: &impl GenericClient, claim: &Claim, now: Millis) -> Result<Vec<OutboxEvent>, StoreError> {
    let lease_end = now.saturating_add(i64::try_from(claim.lease.as_millis()).unwrap_or(i64::MAX));
    let sql = format!(
        "UPDATE outbox SET next_attempt_at = $1, claim_token = $2, attempts = attempts + 1
         WHERE id IN (SELECT e.id FROM outbox e
                      WHERE e.next_attempt_at <= $3 AND {FIRST_OPEN}
                      ORDER BY e.next_attempt_at, e.id LIMIT $4
                      FOR UPDATE SKIP LOCKED)
         RETURNING {EVENT_COLUMNS}"
    );
    let rows =
        cached::query(c, &sql, &[&lease_end, &claim.token, &now, &i64::from(claim.limit)]).await.map_err(pg_error)?;
    let mut events = rows.iter().map(event).collect::<Result<Vec<_>, _>>()?;
    // RETURNING gives no order guarantee; deliver oldest first.
    events.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(events)
}

/// Records an attempt's outcome if the claim still holds.
pub async fn settle(
    c: &impl GenericClient,
    id: &str,
    token: &str,
    outcome: &Settlement,
    now: Millis,
) -> Result<bool, StoreError> {
    const HELD: &str = "WHERE id = $1 AND claim_token = $2 AND delivered_at IS NULL AND failed_at IS NULL";
    let (sql, at, error, done) = match outcome {
        Settlement::Delivered { done_channels } => (
            "UPDATE outbox SET delivered_at = $3, last_error = $4, done_channels = $5, claim_token = NULL",
            now,
            None,
            done_channels,
        ),
        Settlement::Retry { at, error, done_channels } => (
            "UPDATE outbox SET next_attempt_at = $3, last_error = $4, done_channels = $5, claim_token = NULL",
            *at,
            Some(error.as_str()),
            done_channels,
        ),
        Settlement::Throttled { at, error, done_channels } => (
            "UPDATE outbox SET next_attempt_at = $3, last_error = $4, done_channels = $5, claim_token = NULL,
                    attempts = GREATEST(attempts - 1, 0)",
            *at,
            Some(error.as_str()),
            done_channels,
        ),
        Settlement::Park { error, done_channels } => (
            "UPDATE outbox SET failed_at = $3, last_error = $4, done_channels = $5, claim_token = NULL",
            now,
            Some(error.as_str()),
            done_channels,
        ),
    };
    let args: [&(dyn ToSql + Sync); 5] = [&id, &token, &at, &error, &serde_json::to_string(done)?];
    let changed = match outcome {
        // Its order's later open events are made due no sooner: they cannot go out before it
        // anyway, and left due they would sit at the front of the pending index, walked past
        // by every claim and `next_due` for as long as a channel is down. Locked in id order,
        // skipping any another settle holds, so two settles of one order cannot deadlock.
        Settlement::Retry { .. } | Settlement::Throttled { .. } => {
            let sql = format!(
                "WITH head AS ({sql} {HELD} RETURNING order_id),
                 later AS (UPDATE outbox SET next_attempt_at = $3
                           WHERE id IN (SELECT l.id FROM outbox l JOIN head ON l.order_id = head.order_id
                                        WHERE head.order_id <> '' AND l.id > $1 AND l.claim_token IS NULL
                                          AND l.delivered_at IS NULL AND l.failed_at IS NULL AND l.next_attempt_at < $3
                                        ORDER BY l.id FOR UPDATE OF l SKIP LOCKED))
                 SELECT count(*) FROM head"
            );
            let row = cached::query_one(c, &sql, &args).await.map_err(pg_error)?;
            u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)
        }
        _ => cached::execute(c, &format!("{sql} {HELD}"), &args).await.map_err(pg_error)?,
    };
    Ok(changed == 1)
}

/// Un-parks an event: due now, attempts from zero, channels that took it still skipped.
pub async fn retry(c: &impl GenericClient, id: &str, now: Millis) -> Result<bool, StoreError> {
    let changed = cached::execute(
        c,
        "UPDATE outbox SET failed_at = NULL, attempts = 0, next_attempt_at = $2, claim_token = NULL
             WHERE id = $1 AND failed_at IS NOT NULL",
        &[&id, &now],
    )
    .await
    .map_err(pg_error)?;
    Ok(changed == 1)
}

/// Puts back up to `limit` events parked before `before`, oldest parked first, in one
/// statement (one pooled connection, whatever the page's size).
pub async fn retry_failed(c: &impl GenericClient, before: Millis, limit: u32, now: Millis) -> Result<u32, StoreError> {
    let changed = cached::execute(
        c,
        "UPDATE outbox SET failed_at = NULL, attempts = 0, next_attempt_at = $3, claim_token = NULL
         WHERE id IN (SELECT id FROM outbox WHERE failed_at IS NOT NULL AND failed_at < $1
                      ORDER BY failed_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)",
        &[&before, &i64::from(limit), &now],
    )
    .await
    .map_err(pg_error)?;
    Ok(u32::try_from(changed).unwrap_or(u32::MAX))
}

/// When the earliest claimable event is due.
pub async fn next_due(c: &impl GenericClient) -> Result<Option<Millis>, StoreError> {
    // Read down the pending index, stopping at the first claimable event.
    let sql = format!("SELECT e.next_attempt_at FROM outbox e WHERE {FIRST_OPEN} ORDER BY e.next_attempt_at LIMIT 1");
    let r = cached::query_opt(c, &sql, &[]).await.map_err(pg_error)?;
    Ok(r.map(|r| r.get(0)))
}

/// Events in a state, newest first.
pub async fn events(c: &impl GenericClient, state: OutboxState, limit: u32) -> Result<Vec<OutboxEvent>, StoreError> {
    let filter = match state {
        OutboxState::Pending => "delivered_at IS NULL AND failed_at IS NULL",
        OutboxState::Delivered => "delivered_at IS NOT NULL",
        OutboxState::Failed => "failed_at IS NOT NULL",
    };
    let sql = format!("SELECT {EVENT_COLUMNS} FROM outbox WHERE {filter} ORDER BY id DESC LIMIT $1");
    let rows = cached::query(c, &sql, &[&i64::from(limit)]).await.map_err(pg_error)?;
    rows.iter().map(event).collect()
}

/// Events per state.
pub async fn counts(c: &impl GenericClient) -> Result<OutboxCounts, StoreError> {
    let r = cached::query_one(
        c,
        "SELECT COUNT(*) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL),
                    COUNT(*) FILTER (WHERE delivered_at IS NOT NULL),
                    COUNT(*) FILTER (WHERE failed_at IS NOT NULL)
             FROM outbox",
        &[],
    )
    .await
    .map_err(pg_error)?;
    let n = |i| u64::try_from(r.get::<_, i64>(i)).unwrap_or(0);
    Ok(OutboxCounts { pending: n(0), delivered: n(1), failed: n(2) })
}

/// Deletes up to `limit` delivered events and `limit` dev-mailbox messages older than
/// `before`, oldest first (UUIDv7 ids); returns how many of each went. Pending and parked
/// events are never deleted. Instances pruning at once only wait on each other's rows.
pub async fn prune(c: &impl GenericClient, before: Millis, limit: u32) -> Result<(u64, u64), StoreError> {
    let limit = i64::from(limit);
    let events = cached::execute(
        c,
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
             WHERE delivered_at IS NOT NULL AND delivered_at < $1 ORDER BY id LIMIT $2)",
        &[&before, &limit],
    )
    .await
    .map_err(pg_error)?;
    let mails = cached::execute(
        c,
        "DELETE FROM dev_mailbox WHERE id IN (SELECT id FROM dev_mailbox WHERE created_at < $1 ORDER BY id LIMIT $2)",
        &[&before, &limit],
    )
    .await
    .map_err(pg_error)?;
    Ok((events, mails))
}

/// Stores a dev-mailbox message once per event and recipient.
pub async fn store_mail(c: &impl GenericClient, mail: &NewMail, now: Millis) -> Result<(), StoreError> {
    cached::execute(
        c,
        "INSERT INTO dev_mailbox (id, event_id, recipient, subject, text_body, html_body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id, recipient) DO NOTHING",
        &[
            &crate::ids::v7().to_string(),
            &mail.event_id,
            &mail.recipient,
            &mail.subject,
            &mail.text_body,
            &mail.html_body,
            &now,
        ],
    )
    .await
    .map_err(pg_error)?;
    Ok(())
}

const MAIL_COLUMNS: &str = "id, event_id, recipient, subject, text_body, html_body, created_at";

fn mail_row(r: &Row) -> MailMessage {
    MailMessage {
        id: r.get(0),
        event_id: r.get(1),
        recipient: r.get(2),
        subject: r.get(3),
        text_body: r.get(4),
        html_body: r.get(5),
        created_at: r.get(6),
    }
}

/// The newest dev-mailbox messages.
pub async fn mailbox(c: &impl GenericClient, limit: u32) -> Result<Vec<MailMessage>, StoreError> {
    let sql = format!("SELECT {MAIL_COLUMNS} FROM dev_mailbox ORDER BY id DESC LIMIT $1");
    Ok(cached::query(c, &sql, &[&i64::from(limit)]).await.map_err(pg_error)?.iter().map(mail_row).collect())
}

/// One dev-mailbox message.
pub async fn mail(c: &impl GenericClient, id: &str) -> Result<Option<MailMessage>, StoreError> {
    let sql = format!("SELECT {MAIL_COLUMNS} FROM dev_mailbox WHERE id = $1");
    Ok(cached::query_opt(c, &sql, &[&id]).await.map_err(pg_error)?.as_ref().map(mail_row))
}
