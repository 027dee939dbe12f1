//! Accounts in the web layer: argon2id passwords, cookie sessions stored hashed, CSRF
//! tokens on every form, sign-in limits and lockout, the staff guard, and the audit log.

pub mod cookies;
pub mod email_links;
pub mod guard;
pub mod login_limits;
pub mod oidc;
pub mod order_access;
pub mod password;
pub mod visitor;
pub mod visitor_layer;

use cookies::{CookiePolicy, new_token, token_hash};
use login_limits::{LoginLimits, Refusal};
use stampede_domain::Customer;
use stampede_store::clock::now_millis;
use stampede_store::{Accounts, Backoffice, NewAudit, NewSession, NewUser, Role, StoreError, User};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Name of the session cookie (with `__Host-` in front over HTTPS).
pub const SESSION_COOKIE: &str = "session";
/// Who the audit log names for actions taken with the admin API's static token.
pub const API_TOKEN_ACTOR: &str = "api-token";
/// How long a staff session lasts: one working day.
pub const STAFF_SESSION: Duration = Duration::from_secs(12 * 3600);
/// How long a customer stays signed in.
pub const CUSTOMER_SESSION: Duration = Duration::from_secs(30 * 24 * 3600);

/// What accounts need: their store, the back office, cookie marking and sign-in limits.
pub struct Auth {
    pub accounts: Arc<dyn Accounts>,
    /// `None` when the server has none: sign-in, staff, the audit log and order pages work;
    /// order search and product edits answer 501.
    pub backoffice: Option<Arc<dyn Backoffice>>,
    pub cookies: CookiePolicy,
    pub limits: LoginLimits,
    /// Accept OIDC (e.g. Cognito) ID tokens as `Authorization: Bearer`, next to sessions.
    pub oidc: Option<Arc<oidc::OidcVerifier>>,
}

/// Why a sign-in failed.
#[derive(Debug)]
pub enum SignInError {
    /// Not checked: rate limit or lockout.
    Refused(Refusal),
    /// Unknown email or wrong password (deliberately not told apart).
    Wrong {
        /// The lockout this failure started, if it did.
        locked_for: Option<Duration>,
    },
    /// The right password for an account an admin deactivated.
    Deactivated,
    Store(StoreError),
}

/// Why a sign-up failed, per field.
#[derive(Debug)]
pub enum SignUpError {
    Email(String),
    /// The email already has an account.
    EmailTaken(String),
    Name(String),
    Password(String),
    Store(StoreError),
}

impl SignUpError {
    /// The status a refused sign-up form answers with: 409 for a taken email, else 422.
    pub fn status(&self) -> axum::http::StatusCode {
        match self {
            SignUpError::EmailTaken(_) => axum::http::StatusCode::CONFLICT,
            _ => axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl Auth {
    /// Checks an email and password within the sign-in limits.
    pub async fn sign_in(&self, email: &str, password: &str, ip: Option<IpAddr>) -> Result<User, SignInError> {
        let result = self.check_sign_in(email, password, ip).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(SignInError::Wrong { locked_for: None }) => "wrong",
            Err(SignInError::Wrong { locked_for: Some(_) } | SignInError::Refused(Refusal::LockedOut(_))) => "locked",
            Err(SignInError::Refused(Refusal::RateLimited(_))) => "rate_limited",
            Err(SignInError::Deactivated) => "deactivated",
            Err(SignInError::Store(_)) => "error",
        };
        metrics::counter!("stampede_sign_ins_total", "outcome" => outcome).increment(1);
        result
    }

    async fn check_sign_in(&self, email: &str, password: &str, ip: Option<IpAddr>) -> Result<User, SignInError> {
        let email = email.trim().to_lowercase();
        self.limits.admit(ip, &email).map_err(SignInError::Refused)?;
        let found = self.accounts.credentials(&email).await.map_err(SignInError::Store)?;
        let password = password.to_owned();
        let matched = tokio::task::spawn_blocking(move || match found {
            Some(c) => password::verify(&password, &c.password_hash).then_some(c.user),
            None => {
                password::verify_nothing(&password);
                None
            }
        })
        .await
        .map_err(|e| SignInError::Store(StoreError::Backend(format!("password check failed: {e}"))))?;
        match matched {
            // Told only to whoever knows the password, so it reveals nothing to a guesser.
            Some(user) if !user.active => Err(SignInError::Deactivated),
            Some(user) => {
                self.limits.succeeded(&email, ip);
                Ok(user)
            }
            None => Err(SignInError::Wrong { locked_for: self.limits.failed(&email, ip) }),
        }
    }

    /// Starts a session for `user`; returns the `Set-Cookie` value. A new token every time,
    /// so a session id planted before sign-in is worthless after it.
    pub async fn open_session(&self, user: &User) -> Result<String, StoreError> {
        let token = new_token();
        let ttl = if user.role.is_staff() { STAFF_SESSION } else { CUSTOMER_SESSION };
        let expires_at = now_millis() + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
        let session = NewSession { token_hash: token_hash(&token), user_id: user.id.clone(), expires_at };
        self.accounts.start_session(session).await?;
        Ok(self.cookies.set(SESSION_COOKIE, &token, Some(ttl.as_secs())))
    }

    /// Ends the request's session, if any; returns the `Set-Cookie` value that clears it.
    pub async fn close_session(&self, headers: &axum::http::HeaderMap) -> Result<String, StoreError> {
        if let Some(token) = self.cookies.read(headers, SESSION_COOKIE) {
            self.accounts.end_session(&token_hash(token)).await?;
        }
        Ok(self.cookies.clear(SESSION_COOKIE))
    }

    /// The signed-in user of the request: a current session cookie, else a valid OIDC
    /// bearer token when OIDC is configured.
    pub async fn session_user(&self, headers: &axum::http::HeaderMap) -> Result<Option<User>, StoreError> {
        match self.cookie_user(headers).await? {
            Some(user) => Ok(Some(user)),
            None => Ok(self.bearer_user(headers)),
        }
    }

    /// The user of the request's session cookie, if it is current.
    pub async fn cookie_user(&self, headers: &axum::http::HeaderMap) -> Result<Option<User>, StoreError> {
        match self.cookies.read(headers, SESSION_COOKIE) {
            Some(token) if token.len() == 64 => self.accounts.session_user(&token_hash(token), now_millis()).await,
            _ => Ok(None),
        }
    }

    /// The user of a valid OIDC bearer token, if OIDC is on and the request carries one.
    pub fn bearer_user(&self, headers: &axum::http::HeaderMap) -> Option<User> {
        let verifier = self.oidc.as_ref()?;
        let token = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))?;
        // Only JWTs go to the verifier; the admin API's static token is not one.
        if token.split('.').count() != 3 {
            return None;
        }
        verifier.verify(token).map_err(|e| tracing::info!(error = %e, "OIDC token refused")).ok()
    }

    /// Creates an account after checking each field.
    pub async fn sign_up(
        &self,
        email: &str,
        name: Option<&str>,
        password: &str,
        role: Role,
    ) -> Result<User, SignUpError> {
        register(self.accounts.as_ref(), email, name, password, role).await
    }

    /// Writes a staff action to the audit log. The action has already happened, so a
    /// failure to record it is logged loudly rather than reported to the person.
    pub async fn audit(&self, actor: &User, action: &str, target: &str, detail: impl Into<String>) {
        self.audit_as(&actor.email, action, target, detail).await;
    }

    /// [`Auth::audit`] for an actor without an account (the admin API's token).
    pub async fn audit_as(&self, actor: &str, action: &str, target: &str, detail: impl Into<String>) {
        let entry = NewAudit {
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
            detail: detail.into(),
        };
        if let Err(e) = self.accounts.record(entry).await {
            tracing::error!(error = %e, actor, action, target, "could not write the audit log");
        }
    }
}

/// Creates an account in `accounts` after checking each field; the password is hashed
/// with argon2id on the blocking pool.
pub async fn register(
    accounts: &dyn Accounts,
    email: &str,
    name: Option<&str>,
    password: &str,
    role: Role,
) -> Result<User, SignUpError> {
    let customer = Customer::with_email(email, name).map_err(|e| {
        if e.field.ends_with("name") {
            SignUpError::Name(format!("Name {}.", e.message))
        } else {
            SignUpError::Email("Enter an email address like name@example.com.".into())
        }
    })?;
    if let Some(weak) = password::weakness(password) {
        return Err(SignUpError::Password(weak));
    }
    let password_hash = hash_password(password).await.map_err(SignUpError::Store)?;
    // Staff accounts come from an admin, who vouches for the address; a customer proves it
    // by opening the link the shop emails.
    let email_verified = role.is_staff();
    let user =
        NewUser { email: customer.email.unwrap_or_default(), name: customer.name, role, password_hash, email_verified };
    accounts.create_user(user).await.map_err(|e| match e {
        StoreError::Conflict(_) => {
            SignUpError::EmailTaken("That email already has an account. Sign in instead.".into())
        }
        other => SignUpError::Store(other),
    })
}

/// Hashes a password that passed [`password::weakness`] with argon2id, on the blocking pool.
pub async fn hash_password(password: &str) -> Result<String, StoreError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
        .map_err(StoreError::Backend)
}

/// Whether the request carries `Authorization: Bearer <expected>`, compared in constant time.
pub fn bearer_matches(headers: &axum::http::HeaderMap, expected: &str) -> bool {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| cookies::same(given, expected))
}
