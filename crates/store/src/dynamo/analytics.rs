//! [`Analytics`] on DynamoDB: the orders a report needs are read through the `byDay` index
//! (`history.rs`) and counted in memory by `crate::tally`, with SQL's figures and rounding.
//! Reads are eventually consistent (a report may miss the last second's changes); costs and
//! limits are in docs/aws.md.

use super::{DynamoStore, catalog, history, keys};
use crate::analytics::{
    Analytics, DAY, ExportCursor, ExportPage, ReportQuery, SalesReport, TimeRange, export_next, is_flash_sale,
};
use crate::clock::now_millis;
use crate::{Order, StoreError, tally};
use async_trait::async_trait;
use stampede_domain::Millis;

/// How far past this instance's clock a flash sale's orders are looked for: another
/// instance's clock may run a little ahead.
const CLOCK_SLACK: Millis = 5 * 60_000;

#[async_trait]
impl Analytics for DynamoStore {
    async fn sales_report(&self, query: ReportQuery) -> Result<SalesReport, StoreError> {
        let ReportQuery { range, granularity, top_n } = query;
        let views = catalog::with_stock(self, catalog::menu(self, false).await?, false).await?;
        // Flash-sale figures cover each sale's whole life: from its window's start, or from
        // the start of the shop's history for a sale without one.
        let mut life_from = None;
        if views.iter().any(is_flash_sale)
            && let Some(start) = history::start(self).await?
        {
            let starts = views.iter().filter(|v| is_flash_sale(v)).map(|v| v.product.sale.starts_at.unwrap_or(start));
            life_from = starts.min();
        }
        let now = now_millis() + CLOCK_SLACK;
        let (orders, lifetime) = match life_from {
            None => (history::orders_between(self, range.from, range.to).await?, None),
            // Overlapping: one read covers both.
            Some(from) if from <= range.to && range.from <= now => {
                (history::orders_between(self, from.min(range.from), now.max(range.to)).await?, None)
            }
            Some(from) => (
                history::orders_between(self, range.from, range.to).await?,
                Some(history::orders_between(self, from, now).await?),
            ),
        };
        tally::report(&orders, range, granularity, top_n, views, lifetime.as_deref().unwrap_or(&orders))
    }

    async fn export_after(&self, range: TimeRange, after: ExportCursor, limit: u32) -> Result<ExportPage, StoreError> {
        let limit = limit.max(1) as usize;
        let mut page: Vec<Order> = Vec::new();
        // A day at a time, sorted in memory: the index orders a day's partitions by id, not
        // by placement time.
        for day in keys::day(after.created_at.max(range.from))..=keys::day(range.to - 1) {
            let (from, to) = ((day * DAY).max(range.from), ((day + 1) * DAY).min(range.to));
            let mut orders = history::orders_between(self, from, to).await?;
            orders.retain(|o| (o.created_at, o.id.as_str()) > (after.created_at, after.id.as_str()));
            orders.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            page.extend(orders);
            if page.len() > limit {
                break;
            }
        }
        let more = page.len() > limit;
        page.truncate(limit);
        let next = export_next(&page, more);
        Ok(ExportPage { orders: page, next })
    }
}
