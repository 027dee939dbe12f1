//! Accounts, sessions and the audit log in the shop's SQLite file. Their writes are rare
//! (a sign-in, a staff action), so they use a connection of their own instead of the order
//! writer's queue, and wait their turn for SQLite's write lock like any other writer.

use super::read_pool::ReadPool;
use super::schema;
use crate::accounts::{LINK_SWEEP_AFTER, USER_COLUMNS, UserRow, email_taken, keep_an_admin, to_user};
use crate::clock::now_millis;
use crate::{
    Accounts, AuditEntry, Credentials, EMAIL_LINK_EVENT, LinkOpening, LinkPurpose, NewAudit, NewEmailLink, NewSession,
    NewUser, StoreError, User,
};
use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use stampede_domain::Millis;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The SQLite accounts store.
pub struct SqliteAccounts {
    write: Arc<Mutex<Connection>>,
    reads: ReadPool,
}

impl SqliteAccounts {
    /// Opens the database at `path`, creating and migrating it if needed, so the CLI can
    /// create the first admin before the shop has ever started.
    pub fn open(path: &Path) -> Result<SqliteAccounts, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrate(&mut conn)?;
        Ok(SqliteAccounts { write: Arc::new(Mutex::new(conn)), reads: ReadPool::new(path.to_owned(), 2) })
    }

    /// Runs `f` on the write connection on the blocking pool.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.write.clone();
        tokio::task::spawn_blocking(move || f(&conn.lock().unwrap_or_else(|p| p.into_inner())))
            .await
            .map_err(|e| StoreError::Backend(format!("accounts task failed: {e}")))?
    }
}

pub(super) fn user_row(r: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
}

/// A staff account by id, inside `tx`.
fn staff_member(tx: &Connection, id: &str) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1 AND role IN ('kitchen', 'admin')");
    tx.query_row(&sql, [id], user_row).optional()?.map(to_user).transpose()
}

/// How many active admins the shop has, inside `tx`.
fn active_admins(tx: &Connection) -> Result<i64, StoreError> {
    Ok(tx.query_row("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1", [], |r| r.get(0))?)
}

#[async_trait]
impl Accounts for SqliteAccounts {
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        self.write(move |c| {
            let (created, password_hash) = user.into_user();
            let inserted = c.execute(
                "INSERT INTO users (id, email, name, role, password_hash, created_at, email_verified)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    created.id,
                    created.email,
                    created.name,
                    created.role.as_str(),
                    password_hash,
                    created.created_at,
                    created.email_verified
                ],
            );
            match inserted {
                Ok(_) => Ok(created),
                Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
                    Err(email_taken(&created.email))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    async fn credentials(&self, email: &str) -> Result<Option<Credentials>, StoreError> {
        let email = email.to_lowercase();
        self.reads
            .run(move |c| {
                let row = c
                    .prepare_cached(&format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = ?1"))?
                    .query_row([email], |r| Ok((user_row(r)?, r.get::<_, String>(8)?)))
                    .optional()?;
                row.map(|(user, password_hash)| Ok(Credentials { user: to_user(user)?, password_hash })).transpose()
            })
            .await
    }

    async fn start_session(&self, session: NewSession) -> Result<(), StoreError> {
        self.write(move |c| {
            let now = now_millis();
            // Sign-ins are rare next to page views, so they also sweep expired sessions.
            c.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
            c.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![session.token_hash, session.user_id, now, session.expires_at],
            )?;
            Ok(())
        })
        .await
    }

    async fn session_user(&self, token_hash: &str, now: Millis) -> Result<Option<User>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.reads
            .run(move |c| {
                let sql = "SELECT u.id, u.email, u.name, u.role, u.created_at, u.email_verified, u.active, u.must_change_password
                     FROM sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.active = 1";
                let row = c.prepare_cached(sql)?.query_row(params![token_hash, now], user_row).optional()?;
                row.map(to_user).transpose()
            })
            .await
    }

    async fn end_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let token_hash = token_hash.to_owned();
        self.write(move |c| {
            c.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
            Ok(())
        })
        .await
    }

    async fn staff(&self) -> Result<Vec<User>, StoreError> {
        self.reads
            .run(|c| {
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE role IN ('kitchen', 'admin') ORDER BY email");
                let mut stmt = c.prepare_cached(&sql)?;
                let rows = stmt.query_map([], user_row)?.collect::<Result<Vec<_>, _>>()?;
                rows.into_iter().map(to_user).collect()
            })
            .await
    }

    async fn remove_staff(&self, id: &str) -> Result<Option<User>, StoreError> {
        let id = id.to_owned();
        self.write(move |c| {
            // Immediate: the count of admins must not change between reading and deleting.
            let tx = Transaction::new_unchecked(c, TransactionBehavior::Immediate)?;
            let Some(user) = staff_member(&tx, &id)? else { return Ok(None) };
            keep_an_admin(&user, active_admins(&tx)?, "removed")?;
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", [&id])?;
            tx.execute("DELETE FROM account_orders WHERE user_id = ?1", [&id])?;
            tx.execute("DELETE FROM users WHERE id = ?1", [&id])?;
            tx.commit()?;
            Ok(Some(user))
        })
        .await
    }

    async fn set_staff_active(&self, id: &str, active: bool) -> Result<Option<User>, StoreError> {
        let id = id.to_owned();
        self.write(move |c| {
            // Immediate, as for removing: the count of active admins must hold until the write.
            let tx = Transaction::new_unchecked(c, TransactionBehavior::Immediate)?;
            let Some(mut user) = staff_member(&tx, &id)? else { return Ok(None) };
            if !active {
                keep_an_admin(&user, active_admins(&tx)?, "deactivated")?;
                tx.execute("DELETE FROM sessions WHERE user_id = ?1", [&id])?;
            }
            tx.execute("UPDATE users SET active = ?2 WHERE id = ?1", params![id, active])?;
            tx.commit()?;
            user.active = active;
            Ok(Some(user))
        })
        .await
    }

    async fn saved_cart(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let user_id = user_id.to_owned();
        self.reads
            .run(move |c| {
                let sql = "SELECT cart FROM saved_carts WHERE user_id = ?1";
                Ok(c.prepare_cached(sql)?.query_row([user_id], |r| r.get(0)).optional()?)
            })
            .await
    }

    async fn save_cart(&self, user_id: &str, cart: &str) -> Result<(), StoreError> {
        let (user_id, cart) = (user_id.to_owned(), cart.to_owned());
        self.write(move |c| {
            if cart.is_empty() {
                c.execute("DELETE FROM saved_carts WHERE user_id = ?1", [user_id])?;
            } else {
                c.execute(
                    "INSERT INTO saved_carts (user_id, cart, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (user_id) DO UPDATE SET cart = excluded.cart, updated_at = excluded.updated_at",
                    params![user_id, cart, now_millis()],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn set_password(&self, id: &str, password_hash: &str, temporary: bool) -> Result<Option<User>, StoreError> {
        let (id, password_hash) = (id.to_owned(), password_hash.to_owned());
        self.write(move |c| {
            let tx = Transaction::new_unchecked(c, TransactionBehavior::Immediate)?;
            let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1");
            let Some(mut user) = tx.query_row(&sql, [&id], user_row).optional()?.map(to_user).transpose()? else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE users SET password_hash = ?2, must_change_password = ?3 WHERE id = ?1",
                params![id, password_hash, temporary],
            )?;
            if temporary {
                tx.execute("DELETE FROM sessions WHERE user_id = ?1", [&id])?;
            }
            tx.commit()?;
            user.must_change_password = temporary;
            Ok(Some(user))
        })
        .await
    }

    async fn record(&self, entry: NewAudit) -> Result<(), StoreError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![now_millis(), entry.actor, entry.action, entry.target, entry.detail],
            )?;
            Ok(())
        })
        .await
    }

    async fn audit_log(&self, before: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.reads
            .run(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT id, at, actor, action, target, detail FROM audit_log
                     WHERE (?1 IS NULL OR id < ?1) ORDER BY id DESC LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![before, limit], |r| {
                    let (id, at, actor, action, target, detail) = r.try_into()?;
                    Ok(AuditEntry { id, at, actor, action, target, detail })
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
    }

    async fn link_order(&self, user_id: &str, order_id: &str) -> Result<(), StoreError> {
        let (user_id, order_id) = (user_id.to_owned(), order_id.to_owned());
        self.write(move |c| {
            c.execute("INSERT OR IGNORE INTO account_orders (user_id, order_id) VALUES (?1, ?2)", [user_id, order_id])?;
            Ok(())
        })
        .await
    }

    async fn account_order_ids(&self, user_id: &str, limit: u32) -> Result<Vec<String>, StoreError> {
        let user_id = user_id.to_owned();
        self.reads
            .run(move |c| {
                // Order ids are UUIDv7: newest sorts last.
                let mut stmt = c.prepare_cached(
                    "SELECT order_id FROM account_orders WHERE user_id = ?1 ORDER BY order_id DESC LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![user_id, limit], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
    }

    async fn links_sent(&self, email: &str, purpose: LinkPurpose, since: Millis) -> Result<u32, StoreError> {
        let email = email.to_lowercase();
        self.reads
            .run(move |c| {
                let sql = "SELECT COUNT(*) FROM email_links WHERE email = ?1 AND purpose = ?2 AND created_at >= ?3";
                Ok(c.prepare_cached(sql)?.query_row(params![email, purpose.as_str(), since], |r| r.get(0))?)
            })
            .await
    }

    async fn send_link(&self, link: NewEmailLink) -> Result<(), StoreError> {
        self.write(move |c| {
            let now = now_millis();
            let tx = c.unchecked_transaction()?;
            // Sending is rare, so it also sweeps links that ran out a day ago.
            tx.execute("DELETE FROM email_links WHERE expires_at < ?1", [now - LINK_SWEEP_AFTER])?;
            tx.execute(
                "INSERT INTO email_links (token_hash, purpose, email, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![link.token_hash, link.purpose.as_str(), link.email.to_lowercase(), now, link.expires_at],
            )?;
            tx.execute(
                "INSERT INTO outbox (id, kind, order_id, payload, created_at, next_attempt_at) VALUES (?1, ?2, '', ?3, ?4, ?4)",
                params![crate::ids::v7().to_string(), EMAIL_LINK_EVENT, link.payload.to_string(), now],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn open_link(&self, opening: LinkOpening<'_>) -> Result<Option<String>, StoreError> {
        let LinkOpening { token_hash, purpose, now } = opening;
        let token_hash = token_hash.to_owned();
        self.write(move |c| {
            let tx = c.unchecked_transaction()?;
            let email: Option<String> = tx
                .query_row(
                    "UPDATE email_links SET used_at = ?3
                     WHERE token_hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3
                     RETURNING email",
                    params![token_hash, purpose.as_str(), now],
                    |r| r.get(0),
                )
                .optional()?;
            if let (Some(email), LinkPurpose::VerifyEmail) = (&email, purpose) {
                tx.execute("UPDATE users SET email_verified = 1 WHERE email = ?1", [email])?;
            }
            tx.commit()?;
            Ok(email)
        })
        .await
    }
}
