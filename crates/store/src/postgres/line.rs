//! Waiting-room lines on PostgreSQL (see `crate::waiting_room`), as on SQLite: one row per
//! ticket keyed by product and customer and read by rank, and one row per room, saved only
//! on its previous version so concurrent advances on several instances win or lose whole.

use super::error::pg_error;
use super::store::PostgresStore;
use crate::StoreError;
use crate::waiting_room::{LineEntry, WaitingRoom};
use async_trait::async_trait;
use stampede_domain::{CustomerKey, RoomState};
use std::ops::RangeInclusive;

/// Ranks are below 2^63 (see the domain), so they round-trip through `BIGINT`.
fn to_sql(rank: u64) -> i64 {
    i64::try_from(rank).unwrap_or(i64::MAX)
}

fn from_sql(rank: i64) -> u64 {
    u64::try_from(rank).unwrap_or(0)
}

#[async_trait]
impl WaitingRoom for PostgresStore {
    async fn join_line(&self, entry: LineEntry) -> Result<LineEntry, StoreError> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO queue_tickets (product_id, customer_key, rank, ticket, joined_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (product_id, customer_key) DO NOTHING",
            &[&entry.product_id, &entry.customer.0, &to_sql(entry.rank), &entry.ticket, &entry.joined_at],
        )
        .await
        .map_err(pg_error)?;
        let held = c
            .query_one(
                "SELECT rank, ticket, joined_at FROM queue_tickets WHERE product_id = $1 AND customer_key = $2",
                &[&entry.product_id, &entry.customer.0],
            )
            .await
            .map_err(pg_error)?;
        Ok(LineEntry { rank: from_sql(held.get(0)), ticket: held.get(1), joined_at: held.get(2), ..entry })
    }

    async fn join_lines(&self, entries: Vec<LineEntry>) -> Result<Vec<LineEntry>, StoreError> {
        // Two statements for the whole batch: insert whoever holds no ticket yet, then read
        // back the ticket each customer holds, whichever instance wrote it.
        let column = |f: fn(&LineEntry) -> String| entries.iter().map(f).collect::<Vec<String>>();
        let (products, customers, tickets) =
            (column(|e| e.product_id.clone()), column(|e| e.customer.0.clone()), column(|e| e.ticket.clone()));
        let ranks: Vec<i64> = entries.iter().map(|e| to_sql(e.rank)).collect();
        let joined: Vec<i64> = entries.iter().map(|e| e.joined_at).collect();
        let c = self.client().await?;
        c.execute(
            "INSERT INTO queue_tickets (product_id, customer_key, rank, ticket, joined_at)
             SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::BIGINT[])
             ON CONFLICT (product_id, customer_key) DO NOTHING",
            &[&products, &customers, &ranks, &tickets, &joined],
        )
        .await
        .map_err(pg_error)?;
        let rows = c
            .query(
                "SELECT q.product_id, q.customer_key, q.rank, q.ticket, q.joined_at
                 FROM queue_tickets q JOIN UNNEST($1::TEXT[], $2::TEXT[]) AS u(p, c)
                   ON q.product_id = u.p AND q.customer_key = u.c",
                &[&products, &customers],
            )
            .await
            .map_err(pg_error)?;
        let held: std::collections::HashMap<(String, String), LineEntry> = rows
            .iter()
            .map(|r| {
                let entry = LineEntry {
                    product_id: r.get(0),
                    customer: CustomerKey(r.get(1)),
                    rank: from_sql(r.get(2)),
                    ticket: r.get(3),
                    joined_at: r.get(4),
                };
                ((entry.product_id.clone(), entry.customer.0.clone()), entry)
            })
            .collect();
        entries
            .iter()
            .map(|e| {
                held.get(&(e.product_id.clone(), e.customer.0.clone()))
                    .cloned()
                    .ok_or_else(|| StoreError::Backend("a joined ticket was not found".into()))
            })
            .collect()
    }

    async fn line(&self, product_id: &str) -> Result<Vec<LineEntry>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT customer_key, rank, ticket, joined_at FROM queue_tickets WHERE product_id = $1 ORDER BY rank",
                &[&product_id],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|r| LineEntry {
                product_id: product_id.to_owned(),
                customer: CustomerKey(r.get(0)),
                rank: from_sql(r.get(1)),
                ticket: r.get(2),
                joined_at: r.get(3),
            })
            .collect())
    }

    async fn line_ranks(&self, product_id: &str, from: u64) -> Result<Vec<u64>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT rank FROM queue_tickets WHERE product_id = $1 AND rank >= $2 ORDER BY rank",
                &[&product_id, &to_sql(from)],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows.iter().map(|r| from_sql(r.get(0))).collect())
    }

    async fn room(&self, product_id: &str) -> Result<RoomState, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT state FROM waiting_rooms WHERE product_id = $1", &[&product_id])
            .await
            .map_err(pg_error)?;
        Ok(row.map(|r| serde_json::from_str(r.get(0))).transpose()?.unwrap_or_default())
    }

    async fn next_in_line(&self, product_id: &str, after: u64, limit: u64) -> Result<Vec<u64>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT rank FROM queue_tickets WHERE product_id = $1 AND rank > $2 ORDER BY rank LIMIT $3",
                &[&product_id, &to_sql(after), &to_sql(limit)],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows.iter().map(|r| from_sql(r.get(0))).collect())
    }

    async fn save_room(&self, product_id: &str, next: &RoomState) -> Result<bool, StoreError> {
        let version = i64::try_from(next.version).unwrap_or(i64::MAX);
        let sql = if version == 1 {
            "INSERT INTO waiting_rooms (product_id, state, version) VALUES ($1, $2, $3) ON CONFLICT (product_id) DO NOTHING"
        } else {
            "UPDATE waiting_rooms SET state = $2, version = $3::BIGINT WHERE product_id = $1 AND version = $3::BIGINT - 1"
        };
        let state = serde_json::to_string(next)?;
        let changed = self.client().await?.execute(sql, &[&product_id, &state, &version]).await.map_err(pg_error)?;
        Ok(changed == 1)
    }

    // `FOR SHARE` waits for a cancel of the order still committing and then sees it
    // cancelled: without it, read committed would let the mark land after the cancel.
    async fn mark_bought(
        &self,
        product_id: &str,
        customer: &CustomerKey,
        rank: u64,
        order_id: &str,
    ) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE queue_tickets SET bought_by = $4 WHERE product_id = $1 AND customer_key = $2 AND rank = $3
                 AND EXISTS (SELECT 1 FROM orders WHERE id = $4 AND status <> 'cancelled' FOR SHARE)",
                &[&product_id, &customer.0, &to_sql(rank), &order_id],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    async fn purchase_marks(
        &self,
        product_id: &str,
        ranks: RangeInclusive<u64>,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT q.rank, q.bought_by FROM queue_tickets q JOIN orders o ON o.id = q.bought_by
                 WHERE q.product_id = $1 AND q.rank BETWEEN $2 AND $3 AND q.bought_by IS NOT NULL
                   AND o.status <> 'cancelled'",
                &[&product_id, &to_sql(*ranks.start()), &to_sql(*ranks.end())],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows.iter().map(|r| (from_sql(r.get(0)), r.get(1))).collect())
    }

    async fn stock_now(&self, product_id: &str) -> Result<Option<u32>, StoreError> {
        // A fresh read (not this instance's memory of stock): it sees every committed order.
        Ok(super::rows::product(&self.client().await?, product_id).await?.map(|view| view.stock))
    }
}
