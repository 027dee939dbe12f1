//! Accounts, sessions, the audit log, emailed links and saved carts on the DynamoDB table
//! (key layout in `keys.rs`, docs/aws.md), so a session begun on one instance is good on
//! every other. A session is valid while its account's `session_epoch` is the one it was
//! started under: ending every session of an account is one attribute bump, in the same
//! write as the change that ends them. The last-admin rule is shared with SQLite and
//! PostgreSQL (`crate::accounts`); here it is kept by a count of active admins that every
//! change taking one away decrements under the condition that one stays.

use super::item::{get_n, get_s, n, opt_n, opt_s, s};
use super::keys::{self, Item, STAFF};
use super::op_counts::Op;
use super::writes::{put, update, wrap};
use super::{DynamoStore, error};
use crate::accounts::{LINK_SWEEP_AFTER, keep_an_admin};
use crate::clock::now_millis;
use crate::{
    Accounts, AuditEntry, Credentials, EMAIL_LINK_EVENT, LinkOpening, LinkPurpose, NewAudit, NewEmailLink, NewSession,
    NewUser, Role, StoreError, User,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select, TransactWriteItem};
use stampede_domain::Millis;
use std::time::Duration;

/// Transactions one staff change may send when others touch the admin count at once.
const ATTEMPTS: u32 = 8;

fn b(v: bool) -> AttributeValue {
    AttributeValue::Bool(v)
}

fn get_b(item: &Item, name: &str) -> bool {
    item.get(name).and_then(|v| v.as_bool().ok()).copied().unwrap_or(false)
}

/// The profile item of `user`, with its password hash (and the staff index keys for staff).
pub(super) fn user_item(user: &User, password_hash: &str) -> Item {
    let mut item = keys::user(&user.id);
    item.insert("id".into(), s(&user.id));
    item.insert("email".into(), s(&user.email));
    if let Some(name) = &user.name {
        item.insert("name".into(), s(name));
    }
    item.insert("role".into(), s(user.role.as_str()));
    item.insert("password_hash".into(), s(password_hash));
    item.insert("created_at".into(), n(user.created_at));
    item.insert("email_verified".into(), b(user.email_verified));
    item.insert("active".into(), b(user.active));
    item.insert("must_change_password".into(), b(user.must_change_password));
    item.insert("session_epoch".into(), n(0));
    if user.role.is_staff() {
        item.insert("gsi3pk".into(), s(STAFF));
        item.insert("gsi3sk".into(), s(&user.email));
    }
    item
}

/// The item that reserves `email` for the account `user_id`.
pub(super) fn email_item(email: &str, user_id: &str) -> Item {
    let mut item = keys::email(email);
    item.insert("user_id".into(), s(user_id));
    item
}

/// A profile item read back, with its password hash.
pub(super) fn user_from(item: &Item) -> Result<Credentials, StoreError> {
    let role = get_s(item, "role")?;
    let role = Role::parse(role).ok_or_else(|| StoreError::Backend(format!("stored role `{role}` is invalid")))?;
    let user = User {
        id: get_s(item, "id")?.to_owned(),
        email: get_s(item, "email")?.to_owned(),
        name: opt_s(item, "name").map(str::to_owned),
        role,
        created_at: get_n(item, "created_at")?,
        email_verified: get_b(item, "email_verified"),
        active: get_b(item, "active"),
        must_change_password: get_b(item, "must_change_password"),
    };
    Ok(Credentials { user, password_hash: get_s(item, "password_hash")?.to_owned() })
}

/// Adds `delta` to the active-admin count; taking one away requires one to stay.
fn admins_by(store: &DynamoStore, delta: i64) -> Result<TransactWriteItem, StoreError> {
    let mut change = update(store, keys::active_admins())
        .update_expression("SET n = if_not_exists(n, :zero) + :delta")
        .expression_attribute_values(":zero", n(0))
        .expression_attribute_values(":delta", n(delta));
    if delta < 0 {
        change = change.condition_expression("n > :one").expression_attribute_values(":one", n(1));
    }
    wrap(change)
}

/// Whether `e` cancelled a transaction because of its `index`th write's condition.
fn failed_at<R>(
    e: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        R,
    >,
    index: usize,
) -> bool {
    error::cancellation_reasons(e)
        .is_some_and(|r| r.get(index).and_then(Option::as_deref) == Some("ConditionalCheckFailed"))
}

/// Whether `e` cancelled a transaction at all (a condition, or another transaction on an item).
fn cancelled<R>(
    e: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        R,
    >,
) -> bool {
    error::cancellation_reasons(e).is_some()
}

async fn transact(
    store: &DynamoStore,
    writes: Vec<TransactWriteItem>,
) -> Result<
    (),
    aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
> {
    store.count(Op::Transaction);
    store.client.transact_write_items().set_transact_items(Some(writes)).send().await.map(drop)
}

/// The account `id`, read consistently.
async fn user_by_id(store: &DynamoStore, id: &str) -> Result<Option<(Credentials, u64)>, StoreError> {
    let Some(item) = store.get(keys::user(id)).await? else { return Ok(None) };
    Ok(Some((user_from(&item)?, opt_n(&item, "session_epoch")?.unwrap_or(0))))
}

/// A staff member's removal or deactivation (`removing`), retried while other staff changes
/// race for the same items; `None` if `id` is no staff account.
async fn take_staff_away(store: &DynamoStore, id: &str, removing: bool) -> Result<Option<User>, StoreError> {
    let what = if removing { "removed" } else { "deactivated" };
    for attempt in 0..ATTEMPTS {
        let Some((Credentials { mut user, .. }, _)) = user_by_id(store, id).await? else { return Ok(None) };
        if !user.role.is_staff() {
            return Ok(None);
        }
        let was_active_admin = user.role == Role::Admin && user.active;
        // The item must be as read: active (or not) and staff, so the count stays right.
        let condition = "attribute_exists(pk) AND active = :was";
        let mut writes = Vec::new();
        if removing {
            let delete = aws_sdk_dynamodb::types::Delete::builder()
                .table_name(store.table())
                .set_key(Some(keys::user(id)))
                .condition_expression(condition)
                .expression_attribute_values(":was", b(user.active))
                .build()
                .map_err(error::build)?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
            writes.push(super::writes::delete(store, keys::email(&user.email))?);
        } else {
            writes.push(wrap(
                update(store, keys::user(id))
                    .update_expression("SET active = :no ADD session_epoch :one")
                    .condition_expression(condition)
                    .expression_attribute_values(":was", b(user.active))
                    .expression_attribute_values(":no", b(false))
                    .expression_attribute_values(":one", n(1)),
            )?);
        }
        let count_at = writes.len();
        if was_active_admin {
            writes.push(admins_by(store, -1)?);
        }
        match transact(store, writes).await {
            Ok(()) => {
                if removing {
                    forget_partition(store, id).await?;
                }
                user.active = if removing { user.active } else { false };
                return Ok(Some(user));
            }
            Err(e) if was_active_admin && failed_at(&e, count_at) => {
                // The count said this is the last one: the shared rule words the refusal.
                keep_an_admin(&user, 1, what)?;
            }
            Err(e) if cancelled(&e) => {
                tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt + 1))).await;
            }
            Err(e) => return Err(store.sdk(e)),
        }
    }
    Err(StoreError::Busy { retry_after: store.config.retry_after })
}

/// Deletes what is left in a removed account's partition (its cart and order links): nothing
/// can reach them once the profile is gone, so this need not be atomic with the removal.
async fn forget_partition(store: &DynamoStore, id: &str) -> Result<(), StoreError> {
    let query = store
        .client
        .query()
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s(keys::user_partition(id)))
        .projection_expression("pk, sk")
        .consistent_read(true);
    for page in store.query_pages(query, |_| false).await? {
        for key in page.items.unwrap_or_default() {
            store.count(Op::Write);
            let out = store.client.delete_item().table_name(store.table()).set_key(Some(key)).send().await;
            out.map_err(|e| store.sdk(e))?;
        }
    }
    Ok(())
}

/// Re-activates an inactive staff account (counting it back in if it is an admin).
async fn reactivate(store: &DynamoStore, id: &str) -> Result<Option<User>, StoreError> {
    for attempt in 0..ATTEMPTS {
        let Some((Credentials { mut user, .. }, _)) = user_by_id(store, id).await? else { return Ok(None) };
        if !user.role.is_staff() {
            return Ok(None);
        }
        if user.active {
            return Ok(Some(user));
        }
        let mut writes = vec![wrap(
            update(store, keys::user(id))
                .update_expression("SET active = :yes")
                .condition_expression("attribute_exists(pk) AND active = :no")
                .expression_attribute_values(":yes", b(true))
                .expression_attribute_values(":no", b(false)),
        )?];
        if user.role == Role::Admin {
            writes.push(admins_by(store, 1)?);
        }
        match transact(store, writes).await {
            Ok(()) => {
                user.active = true;
                return Ok(Some(user));
            }
            Err(e) if cancelled(&e) => {
                tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt + 1))).await;
            }
            Err(e) => return Err(store.sdk(e)),
        }
    }
    Err(StoreError::Busy { retry_after: store.config.retry_after })
}

/// TTL seconds for an item that may go `after` past `at` (milliseconds).
fn ttl(at: Millis, after: Millis) -> AttributeValue {
    n(at.saturating_add(after).max(0) / 1_000)
}

#[async_trait]
impl Accounts for DynamoStore {
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        let (created, password_hash) = user.into_user();
        let mut writes = vec![
            put(self, email_item(&created.email, &created.id), Some("attribute_not_exists(pk)"))?,
            put(self, user_item(&created, &password_hash), None)?,
        ];
        if created.role == Role::Admin {
            writes.push(admins_by(self, 1)?);
        }
        match transact(self, writes).await {
            Ok(()) => Ok(created),
            Err(e) if failed_at(&e, 0) => {
                Err(StoreError::Conflict(format!("an account for {} already exists", created.email)))
            }
            Err(e) => Err(self.sdk(e)),
        }
    }

    async fn credentials(&self, email: &str) -> Result<Option<Credentials>, StoreError> {
        let Some(pointer) = self.get(keys::email(&email.to_lowercase())).await? else { return Ok(None) };
        Ok(user_by_id(self, get_s(&pointer, "user_id")?).await?.map(|(c, _)| c))
    }

    async fn start_session(&self, session: NewSession) -> Result<(), StoreError> {
        let Some((_, epoch)) = user_by_id(self, &session.user_id).await? else {
            return Err(StoreError::NotFound { what: "user", id: session.user_id });
        };
        let mut item = keys::session(&session.token_hash);
        item.insert("user_id".into(), s(&session.user_id));
        item.insert("session_epoch".into(), n(epoch));
        item.insert("created_at".into(), n(now_millis()));
        item.insert("expires_at_ms".into(), n(session.expires_at));
        // DynamoDB sweeps sessions a day after they end, as sign-ins sweep SQLite's.
        item.insert(keys::EXPIRES_AT.into(), ttl(session.expires_at, LINK_SWEEP_AFTER));
        self.count(Op::Write);
        let out = self.client.put_item().table_name(self.table()).set_item(Some(item)).send().await;
        out.map_err(|e| self.sdk(e)).map(drop)
    }

    async fn session_user(&self, token_hash: &str, now: Millis) -> Result<Option<User>, StoreError> {
        let Some(session) = self.get(keys::session(token_hash)).await? else { return Ok(None) };
        if get_n::<Millis>(&session, "expires_at_ms")? <= now {
            return Ok(None);
        }
        let Some((credentials, epoch)) = user_by_id(self, get_s(&session, "user_id")?).await? else {
            return Ok(None);
        };
        let current = get_n::<u64>(&session, "session_epoch")? == epoch;
        Ok((current && credentials.user.active).then_some(credentials.user))
    }

    async fn end_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.count(Op::Write);
        let out = self.client.delete_item().table_name(self.table()).set_key(Some(keys::session(token_hash))).send();
        out.await.map_err(|e| self.sdk(e)).map(drop)
    }

    async fn staff(&self) -> Result<Vec<User>, StoreError> {
        // The index names the staff (it may lag a write by a moment); their profiles are then
        // read consistently, so a removal or deactivation shows at once.
        let listed = super::outbox::query(self, STAFF, None).await?;
        let keys = listed.iter().map(|item| get_s(item, "id").map(keys::user)).collect::<Result<Vec<_>, _>>()?;
        let mut staff = Vec::new();
        for item in self.get_many(keys, true).await? {
            let user = user_from(&item)?.user;
            if user.role.is_staff() {
                staff.push(user);
            }
        }
        staff.sort_by(|a, b| a.email.as_bytes().cmp(b.email.as_bytes()));
        Ok(staff)
    }

    async fn remove_staff(&self, id: &str) -> Result<Option<User>, StoreError> {
        take_staff_away(self, id, true).await
    }

    async fn set_staff_active(&self, id: &str, active: bool) -> Result<Option<User>, StoreError> {
        match active {
            true => reactivate(self, id).await,
            false => take_staff_away(self, id, false).await,
        }
    }

    async fn saved_cart(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let item = self.get(keys::saved_cart(user_id)).await?;
        Ok(item.as_ref().and_then(|i| opt_s(i, "cart")).map(str::to_owned))
    }

    async fn save_cart(&self, user_id: &str, cart: &str) -> Result<(), StoreError> {
        self.count(Op::Write);
        if cart.is_empty() {
            let out = self.client.delete_item().table_name(self.table()).set_key(Some(keys::saved_cart(user_id)));
            return out.send().await.map_err(|e| self.sdk(e)).map(drop);
        }
        let mut item = keys::saved_cart(user_id);
        item.insert("cart".into(), s(cart));
        item.insert("updated_at".into(), n(now_millis()));
        let out = self.client.put_item().table_name(self.table()).set_item(Some(item)).send().await;
        out.map_err(|e| self.sdk(e)).map(drop)
    }

    async fn set_password(&self, id: &str, password_hash: &str, temporary: bool) -> Result<Option<User>, StoreError> {
        let expression = match temporary {
            true => "SET password_hash = :hash, must_change_password = :temporary ADD session_epoch :one",
            false => "SET password_hash = :hash, must_change_password = :temporary",
        };
        let mut request = self
            .update_item(keys::user(id))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":hash", s(password_hash))
            .expression_attribute_values(":temporary", b(temporary))
            .return_values(ReturnValue::AllNew);
        if temporary {
            request = request.expression_attribute_values(":one", n(1));
        }
        match request.send().await {
            Ok(out) => Ok(Some(user_from(&out.attributes.unwrap_or_default())?.user)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(None),
            Err(e) => Err(self.sdk(e)),
        }
    }

    async fn record(&self, entry: NewAudit) -> Result<(), StoreError> {
        // Ids come from a counter, so the log pages by id as on the SQL stores.
        let next = self
            .update_item(keys::audit_sequence())
            .update_expression("ADD n :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| self.sdk(e))?;
        let id: i64 = get_n(&next.attributes.unwrap_or_default(), "n")?;
        let item = audit_item(id, now_millis(), &entry.actor, &entry.action, &entry.target, &entry.detail);
        self.count(Op::Write);
        let out = self.client.put_item().table_name(self.table()).set_item(Some(item)).send().await;
        out.map_err(|e| self.sdk(e)).map(drop)
    }

    async fn audit_log(&self, before: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut query = self
            .client
            .query()
            .expression_attribute_values(":p", s(keys::AUDIT))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX));
        query = match before {
            Some(before) => query
                .key_condition_expression("pk = :p AND sk < :before")
                .expression_attribute_values(":before", s(keys::audit_sk(before))),
            None => query.key_condition_expression("pk = :p"),
        };
        let mut entries = Vec::new();
        for page in self.query_pages(query, |_| true).await? {
            for item in page.items() {
                entries.push(audit_from(item)?);
            }
        }
        Ok(entries)
    }

    async fn link_order(&self, user_id: &str, order_id: &str) -> Result<(), StoreError> {
        self.count(Op::Write);
        let out =
            self.client.put_item().table_name(self.table()).set_item(Some(keys::account_order(user_id, order_id)));
        out.send().await.map_err(|e| self.sdk(e)).map(drop)
    }

    async fn account_order_ids(&self, user_id: &str, limit: u32) -> Result<Vec<String>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Order ids are UUIDv7: newest sorts last.
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :p AND begins_with(sk, :prefix)")
            .expression_attribute_values(":p", s(keys::user_partition(user_id)))
            .expression_attribute_values(":prefix", s(keys::ACCOUNT_ORDER_PREFIX))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX));
        let mut ids = Vec::new();
        for page in self.query_pages(query, |_| true).await? {
            for item in page.items() {
                ids.push(get_s(item, keys::SK)?.trim_start_matches(keys::ACCOUNT_ORDER_PREFIX).to_owned());
            }
        }
        Ok(ids)
    }

    async fn links_sent(&self, email: &str, purpose: LinkPurpose, since: Millis) -> Result<u32, StoreError> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :p AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":p", s(keys::links_sent_partition(&email.to_lowercase())))
            .expression_attribute_values(":from", s(keys::links_sent_from(purpose.as_str(), since)))
            .expression_attribute_values(":to", s(format!("{}#~", purpose.as_str())))
            .select(Select::Count)
            .consistent_read(true);
        let pages = self.query_pages(query, |_| false).await?;
        let count: i64 = pages.iter().map(|p| i64::from(p.count())).sum();
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn send_link(&self, link: NewEmailLink) -> Result<(), StoreError> {
        let now = now_millis();
        let email = link.email.to_lowercase();
        let purpose = link.purpose.as_str();
        // DynamoDB's TTL sweeps links a day after they run out, as sending sweeps SQLite's.
        let mut token = keys::email_link(&link.token_hash);
        token.insert("purpose".into(), s(purpose));
        token.insert("email".into(), s(&email));
        token.insert("created_at".into(), n(now));
        token.insert("expires_at_ms".into(), n(link.expires_at));
        token.insert(keys::EXPIRES_AT.into(), ttl(link.expires_at, LINK_SWEEP_AFTER));
        let mut sent = keys::link_sent(&email, purpose, now, &link.token_hash);
        sent.insert(keys::EXPIRES_AT.into(), ttl(link.expires_at, LINK_SWEEP_AFTER));
        let id = crate::ids::v7().to_string();
        let event = super::item::event_item(&id, EMAIL_LINK_EVENT, "", &link.payload, now);
        let writes =
            vec![put(self, token, Some("attribute_not_exists(pk)"))?, put(self, sent, None)?, put(self, event, None)?];
        transact(self, writes).await.map_err(|e| self.sdk(e))?;
        self.tick_outbox();
        Ok(())
    }

    async fn open_link(&self, opening: LinkOpening<'_>) -> Result<Option<String>, StoreError> {
        let LinkOpening { token_hash, purpose, now } = opening;
        let Some(link) = self.get(keys::email_link(token_hash)).await? else { return Ok(None) };
        let email = get_s(&link, "email")?.to_owned();
        // The condition makes a link usable once, however many instances try.
        let use_up = update(self, keys::email_link(token_hash))
            .update_expression("SET used_at = :now")
            .condition_expression("purpose = :purpose AND attribute_not_exists(used_at) AND expires_at_ms > :now")
            .expression_attribute_values(":purpose", s(purpose.as_str()))
            .expression_attribute_values(":now", n(now));
        let mut writes = vec![wrap(use_up)?];
        if purpose == LinkPurpose::VerifyEmail
            && let Some(pointer) = self.get(keys::email(&email)).await?
        {
            let verify = update(self, keys::user(get_s(&pointer, "user_id")?))
                .update_expression("SET email_verified = :yes")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":yes", b(true));
            writes.push(wrap(verify)?);
        }
        match transact(self, writes).await {
            Ok(()) => Ok(Some(email)),
            Err(e) if failed_at(&e, 0) => Ok(None),
            Err(e) => Err(self.sdk(e)),
        }
    }
}

/// One audit entry's item.
pub(super) fn audit_item(id: i64, at: Millis, actor: &str, action: &str, target: &str, detail: &str) -> Item {
    let mut item = keys::audit(id);
    item.insert("id".into(), n(id));
    item.insert("at".into(), n(at));
    item.insert("actor".into(), s(actor));
    item.insert("action".into(), s(action));
    item.insert("target".into(), s(target));
    item.insert("detail".into(), s(detail));
    item
}

/// An audit entry read back.
pub(super) fn audit_from(item: &Item) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: get_n(item, "id")?,
        at: get_n(item, "at")?,
        actor: get_s(item, "actor")?.to_owned(),
        action: get_s(item, "action")?.to_owned(),
        target: get_s(item, "target")?.to_owned(),
        detail: get_s(item, "detail")?.to_owned(),
    })
}
