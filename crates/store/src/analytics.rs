//! Sales analytics: read-only figures over the order records, for the admin dashboard.
//!
//! A trait of its own rather than more `Store` methods, so an engine can serve orders without
//! serving reports. SQL engines count in queries; DynamoDB reads the range's orders through its
//! `byDay` index and counts them in memory (`tally.rs`), with the same figures. Every figure is counted from order rows; cancelled orders are left out of
//! revenue, counts, top products, option popularity and sell-through, because their money
//! was never taken and their stock went back on the shelf. They are counted separately.

use crate::{Order, ProductView, StoreError};
use async_trait::async_trait;
use stampede_domain::{Currency, Millis, Money};
use std::collections::BTreeMap;

/// An hour in milliseconds.
pub const HOUR: Millis = 3_600_000;
/// A day in milliseconds.
pub const DAY: Millis = 24 * HOUR;
/// Longest range a report may cover: a year and a bit, so hourly buckets stay under 10,000.
pub const MAX_SPAN: Millis = 400 * DAY;

/// A half-open time range `[from, to)` in Unix milliseconds, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Millis,
    pub to: Millis,
}

/// Why a range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("the range must end after it starts")]
    Empty,
    #[error("the range may cover at most 400 days")]
    TooLong,
}

impl TimeRange {
    /// Checks `from < to` and the span limit.
    pub fn new(from: Millis, to: Millis) -> Result<TimeRange, RangeError> {
        if to <= from {
            return Err(RangeError::Empty);
        }
        if to.saturating_sub(from) > MAX_SPAN {
            return Err(RangeError::TooLong);
        }
        Ok(TimeRange { from, to })
    }
}

/// How wide each bucket of a series is. Buckets sit on UTC hour or day boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
}

impl Granularity {
    /// The bucket width in milliseconds.
    pub fn millis(self) -> Millis {
        match self {
            Granularity::Hour => HOUR,
            Granularity::Day => DAY,
        }
    }

    /// Start of the bucket holding `t`.
    pub fn floor(self, t: Millis) -> Millis {
        t.div_euclid(self.millis()) * self.millis()
    }
}

/// Sales in one bucket. `revenue` has one entry per currency of [`SalesReport::totals`], in
/// the same order, zero where nothing sold in that currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesBucket {
    pub start: Millis,
    pub orders: u64,
    pub revenue: Vec<Money>,
}

/// Totals of one currency over the whole range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrencyTotals {
    pub currency: Currency,
    pub orders: u64,
    pub revenue: Money,
    /// Revenue / orders, rounded to the nearest minor unit, halves up ([`average`]).
    pub average_order_value: Money,
}

/// A product's sales over the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopProduct {
    pub product_id: String,
    /// The name on its most recent order line, as the customer saw it.
    pub product_name: String,
    pub units: u64,
    pub revenue: Money,
}

/// How often one choice of an option group was bought over the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionPopularity {
    pub group_id: String,
    pub group_name: String,
    pub choice_id: String,
    pub choice_name: String,
    /// Units sold with this choice (a line of 3 pizzas with olives counts 3).
    pub units: u64,
    /// Orders with at least one line with this choice.
    pub orders: u64,
}

/// How a flash-sale product sold, over its whole life rather than the report's range: a sale
/// is judged against all of its stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashSale {
    pub product_id: String,
    pub product_name: String,
    pub units_sold: u64,
    pub stock_left: u32,
    /// `units_sold + stock_left`: what the sale started with, net of manual stock changes.
    pub initial_stock: u64,
    /// Units sold per ten thousand units of initial stock (basis points), rounded down, so
    /// the page can print 87.5 % without floats; `None` when there was no stock at all.
    pub sell_through_bp: Option<u32>,
    /// The sale window's start, or the first order where the product has no window.
    pub started_at: Option<Millis>,
    /// The last uncancelled order that took stock to zero; `None` while stock is left.
    pub sold_out_at: Option<Millis>,
}

impl FlashSale {
    /// How long it took to sell out, if it did.
    pub fn time_to_sell_out(&self) -> Option<Millis> {
        Some(self.sold_out_at?.saturating_sub(self.started_at?).max(0))
    }
}

/// Everything the analytics page shows, read in one snapshot so the figures agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesReport {
    pub range: TimeRange,
    pub granularity: Granularity,
    /// Every bucket from the one holding `range.from` to the one holding `range.to - 1`.
    pub buckets: Vec<SalesBucket>,
    /// One entry per currency sold in the range, by currency code.
    pub totals: Vec<CurrencyTotals>,
    /// Cancelled orders placed in the range (left out of every other figure).
    pub cancelled_orders: u64,
    /// Best sellers by units, then revenue.
    pub top_products: Vec<TopProduct>,
    /// By option group, then units (most first).
    pub options: Vec<OptionPopularity>,
    /// Every flash-sale product, in menu order.
    pub flash_sales: Vec<FlashSale>,
}

/// Where an export page ends: pass it back to get the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportCursor {
    pub created_at: Millis,
    pub id: String,
}

/// A page of orders for export, oldest first, cancelled ones included.
#[derive(Debug, Clone)]
pub struct ExportPage {
    pub orders: Vec<Order>,
    /// `None` on the last page.
    pub next: Option<ExportCursor>,
}

/// What a sales report covers: orders placed in `range`, in buckets of `granularity`, with
/// the `top_n` best-selling products. The dashboard's choice, as every store reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportQuery {
    pub range: TimeRange,
    pub granularity: Granularity,
    pub top_n: u32,
}

/// Read-only sales figures. Implementations read from a replica or read pool, never from the
/// order writer, so a report cannot slow down a sale.
#[async_trait]
pub trait Analytics: Send + Sync {
    /// Revenue and orders per bucket, totals, top products, option popularity and
    /// flash-sale figures for the orders `query` covers.
    async fn sales_report(&self, query: ReportQuery) -> Result<SalesReport, StoreError>;

    /// Orders placed in `range` with their lines, by placement time, `limit` at a time:
    /// the first page without a cursor, then each page after the last one's `next`.
    async fn export_orders(
        &self,
        range: TimeRange,
        after: Option<ExportCursor>,
        limit: u32,
    ) -> Result<ExportPage, StoreError> {
        // The empty id sorts before every real one, so the first page starts at `from` itself.
        let after = after.unwrap_or(ExportCursor { created_at: range.from, id: String::new() });
        self.export_after(range, after, limit).await
    }

    /// The page of [`Analytics::export_orders`] of orders placed in `range` after `after`,
    /// by (placement time, id).
    async fn export_after(&self, range: TimeRange, after: ExportCursor, limit: u32) -> Result<ExportPage, StoreError>;
}

/// `total / count` rounded to the nearest minor unit, halves away from zero, in integers:
/// 1000 / 3 is 333, 1001 / 2 is 501. Zero orders average zero.
pub fn average(total: i64, count: u64) -> i64 {
    let Ok(count) = i64::try_from(count) else { return 0 };
    if count == 0 {
        return 0;
    }
    let (total, count) = (i128::from(total), i128::from(count));
    let rounded = (2 * total.abs() + count) / (2 * count);
    let signed = if total < 0 { -rounded } else { rounded };
    i64::try_from(signed).unwrap_or(0)
}

/// `part / whole` in basis points, rounded down; `None` when `whole` is zero.
pub fn basis_points(part: u64, whole: u64) -> Option<u32> {
    (whole > 0).then(|| u32::try_from(u128::from(part) * 10_000 / u128::from(whole)).unwrap_or(u32::MAX))
}

/// A stored currency code; an unknown one means a broken row.
pub(crate) fn currency(code: &str) -> Result<Currency, StoreError> {
    Currency::parse(code).ok_or_else(|| StoreError::Backend(format!("stored currency `{code}` is invalid")))
}

/// A stored count (never negative) as a figure.
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// One cell of the sales series as an engine's query groups it: bucket start, currency
/// code, orders, revenue.
pub(crate) type SeriesCell = (Millis, String, i64, i64);

/// The series and totals from the query's cells: every bucket of the range present (empty
/// ones at zero), currencies by code.
pub(crate) fn series(
    cells: impl IntoIterator<Item = SeriesCell>,
    range: TimeRange,
    granularity: Granularity,
) -> Result<(Vec<SalesBucket>, Vec<CurrencyTotals>), StoreError> {
    // (bucket, currency) -> (orders, revenue); currencies sorted by code.
    let mut by_cell: BTreeMap<(Millis, String), (u64, i64)> = BTreeMap::new();
    let mut by_currency: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    for (bucket, cur, orders, revenue) in cells {
        let total = by_currency.entry(cur.clone()).or_default();
        total.0 += count(orders);
        total.1 = total.1.saturating_add(revenue);
        by_cell.insert((bucket, cur), (count(orders), revenue));
    }
    let currencies = by_currency.keys().map(|c| currency(c)).collect::<Result<Vec<_>, _>>()?;
    let width = granularity.millis();
    let last = granularity.floor(range.to - 1);
    let mut buckets = Vec::new();
    let mut start = granularity.floor(range.from);
    while start <= last {
        let mut orders = 0;
        let mut revenue = Vec::with_capacity(currencies.len());
        for cur in &currencies {
            let (n, amount) = by_cell.get(&(start, cur.as_str().to_owned())).copied().unwrap_or_default();
            orders += n;
            revenue.push(Money::new(amount, *cur));
        }
        buckets.push(SalesBucket { start, orders, revenue });
        start += width;
    }
    let totals = currencies
        .iter()
        .zip(by_currency.values())
        .map(|(cur, &(orders, revenue))| CurrencyTotals {
            currency: *cur,
            orders,
            revenue: Money::new(revenue, *cur),
            average_order_value: Money::new(average(revenue, orders), *cur),
        })
        .collect();
    Ok((buckets, totals))
}

/// A flash sale is a product in the `flash-sale` section or with a sale window.
pub(crate) fn is_flash_sale(view: &ProductView) -> bool {
    let p = &view.product;
    p.category == "flash-sale" || p.sale.starts_at.is_some() || p.sale.ends_at.is_some()
}

/// A flash-sale product's figures from its uncancelled order lines: units sold, and the
/// first and last such order's placing time.
pub(crate) fn flash_sale(view: ProductView, sold: i64, first: Option<Millis>, last: Option<Millis>) -> FlashSale {
    let units_sold = count(sold);
    let initial_stock = units_sold + u64::from(view.stock);
    // Stock only leaves through orders, so with none left the last uncancelled order is the
    // one that emptied it (a cancellation after that would have put stock back).
    let sold_out_at = (view.stock == 0 && units_sold > 0).then_some(last).flatten();
    FlashSale {
        product_id: view.product.id,
        product_name: view.product.name,
        units_sold,
        stock_left: view.stock,
        initial_stock,
        sell_through_bp: basis_points(units_sold, initial_stock),
        started_at: view.product.sale.starts_at.or(first),
        sold_out_at,
    }
}

/// Where the next export page starts, given this page's orders and whether more follow.
pub(crate) fn export_next(orders: &[Order], more: bool) -> Option<ExportCursor> {
    more.then(|| orders.last().map(|o| ExportCursor { created_at: o.created_at, id: o.id.clone() })).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_round_halves_up_in_integers() {
        assert_eq!(average(1000, 3), 333);
        assert_eq!(average(1001, 2), 501);
        assert_eq!(average(1003, 2), 502);
        assert_eq!(average(2000, 3), 667);
        assert_eq!(average(-1001, 2), -501);
        assert_eq!(average(500, 0), 0);
        assert_eq!(average(i64::MAX, 1), i64::MAX);
    }

    #[test]
    fn basis_points_round_down() {
        assert_eq!(basis_points(7, 8), Some(8750));
        assert_eq!(basis_points(1, 3), Some(3333));
        assert_eq!(basis_points(0, 0), None);
        assert_eq!(basis_points(5, 5), Some(10_000));
    }

    #[test]
    fn ranges_must_be_forward_and_bounded() {
        assert_eq!(TimeRange::new(5, 5), Err(RangeError::Empty));
        assert_eq!(TimeRange::new(0, MAX_SPAN + 1), Err(RangeError::TooLong));
        assert!(TimeRange::new(0, MAX_SPAN).is_ok());
    }

    #[test]
    fn buckets_sit_on_utc_boundaries() {
        assert_eq!(Granularity::Hour.floor(HOUR + 59 * 60_000), HOUR);
        assert_eq!(Granularity::Day.floor(3 * DAY - 1), 2 * DAY);
        assert_eq!(Granularity::Day.floor(-1), -DAY);
    }
}
