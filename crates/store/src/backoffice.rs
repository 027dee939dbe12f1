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

/// The filter's customer, trimmed and case-folded; `None` if blank.
fn customer_needle(filter: &OrderFilter) -> Option<String> {
    filter.customer.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_lowercase)
}

/// The filter's customer as a case-folded `LIKE` pattern matching it anywhere, its own
/// wildcards escaped with a backslash, so a search for "a_b" means just that; `None` if blank.
pub(crate) fn customer_pattern(filter: &OrderFilter) -> Option<String> {
    let escaped = customer_needle(filter)?.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    Some(format!("%{escaped}%"))
}

/// Whether `order` passes `filter`'s status, time and customer, as the SQL search's `WHERE`
/// has it, for engines that filter in memory: the customer's key (a guest's email, an
/// account's user id) or name contains the search, without regard to case, wildcards literal.
#[cfg(feature = "aws")]
pub(crate) fn matches(filter: &OrderFilter, order: &crate::Order) -> bool {
    let customer = customer_needle(filter).is_none_or(|needle| {
        let c = &order.customer;
        c.key.0.to_lowercase().contains(&needle) || c.name.as_deref().unwrap_or("").to_lowercase().contains(&needle)
    });
    customer
        && filter.status.is_none_or(|s| s == order.status)
        && filter.from.is_none_or(|from| order.created_at >= from)
        && filter.to.is_none_or(|to| order.created_at < to)
}

/// The answer for a product that does not exist.
pub(crate) fn unknown_product(id: &str) -> StoreError {
    StoreError::NotFound { what: "product", id: id.to_owned() }
}

/// The stock level `delta` leads to from `current`; `Conflict` below zero or past `u32::MAX`.
pub(crate) fn adjusted_level(id: &str, current: u32, delta: i64) -> Result<u32, StoreError> {
    i64::from(current)
        .checked_add(delta)
        .and_then(|l| u32::try_from(l).ok())
        .ok_or_else(|| StoreError::Conflict(format!("stock of `{id}` is {current}; it cannot change by {delta}")))
}
