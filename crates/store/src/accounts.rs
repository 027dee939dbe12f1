//! People who sign in: customers and staff, their sessions, and the audit log of staff actions.
//! Kept apart from [`crate::Store`] so an order store (SQLite, DynamoDB) and an accounts
//! store can be chosen independently.

use crate::StoreError;
use async_trait::async_trait;
use stampede_domain::Millis;

/// What a signed-in person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Buys things; sees their own orders.
    Customer,
    /// Staff who see and advance orders, nothing else.
    Kitchen,
    /// Staff who run the whole shop.
    Admin,
}

impl Role {
    /// Every role, least powerful first.
    pub const ALL: [Role; 3] = [Role::Customer, Role::Kitchen, Role::Admin];

    /// The stored and command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Kitchen => "kitchen",
            Role::Admin => "admin",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role works in the back office.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::Kitchen | Role::Admin)
    }
}

/// A person with an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    /// Lower-cased, as orders key customers.
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub created_at: Millis,
    /// The owner opened a link sent to `email`. Until then a customer account sees only the
    /// orders placed while signed in to it, not guest orders under its email.
    pub email_verified: bool,
    /// Whether the account may sign in. Admins deactivate staff accounts instead of removing
    /// them when they may come back; a deactivated account's sessions end.
    pub active: bool,
    /// An admin set a temporary password: the owner must choose a new one before anything else.
    pub must_change_password: bool,
}

/// A user with the stored password hash, for checking a sign-in.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    /// PHC string (argon2id).
    pub password_hash: String,
}

/// An account to create; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub password_hash: String,
    /// Whoever creates the account vouches for the address (an admin, an identity provider);
    /// a customer's own sign-up is verified later, by a link.
    pub email_verified: bool,
}

impl NewUser {
    /// The account as every store creates it (a new UUIDv7, the email lower-cased, active,
    /// with no password change pending), and the password hash to store beside it.
    pub(crate) fn into_user(self) -> (User, String) {
        let user = User {
            id: crate::ids::v7().to_string(),
            email: self.email.to_lowercase(),
            name: self.name,
            role: self.role,
            created_at: crate::clock::now_millis(),
            email_verified: self.email_verified,
            active: true,
            must_change_password: false,
        };
        (user, self.password_hash)
    }
}

/// The refusal of a second account for `email` (emails are unique, lower-cased).
pub(crate) fn email_taken(email: &str) -> StoreError {
    StoreError::Conflict(format!("an account for {email} already exists"))
}

/// A session to remember: only a hash of its token is stored, so a copy of the database
/// cannot be used to sign in.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub user_id: String,
    pub expires_at: Millis,
}

/// A staff action to write to the audit log.
#[derive(Debug, Clone)]
pub struct NewAudit {
    /// Who did it: the staff member's email (or `api-token` for the bearer-token API).
    pub actor: String,
    /// What kind of action, e.g. `product.update`, `stock.adjust`, `order.status`.
    pub action: String,
    /// What it was done to, e.g. a product or order id.
    pub target: String,
    /// The particulars, for a person: "stock 40 → 50: delivery from supplier".
    pub detail: String,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// Event type of an email carrying a one-time link (not about an order; mail channels only).
pub const EMAIL_LINK_EVENT: &str = "customer.link";

/// What a one-time emailed link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPurpose {
    /// Shows a guest the orders placed under their email.
    OrderLookup,
    /// Confirms an account's email, so guest orders under it join the account.
    VerifyEmail,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::OrderLookup => "order_lookup",
            LinkPurpose::VerifyEmail => "verify_email",
        }
    }
}

/// A one-time link to store and email in one transaction: the row and its outbox event.
#[derive(Debug, Clone)]
pub struct NewEmailLink {
    /// SHA-256 of the token; the token itself is only in the email.
    pub token_hash: String,
    pub purpose: LinkPurpose,
    /// Lower-cased recipient.
    pub email: String,
    pub expires_at: Millis,
    /// The outbox event's payload (`to`, `purpose`, `url`, ...), for the mail channels.
    pub payload: serde_json::Value,
}

/// Someone following a one-time link: the hash of the token the link carried, what it is
/// being used for (a link opens only for the purpose it was sent for), and when (a link
/// opens only before it runs out). What every store checks the stored link against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkOpening<'a> {
    /// SHA-256 of the token, as [`NewEmailLink::token_hash`].
    pub token_hash: &'a str,
    pub purpose: LinkPurpose,
    pub now: Millis,
}

/// Accounts, sessions and the audit log.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Creates an account; `Conflict` if the email already has one.
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError>;
    /// The account with this (lower-cased) email and its password hash.
    async fn credentials(&self, email: &str) -> Result<Option<Credentials>, StoreError>;
    /// Remembers a signed-in session.
    async fn start_session(&self, session: NewSession) -> Result<(), StoreError>;
    /// The user of an unexpired session.
    async fn session_user(&self, token_hash: &str, now: Millis) -> Result<Option<User>, StoreError>;
    /// Forgets a session (sign-out); forgetting an unknown one is not an error.
    async fn end_session(&self, token_hash: &str) -> Result<(), StoreError>;
    /// Every staff account (kitchen and admin), by email.
    async fn staff(&self) -> Result<Vec<User>, StoreError>;
    /// Removes the staff account with this id and ends its sessions, in one transaction;
    /// `None` if there is no such staff account, `Conflict` if it is the last admin.
    async fn remove_staff(&self, id: &str) -> Result<Option<User>, StoreError>;
    /// Deactivates (ending its sessions) or reactivates a staff account; `None` if no such
    /// staff account. `Conflict` for the last active admin.
    async fn set_staff_active(&self, id: &str, active: bool) -> Result<Option<User>, StoreError>;
    /// The cart saved on a customer's account (the cart cookie's format), if any.
    async fn saved_cart(&self, user_id: &str) -> Result<Option<String>, StoreError>;
    /// Saves a customer's cart; an empty one is forgotten.
    async fn save_cart(&self, user_id: &str, cart: &str) -> Result<(), StoreError>;
    /// Sets an account's password hash. `temporary`: an admin's reset, so the account's
    /// sessions end and its owner must choose a new password at the next sign-in; otherwise
    /// the owner chose it, which lifts that requirement. `None` if no such account.
    async fn set_password(&self, id: &str, password_hash: &str, temporary: bool) -> Result<Option<User>, StoreError>;
    /// Appends to the audit log.
    async fn record(&self, entry: NewAudit) -> Result<(), StoreError>;
    /// The audit log, newest first; `before` is the id of the last entry of the previous page.
    async fn audit_log(&self, before: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
    /// Remembers that `user_id` placed `order_id` while signed in.
    async fn link_order(&self, user_id: &str, order_id: &str) -> Result<(), StoreError>;
    /// Orders placed while signed in to `user_id`, newest first.
    async fn account_order_ids(&self, user_id: &str, limit: u32) -> Result<Vec<String>, StoreError>;
    /// Links sent to `email` for `purpose` since `since`, for the sending limit.
    async fn links_sent(&self, email: &str, purpose: LinkPurpose, since: Millis) -> Result<u32, StoreError>;
    /// Stores a one-time link and queues its email, atomically.
    async fn send_link(&self, link: NewEmailLink) -> Result<(), StoreError>;
    /// Uses up an unexpired, unused link; its email, or `None` if there is no such link.
    /// Opening a `VerifyEmail` link also marks that email's account as verified.
    async fn open_link(&self, opening: LinkOpening<'_>) -> Result<Option<String>, StoreError>;
}

/// The columns a [`User`] is read from, in [`UserRow`] order; the same on every engine.
pub(crate) const USER_COLUMNS: &str = "id, email, name, role, created_at, email_verified, active, must_change_password";

/// A user as its row holds it: id, email, name, role, created_at, email_verified, active,
/// must_change_password.
pub(crate) type UserRow = (String, String, Option<String>, String, Millis, bool, bool, bool);

/// A stored user row as a [`User`]; an unknown role means a broken row.
pub(crate) fn to_user(
    (id, email, name, role, created_at, email_verified, active, must_change_password): UserRow,
) -> Result<User, StoreError> {
    let role = Role::parse(&role).ok_or_else(|| StoreError::Backend(format!("stored role `{role}` is invalid")))?;
    Ok(User { id, email, name, role, created_at, email_verified, active, must_change_password })
}

/// Refuses to take away the shop's last active admin (by removing or deactivating `user`),
/// given how many active admins there are now.
pub(crate) fn keep_an_admin(user: &User, active_admins: i64, what: &str) -> Result<(), StoreError> {
    if user.role == Role::Admin && user.active && active_admins <= 1 {
        return Err(StoreError::Conflict(format!("the last active admin cannot be {what}")));
    }
    Ok(())
}

/// Links that ran out this long ago are swept when another is sent.
pub(crate) const LINK_SWEEP_AFTER: Millis = 24 * 3_600 * 1_000;
