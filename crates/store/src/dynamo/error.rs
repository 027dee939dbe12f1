//! DynamoDB failures as the store's one error type.

use crate::StoreError;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::time::Duration;

/// Error codes that mean "slow down", not "broken": answered 503 + Retry-After like a full queue.
const THROTTLED: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
];

/// Maps an SDK failure: throttling becomes `Busy`, the rest `Backend` with the full context.
pub fn sdk<E, R>(e: SdkError<E, R>, retry_after: Duration) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if e.code().is_some_and(|c| THROTTLED.contains(&c)) {
        return StoreError::Busy { retry_after };
    }
    StoreError::Backend(format!("DynamoDB: {}", DisplayErrorContext(&e)))
}

/// A request the SDK refused to build (a missing required field: a bug, not a user error).
pub fn build(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Backend(format!("DynamoDB request: {e}"))
}

/// The per-write reason codes of a cancelled transaction (`ConditionalCheckFailed`,
/// `TransactionConflict`, `None`...), in the order the writes were sent; `None` for any other failure.
pub fn cancellation_reasons<R>(
    e: &SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Option<Vec<Option<String>>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match e.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(t) => {
            Some(t.cancellation_reasons().iter().map(|r| r.code().map(str::to_owned)).collect())
        }
        _ => None,
    }
}
