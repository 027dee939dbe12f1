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
    /// Appends to the audit log.
    async fn record(&self, entry: NewAudit) -> Result<(), StoreError>;
    /// The audit log, newest first; `before` is the id of the last entry of the previous page.
    async fn audit_log(&self, before: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
}
