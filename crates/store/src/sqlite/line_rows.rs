//! Waiting-room rows: tickets in line and each room's state.

use crate::StoreError;
use crate::waiting_room::LineEntry;
use rusqlite::types::{FromSqlError, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};
use stampede_domain::{CustomerKey, RoomState, token_bytes, token_from_bytes};

/// Ranks are below 2^63 (see the domain), so they round-trip through SQLite's integers.
fn to_sql(rank: u64) -> i64 {
    i64::try_from(rank).unwrap_or(i64::MAX)
}

/// A ticket as kept: the bytes its text spells, a little over half the room (the table is
/// WITHOUT ROWID, whose rows SQLite wants small, and every join writes one), or its text
/// when it is not as this shop writes tickets. Rows written before are text.
fn ticket_to_sql(token: &str) -> ToSqlOutput<'_> {
    token_bytes(token).map_or(ToSqlOutput::Borrowed(ValueRef::Text(token.as_bytes())), ToSqlOutput::from)
}

fn ticket_from_sql(value: ValueRef<'_>) -> rusqlite::Result<String> {
    let token = match value {
        ValueRef::Blob(bytes) => token_from_bytes(bytes),
        ValueRef::Text(text) => std::str::from_utf8(text).ok().map(str::to_owned),
        _ => None,
    };
    token.ok_or_else(|| FromSqlError::InvalidType.into())
}

/// Inserts each ticket unless its customer holds one: per entry, `None` when it went in as
/// given, else the ticket the customer holds (a fresh join is not copied to say it was taken).
/// One statement for the whole batch: hundreds of joins go in per transaction.
pub fn join(conn: &Connection, entries: &[LineEntry]) -> Result<Vec<Option<LineEntry>>, StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO queue_tickets (product_id, customer_key, rank, ticket, joined_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (product_id, customer_key) DO NOTHING",
    )?;
    let mut outcomes = Vec::with_capacity(entries.len());
    for entry in entries {
        let inserted = insert.execute(params![
            entry.product_id,
            entry.customer.0,
            to_sql(entry.rank),
            ticket_to_sql(&entry.ticket),
            entry.joined_at
        ])?;
        outcomes.push(if inserted == 1 { None } else { Some(held(conn, entry)?) });
    }
    Ok(outcomes)
}

/// The ticket `entry`'s customer holds for its product.
fn held(conn: &Connection, entry: &LineEntry) -> Result<LineEntry, StoreError> {
    let held = conn
        .prepare_cached(
            "SELECT rank, ticket, joined_at FROM queue_tickets WHERE product_id = ?1 AND customer_key = ?2",
        )?
        .query_row(params![entry.product_id, entry.customer.0], |r| {
            Ok((r.get::<_, i64>(0)?, ticket_from_sql(r.get_ref(1)?)?, r.get::<_, i64>(2)?))
        })?;
    Ok(LineEntry {
        product_id: entry.product_id.clone(),
        customer: CustomerKey(entry.customer.0.clone()),
        rank: u64::try_from(held.0).unwrap_or(0),
        ticket: held.1,
        joined_at: held.2,
    })
}

/// Marks the customer's ticket of `rank` for the product as bought by `order_id`, unless
/// that order is cancelled.
pub fn mark_bought(
    conn: &Connection,
    product_id: &str,
    customer_key: &str,
    rank: u64,
    order_id: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE queue_tickets SET bought_by = ?4 WHERE product_id = ?1 AND customer_key = ?2 AND rank = ?3
         AND EXISTS (SELECT 1 FROM orders WHERE id = ?4 AND status <> 'cancelled')",
    )?
    .execute(params![product_id, customer_key, to_sql(rank), order_id])?;
    Ok(())
}

/// Marks from `low` to `high` (ranks), as (rank, order id).
pub fn purchase_marks(
    conn: &Connection,
    product_id: &str,
    low: u64,
    high: u64,
) -> Result<Vec<(u64, String)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT q.rank, q.bought_by FROM queue_tickets q JOIN orders o ON o.id = q.bought_by
         WHERE q.product_id = ?1 AND q.rank BETWEEN ?2 AND ?3 AND q.bought_by IS NOT NULL AND o.status <> 'cancelled'",
    )?;
    let rows = stmt.query_map(params![product_id, to_sql(low), to_sql(high)], |r| {
        Ok((u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0), r.get::<_, String>(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Saves `next` if the stored version is the one before it (none stored: version 0).
pub fn save_room(conn: &Connection, product_id: &str, next: &RoomState) -> Result<bool, StoreError> {
    let version = i64::try_from(next.version).unwrap_or(i64::MAX);
    let sql = if version == 1 {
        "INSERT INTO waiting_rooms (product_id, state, version) VALUES (?1, ?2, ?3) ON CONFLICT (product_id) DO NOTHING"
    } else {
        "UPDATE waiting_rooms SET state = ?2, version = ?3 WHERE product_id = ?1 AND version = ?3 - 1"
    };
    let changed = conn.prepare_cached(sql)?.execute(params![product_id, serde_json::to_string(next)?, version])?;
    Ok(changed == 1)
}

pub fn room(conn: &Connection, product_id: &str) -> Result<RoomState, StoreError> {
    let state: Option<String> = conn
        .prepare_cached("SELECT state FROM waiting_rooms WHERE product_id = ?1")?
        .query_row([product_id], |r| r.get(0))
        .optional()?;
    Ok(state.map(|s| serde_json::from_str(&s)).transpose()?.unwrap_or_default())
}

pub fn line(conn: &Connection, product_id: &str) -> Result<Vec<LineEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT customer_key, rank, ticket, joined_at FROM queue_tickets WHERE product_id = ?1 ORDER BY rank",
    )?;
    let rows = stmt.query_map([product_id], |r| {
        Ok(LineEntry {
            product_id: product_id.to_owned(),
            customer: CustomerKey(r.get(0)?),
            rank: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            ticket: ticket_from_sql(r.get_ref(2)?)?,
            joined_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn ranks(conn: &Connection, product_id: &str, from: u64) -> Result<Vec<u64>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT rank FROM queue_tickets WHERE product_id = ?1 AND rank >= ?2 ORDER BY rank")?;
    let rows = stmt.query_map(params![product_id, to_sql(from)], |r| r.get::<_, i64>(0))?;
    rows.map(|r| Ok(u64::try_from(r?).unwrap_or(0))).collect()
}

pub fn next(conn: &Connection, product_id: &str, after: u64, limit: u64) -> Result<Vec<u64>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT rank FROM queue_tickets WHERE product_id = ?1 AND rank > ?2 ORDER BY rank LIMIT ?3")?;
    let rows = stmt.query_map(params![product_id, to_sql(after), to_sql(limit)], |r| r.get::<_, i64>(0))?;
    rows.map(|r| Ok(u64::try_from(r?).unwrap_or(0))).collect()
}
