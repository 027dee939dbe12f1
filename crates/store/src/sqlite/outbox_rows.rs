//! Outbox and dev-mailbox rows: the writes the writer performs for the relay, and the reads
//! the relay and the admin make on the read pool.

use crate::{Claim, MailMessage, NewMail, OutboxCounts, OutboxEvent, OutboxState, Settlement, StoreError};
use rusqlite::{Connection, OptionalExtension, Row, params};
use stampede_domain::Millis;

const EVENT_COLUMNS: &str = "id, kind, order_id, payload, created_at, attempts, next_attempt_at, delivered_at, \
                             failed_at, last_error, done_channels";

fn event(r: &Row<'_>) -> rusqlite::Result<(OutboxEvent, String, String)> {
    let event = OutboxEvent {
        id: r.get(0)?,
        kind: r.get(1)?,
        order_id: r.get(2)?,
        payload: serde_json::Value::Null,
        created_at: r.get(4)?,
        attempts: r.get(5)?,
        next_attempt_at: r.get(6)?,
        delivered_at: r.get(7)?,
        failed_at: r.get(8)?,
        last_error: r.get(9)?,
        done_channels: Vec::new(),
    };
    Ok((event, r.get(3)?, r.get(10)?))
}

fn finish((mut event, payload, done): (OutboxEvent, String, String)) -> Result<OutboxEvent, StoreError> {
    event.payload = serde_json::from_str(&payload)?;
    event.done_channels = serde_json::from_str(&done)?;
    Ok(event)
}

/// Only an order's oldest open event may go out, so one order's events go out in the order
/// they happened (a receipt before "being prepared"); a parked event stops blocking. Events
/// of no order (emailed links, `order_id` empty) go out each on its own.
const FIRST_OPEN: &str = "e.delivered_at IS NULL AND e.failed_at IS NULL
    AND (e.order_id = '' OR NOT EXISTS (SELECT 1 FROM outbox earlier
                    WHERE earlier.order_id = e.order_id AND earlier.id < e.id
                      AND earlier.delivered_at IS NULL AND earlier.failed_at IS NULL))";

/// Reserves due events (see [`FIRST_OPEN`]): pushes their due time to the end of the lease
/// and stamps the claim token. The writer runs commands one at a time, so two claims can
/// never take the same row.
pub fn claim(conn: &Connection, claim: &Claim, now: Millis) -> Result<Vec<OutboxEvent>, StoreError> {
    let lease_end = now.saturating_add(i64::try_from(claim.lease.as_millis()).unwrap_or(i64::MAX));
    let mut stmt = conn.prepare_cached(&claim_sql())?;
    let rows = stmt.query_map(params![lease_end, claim.token, now, claim.limit], event)?;
    let mut events = rows.map(|r| finish(r?)).collect::<Result<Vec<_>, _>>()?;
    // RETURNING gives no order guarantee; deliver oldest first.
    events.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(events)
}

fn claim_sql() -> String {
    format!(
        "UPDATE outbox SET next_attempt_at = ?1, claim_token = ?2, attempts = attempts + 1
         WHERE id IN (SELECT e.id FROM outbox e
                      WHERE e.next_attempt_at <= ?3 AND {FIRST_OPEN}
                      ORDER BY e.next_attempt_at, e.id LIMIT ?4)
         RETURNING {EVENT_COLUMNS}"
    )
}

/// Records an attempt's outcome if the claim still holds.
pub fn settle(conn: &Connection, id: &str, token: &str, outcome: &Settlement, now: Millis) -> Result<bool, StoreError> {
    let changed = match outcome {
        Settlement::Delivered { done_channels } => conn
            .prepare_cached(
                "UPDATE outbox SET delivered_at = ?3, claim_token = NULL, last_error = NULL, done_channels = ?4
                 WHERE id = ?1 AND claim_token = ?2 AND delivered_at IS NULL AND failed_at IS NULL",
            )?
            .execute(params![id, token, now, serde_json::to_string(done_channels)?])?,
        Settlement::Retry { at, error, done_channels } | Settlement::Throttled { at, error, done_channels } => {
            // A throttled attempt is given back.
            let sql = if matches!(outcome, Settlement::Throttled { .. }) {
                "UPDATE outbox SET next_attempt_at = ?3, last_error = ?4, done_channels = ?5, claim_token = NULL,
                        attempts = MAX(attempts - 1, 0)
                 WHERE id = ?1 AND claim_token = ?2 AND delivered_at IS NULL AND failed_at IS NULL"
            } else {
                "UPDATE outbox SET next_attempt_at = ?3, last_error = ?4, done_channels = ?5, claim_token = NULL
                 WHERE id = ?1 AND claim_token = ?2 AND delivered_at IS NULL AND failed_at IS NULL"
            };
            let changed = conn.prepare_cached(sql)?.execute(params![
                id,
                token,
                at,
                error,
                serde_json::to_string(done_channels)?
            ])?;
            if changed == 1 {
                hold_back_later(conn, id, *at)?;
            }
            changed
        }
        Settlement::Park { error, done_channels } => conn
            .prepare_cached(
                "UPDATE outbox SET failed_at = ?3, last_error = ?4, done_channels = ?5, claim_token = NULL
                 WHERE id = ?1 AND claim_token = ?2 AND delivered_at IS NULL AND failed_at IS NULL",
            )?
            .execute(params![id, token, now, error, serde_json::to_string(done_channels)?])?,
    };
    Ok(changed == 1)
}

/// Once event `id` (its order's first open one) waits for a retry at `at`, its order's later
/// open events are made due no sooner: they cannot go out before it anyway, and left due they
/// would sit at the front of the pending index, walked past by every claim and `next_due`
/// for as long as a channel is down.
fn hold_back_later(conn: &Connection, id: &str, at: Millis) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE outbox SET next_attempt_at = ?2
         WHERE order_id = (SELECT order_id FROM outbox WHERE id = ?1) AND order_id <> '' AND id > ?1
           AND delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at < ?2 AND claim_token IS NULL",
    )?
    .execute(params![id, at])?;
    Ok(())
}

/// Un-parks an event: due now, attempts from zero, channels that took it still skipped.
pub fn retry(conn: &Connection, id: &str, now: Millis) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE outbox SET failed_at = NULL, attempts = 0, next_attempt_at = ?2, claim_token = NULL
             WHERE id = ?1 AND failed_at IS NOT NULL",
        )?
        .execute(params![id, now])?;
    Ok(changed == 1)
}

/// Puts back up to `limit` events parked before `before`, oldest parked first (read down the
/// failed index), as [`retry`] does each.
pub fn retry_failed(conn: &Connection, before: Millis, limit: u32, now: Millis) -> Result<u32, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE outbox SET failed_at = NULL, attempts = 0, next_attempt_at = ?3, claim_token = NULL
             WHERE id IN (SELECT id FROM outbox WHERE failed_at IS NOT NULL AND failed_at < ?1
                          ORDER BY failed_at, id LIMIT ?2)",
        )?
        .execute(params![before, limit, now])?;
    Ok(u32::try_from(changed).unwrap_or(u32::MAX))
}

/// When the earliest claimable event is due: like `claim`, only [`FIRST_OPEN`] events count,
/// so an order waiting on its in-flight first event does not read as due. Read down the
/// pending index, stopping at the first such event.
pub fn next_due(conn: &Connection) -> Result<Option<Millis>, StoreError> {
    Ok(conn.prepare_cached(&next_due_sql())?.query_row([], |r| r.get(0)).optional()?)
}

fn next_due_sql() -> String {
    format!("SELECT e.next_attempt_at FROM outbox e WHERE {FIRST_OPEN} ORDER BY e.next_attempt_at LIMIT 1")
}

/// Events in a state, newest first.
pub fn events(conn: &Connection, state: OutboxState, limit: u32) -> Result<Vec<OutboxEvent>, StoreError> {
    let filter = match state {
        OutboxState::Pending => "delivered_at IS NULL AND failed_at IS NULL",
        OutboxState::Delivered => "delivered_at IS NOT NULL",
        OutboxState::Failed => "failed_at IS NOT NULL",
    };
    let sql = format!("SELECT {EVENT_COLUMNS} FROM outbox WHERE {filter} ORDER BY id DESC LIMIT ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([limit], event)?;
    rows.map(|r| finish(r?)).collect()
}

/// Every event not yet delivered (pending or parked), oldest first, for an export.
pub fn undelivered(conn: &Connection) -> Result<Vec<OutboxEvent>, StoreError> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM outbox WHERE delivered_at IS NULL ORDER BY id");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], event)?;
    rows.map(|r| finish(r?)).collect()
}

/// Events per state.
pub fn counts(conn: &Connection) -> Result<OutboxCounts, StoreError> {
    // Pending and failed are counted on their partial indexes, so a scrape stays cheap as
    // delivered history grows; delivered is the rest.
    Ok(conn.query_row(
        "SELECT (SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL),
                (SELECT COUNT(*) FROM outbox WHERE failed_at IS NOT NULL),
                (SELECT COUNT(*) FROM outbox)",
        [],
        |r| {
            let (pending, failed, all): (u64, u64, u64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            Ok(OutboxCounts { pending, delivered: all.saturating_sub(pending + failed), failed })
        },
    )?)
}

/// Makes every claimed, unsettled event due now: only safe when no other relay can be running.
pub fn release_claims(conn: &Connection, now: Millis) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE outbox SET next_attempt_at = MIN(next_attempt_at, ?1), claim_token = NULL
         WHERE claim_token IS NOT NULL AND delivered_at IS NULL AND failed_at IS NULL",
        params![now],
    )?)
}

/// Deletes up to `limit` delivered events and `limit` dev-mailbox messages older than
/// `before`; returns how many of each went. Ids are UUIDv7, so walking the primary key from
/// the start meets the oldest rows first and stops after `limit`. Pending and parked events
/// are never deleted: they still need delivering or a person.
pub fn prune(conn: &Connection, before: Millis, limit: u32) -> Result<(u64, u64), StoreError> {
    let events = conn
        .prepare_cached(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
             WHERE delivered_at IS NOT NULL AND delivered_at < ?1 ORDER BY id LIMIT ?2)",
        )?
        .execute(params![before, limit])?;
    let mails = conn
        .prepare_cached(
            "DELETE FROM dev_mailbox WHERE id IN (SELECT id FROM dev_mailbox WHERE created_at < ?1 ORDER BY id LIMIT ?2)",
        )?
        .execute(params![before, limit])?;
    Ok((events as u64, mails as u64))
}

/// Stores a dev-mailbox message once per event and recipient.
pub fn store_mail(conn: &Connection, mail: &NewMail, now: Millis) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO dev_mailbox (id, event_id, recipient, subject, text_body, html_body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (event_id, recipient) DO NOTHING",
    )?
    .execute(params![
        crate::ids::v7().to_string(),
        mail.event_id,
        mail.recipient,
        mail.subject,
        mail.text_body,
        mail.html_body,
        now
    ])?;
    Ok(())
}

fn mail_row(r: &Row<'_>) -> rusqlite::Result<MailMessage> {
    let (id, event_id, recipient, subject, text_body, html_body, created_at) = r.try_into()?;
    Ok(MailMessage { id, event_id, recipient, subject, text_body, html_body, created_at })
}

/// The newest dev-mailbox messages.
pub fn mailbox(conn: &Connection, limit: u32) -> Result<Vec<MailMessage>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, event_id, recipient, subject, text_body, html_body, created_at
         FROM dev_mailbox ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], mail_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One dev-mailbox message.
pub fn mail(conn: &Connection, id: &str) -> Result<Option<MailMessage>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, event_id, recipient, subject, text_body, html_body, created_at FROM dev_mailbox WHERE id = ?1",
        )?
        .query_row([id], mail_row)
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::StatementStatus;
    use std::time::Duration;

    /// During an outage every order's receipt waits for a retry while its later events pile
    /// up behind it. A claim then reads only what is due, not each blocked event: counted in
    /// SQLite's own steps (each blocked event read costs about 20 more), not in time.
    #[test]
    fn claims_and_next_due_do_not_walk_past_events_blocked_behind_a_retry() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        const ORDERS: usize = 2_000;
        let insert = "INSERT INTO outbox (id, kind, order_id, payload, created_at, next_attempt_at)
                      VALUES (?1, 'order.placed', ?2, '{}', 1, 1)";
        for i in 0..ORDERS {
            let order = format!("order-{i:05}");
            conn.execute(insert, params![format!("{order}-a"), order]).unwrap();
            conn.execute(insert, params![format!("{order}-b"), order]).unwrap();
        }
        let now = 10;
        let claim = |token: &str| Claim { token: token.into(), limit: ORDERS as u32, lease: Duration::from_secs(60) };
        let heads = super::claim(&conn, &claim("outage"), now).unwrap();
        assert_eq!(heads.len(), ORDERS, "each order's first event");
        let at = 1_000_000;
        for head in &heads {
            let retry = Settlement::Retry { at, error: "down".into(), done_channels: vec![] };
            assert!(settle(&conn, &head.id, "outage", &retry, now).unwrap());
        }
        let steps = |sql: &str| {
            let stmt = conn.prepare_cached(sql).unwrap();
            let steps = stmt.get_status(StatementStatus::VmStep);
            stmt.reset_status(StatementStatus::VmStep);
            steps
        };
        steps(&claim_sql());
        assert!(super::claim(&conn, &claim("next"), now + 1).unwrap().is_empty());
        let claimed = steps(&claim_sql());
        assert_eq!(next_due(&conn).unwrap(), Some(at));
        let looked = steps(&next_due_sql());
        assert!(claimed < 1_000, "a claim with nothing due took {claimed} steps");
        assert!(looked < 1_000, "next_due took {looked} steps");
    }
}
