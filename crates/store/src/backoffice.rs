//! What staff do to the catalog and orders beyond what customers can: edit and archive
//! products, adjust stock, search orders. A trait of its own so adapters add it when
//! they are ready, without growing [`crate::Store`].

use crate::{OrderPage, ProductView, StoreError};
use async_trait::async_trait;
use stampede_domain::{Millis, OrderStatus, Product};

/// Which orders a staff search wants, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    /// Placed at or after this instant.
    pub from: Option<Millis>,
    /// Placed before this instant.
    pub to: Option<Millis>,
    /// Part of the customer's email, name or user id, matched without regard to case.
    pub customer: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub limit: u32,
}

/// Staff operations on the catalog and orders.
#[async_trait]
pub trait Backoffice: Send + Sync {
    /// Replaces a product's definition (name, price, options, sale rules, archived) and keeps
    /// its stock; `NotFound` if it does not exist.
    async fn update_product(&self, product: Product) -> Result<ProductView, StoreError>;
    /// Adds `delta` units to a product's stock (negative takes them away); `Conflict` if the
    /// stock would go below zero.
    async fn adjust_stock(&self, id: &str, delta: i64) -> Result<ProductView, StoreError>;
    /// Orders matching `filter`, newest first.
    async fn find_orders(&self, filter: OrderFilter) -> Result<OrderPage, StoreError>;
}

/// Most orders one page of [`Backoffice::find_orders`] may hold.
pub const MAX_PAGE: u32 = 200;

/// The filter's customer as a case-folded `LIKE` pattern matching it anywhere, its own
/// wildcards escaped with a backslash, so a search for "a_b" means just that; `None` if blank.
pub(crate) fn customer_pattern(filter: &OrderFilter) -> Option<String> {
    let customer = filter.customer.as_deref().map(str::trim).filter(|c| !c.is_empty())?;
    let escaped = customer.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    Some(format!("%{escaped}%"))
}

/// The stock level `delta` leads to from `current`; `Conflict` below zero or past `u32::MAX`.
pub(crate) fn adjusted_level(id: &str, current: u32, delta: i64) -> Result<u32, StoreError> {
    i64::from(current)
        .checked_add(delta)
        .and_then(|l| u32::try_from(l).ok())
        .ok_or_else(|| StoreError::Conflict(format!("stock of `{id}` is {current}; it cannot change by {delta}")))
}
