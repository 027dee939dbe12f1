//! What a PostgreSQL error means for the caller: `Busy` when the server is away, a readable
//! message otherwise, and which errors are worth running the transaction again for.

use crate::StoreError;
use std::time::Duration;
use tokio_postgres::error::SqlState;

/// A database error as a person can read it: the server's own message where there is one
/// (tokio-postgres' `Display` says only "db error"). A lost connection or a server shutting
/// down or starting up is `Busy` (503 + Retry-After): the pool replaces the connection, so
/// the client's retry can succeed once the server is back (a lost `COMMIT` may still have
/// committed; a retry with the same idempotency key then gets that order back).
pub(crate) fn pg_error(e: tokio_postgres::Error) -> StoreError {
    let unavailable = match e.code() {
        // Class 57P: operator intervention (admin or crash shutdown, cannot connect now).
        Some(code) => code.code().starts_with("57P"),
        None => e.is_closed() || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()),
    };
    if unavailable {
        tracing::warn!(error = %e, "PostgreSQL unavailable");
        return StoreError::Busy { retry_after: Duration::from_secs(1) };
    }
    match e.as_db_error() {
        Some(db) => StoreError::Backend(format!("PostgreSQL: {}", db.message())),
        None => StoreError::Backend(format!("PostgreSQL: {e}")),
    }
}

/// Errors after which the same transaction, begun again, may well succeed.
pub(crate) fn retryable(e: &tokio_postgres::Error) -> bool {
    matches!(e.code(), Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE)
}
