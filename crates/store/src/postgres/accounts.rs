//! Accounts, sessions, the audit log, emailed links and saved carts on PostgreSQL, in the
//! shared database, so a session begun on one instance is good on every other. Row mapping
//! and the last-admin rule are shared with SQLite (`crate::accounts`).

use super::error::pg_error;
use super::store::PostgresStore;
use crate::accounts::{LINK_SWEEP_AFTER, USER_COLUMNS, UserRow, email_taken, keep_an_admin, to_user};
use crate::clock::now_millis;
use crate::{
    Accounts, AuditEntry, Credentials, EMAIL_LINK_EVENT, LinkOpening, LinkPurpose, NewAudit, NewEmailLink, NewSession,
    NewUser, StoreError, User,
};
use async_trait::async_trait;
use stampede_domain::Millis;
use tokio_postgres::error::SqlState;
use tokio_postgres::{GenericClient, Row, Transaction};

/// Key of the advisory lock that staff removals and deactivations take, so two admins on two
/// instances cannot each remove the other and leave the shop without one.
const STAFF_LOCK: i64 = 0x5354_4146_465f_4c4b; // "STAFF_LK"

pub(super) fn user_row(r: &Row) -> UserRow {
    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7))
}

async fn user_where(c: &impl GenericClient, condition: &str, id: &str) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {condition}");
    c.query_opt(&sql, &[&id]).await.map_err(pg_error)?.map(|r| to_user(user_row(&r))).transpose()
}

/// Serializes staff removals and deactivations, then finds the staff account `id`.
async fn lock_staff_member(tx: &Transaction<'_>, id: &str) -> Result<Option<User>, StoreError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&STAFF_LOCK]).await.map_err(pg_error)?;
    user_where(tx, "id = $1 AND role IN ('kitchen', 'admin')", id).await
}

/// Active admins now; read after the staff lock, so no other removal is half done.
async fn active_admins(tx: &Transaction<'_>) -> Result<i64, StoreError> {
    let row = tx.query_one("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active", &[]).await;
    Ok(row.map_err(pg_error)?.get(0))
}

#[async_trait]
impl Accounts for PostgresStore {
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        let (created, password_hash) = user.into_user();
        let inserted = self
            .client()
            .await?
            .execute(
                "INSERT INTO users (id, email, name, role, password_hash, created_at, email_verified)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &created.id,
                    &created.email,
                    &created.name,
                    &created.role.as_str(),
                    &password_hash,
                    &created.created_at,
                    &created.email_verified,
                ],
            )
            .await;
        match inserted {
            Ok(_) => Ok(created),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Err(email_taken(&created.email)),
            Err(e) => Err(pg_error(e)),
        }
    }

    async fn credentials(&self, email: &str) -> Result<Option<Credentials>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = $1");
        let row = self.client().await?.query_opt(&sql, &[&email.to_lowercase()]).await.map_err(pg_error)?;
        row.map(|r| Ok(Credentials { user: to_user(user_row(&r))?, password_hash: r.get(8) })).transpose()
    }

    async fn start_session(&self, session: NewSession) -> Result<(), StoreError> {
        let c = self.client().await?;
        let now = now_millis();
        // Sign-ins are rare next to page views, so they also sweep expired sessions.
        c.execute("DELETE FROM sessions WHERE expires_at <= $1", &[&now]).await.map_err(pg_error)?;
        c.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            &[&session.token_hash, &session.user_id, &now, &session.expires_at],
        )
        .await
        .map_err(pg_error)?;
        Ok(())
    }

    async fn session_user(&self, token_hash: &str, now: Millis) -> Result<Option<User>, StoreError> {
        let sql =
            "SELECT u.id, u.email, u.name, u.role, u.created_at, u.email_verified, u.active, u.must_change_password
                   FROM sessions s JOIN users u ON u.id = s.user_id
                   WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active";
        let row = self.client().await?.query_opt(sql, &[&token_hash, &now]).await.map_err(pg_error)?;
        row.map(|r| to_user(user_row(&r))).transpose()
    }

    async fn end_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash]).await.map_err(pg_error)?;
        Ok(())
    }

    async fn staff(&self) -> Result<Vec<User>, StoreError> {
        // Byte order, as SQLite sorts, whatever the database's collation.
        let sql =
            format!("SELECT {USER_COLUMNS} FROM users WHERE role IN ('kitchen', 'admin') ORDER BY email COLLATE \"C\"");
        let rows = self.client().await?.query(&sql, &[]).await.map_err(pg_error)?;
        rows.iter().map(|r| to_user(user_row(r))).collect()
    }

    async fn remove_staff(&self, id: &str) -> Result<Option<User>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let Some(user) = lock_staff_member(&tx, id).await? else { return Ok(None) };
        keep_an_admin(&user, active_admins(&tx).await?, "removed")?;
        for sql in [
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM account_orders WHERE user_id = $1",
            "DELETE FROM saved_carts WHERE user_id = $1",
            "DELETE FROM users WHERE id = $1",
        ] {
            tx.execute(sql, &[&id]).await.map_err(pg_error)?;
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(Some(user))
    }

    async fn set_staff_active(&self, id: &str, active: bool) -> Result<Option<User>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let Some(mut user) = lock_staff_member(&tx, id).await? else { return Ok(None) };
        if !active {
            keep_an_admin(&user, active_admins(&tx).await?, "deactivated")?;
            tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&id]).await.map_err(pg_error)?;
        }
        tx.execute("UPDATE users SET active = $2 WHERE id = $1", &[&id, &active]).await.map_err(pg_error)?;
        tx.commit().await.map_err(pg_error)?;
        user.active = active;
        Ok(Some(user))
    }

    async fn saved_cart(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let c = self.client().await?;
        let row = c.query_opt("SELECT cart FROM saved_carts WHERE user_id = $1", &[&user_id]).await;
        Ok(row.map_err(pg_error)?.map(|r| r.get(0)))
    }

    async fn save_cart(&self, user_id: &str, cart: &str) -> Result<(), StoreError> {
        let c = self.client().await?;
        let done = if cart.is_empty() {
            c.execute("DELETE FROM saved_carts WHERE user_id = $1", &[&user_id]).await
        } else {
            c.execute(
                "INSERT INTO saved_carts (user_id, cart, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO UPDATE SET cart = excluded.cart, updated_at = excluded.updated_at",
                &[&user_id, &cart, &now_millis()],
            )
            .await
        };
        done.map(drop).map_err(pg_error)
    }

    async fn set_password(&self, id: &str, password_hash: &str, temporary: bool) -> Result<Option<User>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let Some(mut user) = user_where(&*tx, "id = $1 FOR UPDATE", id).await? else { return Ok(None) };
        tx.execute(
            "UPDATE users SET password_hash = $2, must_change_password = $3 WHERE id = $1",
            &[&id, &password_hash, &temporary],
        )
        .await
        .map_err(pg_error)?;
        if temporary {
            tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&id]).await.map_err(pg_error)?;
        }
        tx.commit().await.map_err(pg_error)?;
        user.must_change_password = temporary;
        Ok(Some(user))
    }

    async fn record(&self, entry: NewAudit) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
                &[&now_millis(), &entry.actor, &entry.action, &entry.target, &entry.detail],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    async fn audit_log(&self, before: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, at, actor, action, target, detail FROM audit_log
                 WHERE ($1::BIGINT IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
                &[&before, &i64::from(limit)],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                id: r.get(0),
                at: r.get(1),
                actor: r.get(2),
                action: r.get(3),
                target: r.get(4),
                detail: r.get(5),
            })
            .collect())
    }

    async fn link_order(&self, user_id: &str, order_id: &str) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO account_orders (user_id, order_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&user_id, &order_id],
        )
        .await
        .map_err(pg_error)?;
        Ok(())
    }

    async fn account_order_ids(&self, user_id: &str, limit: u32) -> Result<Vec<String>, StoreError> {
        // Order ids are UUIDv7: newest sorts last.
        let rows = self
            .client()
            .await?
            .query(
                "SELECT order_id FROM account_orders WHERE user_id = $1 ORDER BY order_id DESC LIMIT $2",
                &[&user_id, &i64::from(limit)],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn links_sent(&self, email: &str, purpose: LinkPurpose, since: Millis) -> Result<u32, StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT COUNT(*) FROM email_links WHERE email = $1 AND purpose = $2 AND created_at >= $3",
                &[&email.to_lowercase(), &purpose.as_str(), &since],
            )
            .await
            .map_err(pg_error)?;
        Ok(u32::try_from(row.get::<_, i64>(0)).unwrap_or(u32::MAX))
    }

    async fn send_link(&self, link: NewEmailLink) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let now = now_millis();
        // Sending is rare, so it also sweeps links that ran out a day ago.
        tx.execute("DELETE FROM email_links WHERE expires_at < $1", &[&(now - LINK_SWEEP_AFTER)])
            .await
            .map_err(pg_error)?;
        tx.execute(
            "INSERT INTO email_links (token_hash, purpose, email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[&link.token_hash, &link.purpose.as_str(), &link.email.to_lowercase(), &now, &link.expires_at],
        )
        .await
        .map_err(pg_error)?;
        tx.execute(
            "INSERT INTO outbox (id, kind, order_id, payload, created_at, next_attempt_at) VALUES ($1, $2, '', $3, $4, $4)",
            &[&crate::ids::v7().to_string(), &EMAIL_LINK_EVENT, &link.payload.to_string(), &now],
        )
        .await
        .map_err(pg_error)?;
        tx.commit().await.map_err(pg_error)?;
        self.tick_outbox();
        Ok(())
    }

    async fn open_link(&self, opening: LinkOpening<'_>) -> Result<Option<String>, StoreError> {
        let LinkOpening { token_hash, purpose, now } = opening;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        // The row lock of the UPDATE makes a link usable once, however many instances try.
        let email: Option<String> = tx
            .query_opt(
                "UPDATE email_links SET used_at = $3
                 WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
                 RETURNING email",
                &[&token_hash, &purpose.as_str(), &now],
            )
            .await
            .map_err(pg_error)?
            .map(|r| r.get(0));
        if let (Some(email), LinkPurpose::VerifyEmail) = (&email, purpose) {
            tx.execute("UPDATE users SET email_verified = TRUE WHERE email = $1", &[email]).await.map_err(pg_error)?;
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(email)
    }
}
