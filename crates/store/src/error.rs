//! The storage layer's one error type.

use stampede_domain::{OrderRejection, OrderStatus};
use std::time::Duration;
use thiserror::Error;

/// Why a storage operation did not happen. Nothing was written in any of these cases.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The shop's rules refused the order.
    #[error(transparent)]
    Rejected(#[from] OrderRejection),
    #[error("{what} `{id}` does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("idempotency key `{0}` was already used for a different request")]
    IdempotencyMismatch(String),
    #[error("order `{id}` is {status} and can no longer be cancelled")]
    NotCancellable { id: String, status: OrderStatus },
    #[error("order `{id}` is {from} and cannot become {to}")]
    InvalidTransition { id: String, from: OrderStatus, to: OrderStatus },
    #[error("{0}")]
    Conflict(String),
    /// Admission control: the order queue is full or the wait would be too long.
    #[error("the shop is busy; try again in {} s", retry_after.as_secs().max(1))]
    Busy { retry_after: Duration },
    /// The engine failed; the operation did not take effect.
    #[error("storage failure: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Backend(format!("stored JSON: {e}"))
    }
}
