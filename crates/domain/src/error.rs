//! Why the shop refuses an order. Each variant names the rule that failed.

use crate::Millis;
use thiserror::Error;

/// A request that is malformed in a way the customer can fix: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// JSON-path-like name of the offending field, e.g. `items[0].quantity`.
    pub field: String,
    pub message: String,
}

impl ValidationError {
    /// Builds an error for a field.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError { field: field.into(), message: message.into() }
    }

    /// Prefixes the field with the path of the enclosing value.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

/// A well-formed order the shop's rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OrderRejection {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("product `{0}` does not exist")]
    UnknownProduct(String),
    #[error("product `{0}` is no longer sold")]
    Archived(String),
    #[error("only {available} of `{product}` left, {requested} requested")]
    OutOfStock { product: String, requested: u32, available: u32 },
    #[error("the sale of `{product}` opens at {starts_at}")]
    SaleNotStarted { product: String, starts_at: Millis },
    #[error("the sale of `{product}` ended at {ended_at}")]
    SaleEnded { product: String, ended_at: Millis },
    #[error("at most {limit} of `{product}` per customer; you already have {already}, {requested} requested")]
    CustomerLimit { product: String, limit: u32, already: u32, requested: u32 },
    #[error("at most {limit} of `{product}` per order, {requested} requested")]
    OrderLimit { product: String, limit: u32, requested: u32 },
    #[error("order total is too large")]
    TotalOverflow,
    #[error("all items of an order must be in one currency")]
    MixedCurrencies,
}
