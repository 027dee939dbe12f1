//! The analytics queries, run on the read pool inside one read transaction each, so a report
//! is one consistent snapshot and never waits for (or holds up) the order writer.
//!
//! Orders are placed in time by `created_at`, found through `orders_by_created` (migration 4);
//! the UUIDv7 id cannot stand in for it because the writer mints ids after it reads the clock.

use super::{SqliteStore, rows};
use crate::StoreError;
use crate::analytics::{
    self, Analytics, CurrencyTotals, ExportCursor, ExportPage, FlashSale, Granularity, OptionPopularity, ReportQuery,
    SalesBucket, SalesReport, TimeRange, TopProduct, count, currency, export_next, flash_sale, is_flash_sale,
};
use async_trait::async_trait;
use rusqlite::{Connection, params};
use stampede_domain::{Millis, Money};

#[async_trait]
impl Analytics for SqliteStore {
    async fn sales_report(&self, query: ReportQuery) -> Result<SalesReport, StoreError> {
        let ReportQuery { range, granularity, top_n } = query;
        self.reads
            .run(move |conn| {
                let tx = conn.unchecked_transaction()?;
                let (buckets, totals) = series(&tx, range, granularity)?;
                Ok(SalesReport {
                    range,
                    granularity,
                    buckets,
                    totals,
                    cancelled_orders: cancelled(&tx, range)?,
                    top_products: top_products(&tx, range, top_n)?,
                    options: option_popularity(&tx, range)?,
                    flash_sales: flash_sales(&tx)?,
                })
            })
            .await
    }

    async fn export_after(&self, range: TimeRange, after: ExportCursor, limit: u32) -> Result<ExportPage, StoreError> {
        self.reads.run(move |conn| export_page(conn, range, after, limit)).await
    }
}

const SERIES_SQL: &str = "SELECT created_at - (created_at % ?3) AS bucket, currency, COUNT(*), SUM(total_amount)
         FROM orders
         WHERE created_at >= ?1 AND created_at < ?2 AND status <> 'cancelled'
         GROUP BY bucket, currency";

/// `+status` keeps the planner off `orders_by_status`, which would walk every cancelled order
/// the shop ever had instead of the range's orders.
const CANCELLED_SQL: &str =
    "SELECT COUNT(*) FROM orders WHERE created_at >= ?1 AND created_at < ?2 AND +status = 'cancelled'";

/// `product_name` is a bare column next to MAX(created_at): SQLite takes it from the row
/// holding the maximum, i.e. the most recent line, so a renamed product shows its new name.
const TOP_PRODUCTS_SQL: &str =
    "SELECT l.product_id, l.product_name, MAX(o.created_at), l.currency, SUM(l.quantity), SUM(l.line_amount)
         FROM orders o JOIN order_lines l ON l.order_id = o.id
         WHERE o.created_at >= ?1 AND o.created_at < ?2 AND o.status <> 'cancelled'
         GROUP BY l.product_id, l.currency
         ORDER BY SUM(l.quantity) DESC, SUM(l.line_amount) DESC, l.product_id
         LIMIT ?3";

/// Lines keep the options they were priced with as a JSON array of SelectedOption; lines
/// without options (drinks) skip the JSON parse, which is most of this query's cost.
const OPTIONS_SQL: &str =
    "SELECT o_group, MAX(o_group_name), o_choice, MAX(o_choice_name), SUM(quantity), COUNT(DISTINCT order_id)
         FROM (SELECT j.value ->> 'group_id' AS o_group, j.value ->> 'group_name' AS o_group_name,
                      j.value ->> 'choice_id' AS o_choice, j.value ->> 'choice_name' AS o_choice_name,
                      l.quantity, l.order_id
               FROM orders o JOIN order_lines l ON l.order_id = o.id, json_each(l.options) j
               WHERE o.created_at >= ?1 AND o.created_at < ?2 AND o.status <> 'cancelled' AND l.options <> '[]')
         GROUP BY o_group, o_choice
         ORDER BY o_group, SUM(quantity) DESC, o_choice";

const FLASH_SALE_SQL: &str = "SELECT COALESCE(SUM(l.quantity), 0), MIN(o.created_at), MAX(o.created_at)
         FROM order_lines l JOIN orders o ON o.id = l.order_id
         WHERE l.product_id = ?1 AND o.status <> 'cancelled'";

const EXPORT_SQL: &str = "SELECT id FROM orders
         WHERE (created_at, id) > (?1, ?2) AND created_at >= ?3 AND created_at < ?4
         ORDER BY created_at, id LIMIT ?5";

/// Revenue and orders per bucket and per currency, every bucket present.
fn series(
    conn: &Connection,
    range: TimeRange,
    granularity: Granularity,
) -> Result<(Vec<SalesBucket>, Vec<CurrencyTotals>), StoreError> {
    let mut stmt = conn.prepare_cached(SERIES_SQL)?;
    let rows = stmt.query_map(params![range.from, range.to, granularity.millis()], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?;
    analytics::series(rows.collect::<Result<Vec<_>, _>>()?, range, granularity)
}

fn cancelled(conn: &Connection, range: TimeRange) -> Result<u64, StoreError> {
    let n: i64 = conn.prepare_cached(CANCELLED_SQL)?.query_row(params![range.from, range.to], |r| r.get(0))?;
    Ok(count(n))
}

fn top_products(conn: &Connection, range: TimeRange, limit: u32) -> Result<Vec<TopProduct>, StoreError> {
    let mut stmt = conn.prepare_cached(TOP_PRODUCTS_SQL)?;
    let rows = stmt.query_map(params![range.from, range.to, limit], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(3)?, r.get(4)?, r.get(5)?))
    })?;
    rows.map(|row| {
        let (product_id, product_name, cur, units, revenue): (_, _, _, i64, i64) = row?;
        Ok(TopProduct { product_id, product_name, units: count(units), revenue: Money::new(revenue, currency(&cur)?) })
    })
    .collect()
}

fn option_popularity(conn: &Connection, range: TimeRange) -> Result<Vec<OptionPopularity>, StoreError> {
    let mut stmt = conn.prepare_cached(OPTIONS_SQL)?;
    let rows = stmt.query_map(params![range.from, range.to], |r| {
        Ok(OptionPopularity {
            group_id: r.get(0)?,
            group_name: r.get(1)?,
            choice_id: r.get(2)?,
            choice_name: r.get(3)?,
            units: count(r.get(4)?),
            orders: count(r.get(5)?),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn flash_sales(conn: &Connection) -> Result<Vec<FlashSale>, StoreError> {
    let mut stmt = conn.prepare_cached(FLASH_SALE_SQL)?;
    let mut sales = Vec::new();
    for view in rows::load_products(conn)?.into_iter().filter(is_flash_sale) {
        let (sold, first, last): (i64, Option<Millis>, Option<Millis>) =
            stmt.query_row([&view.product.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        sales.push(flash_sale(view, sold, first, last));
    }
    Ok(sales)
}

fn export_page(conn: &Connection, range: TimeRange, after: ExportCursor, limit: u32) -> Result<ExportPage, StoreError> {
    // Keyset paging on (created_at, id): every page is one index range, however deep.
    let tx = conn.unchecked_transaction()?;
    let mut stmt = tx.prepare_cached(EXPORT_SQL)?;
    let ids: Vec<String> = stmt
        .query_map(params![after.created_at, after.id, range.from, range.to, i64::from(limit) + 1], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    drop(stmt);
    let mut orders = Vec::with_capacity(ids.len().min(limit as usize));
    for id in ids.iter().take(limit as usize) {
        orders.extend(rows::load_order(&tx, id)?);
    }
    let next = export_next(&orders, ids.len() > limit as usize);
    Ok(ExportPage { orders, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every range query starts from the placement-time index instead of scanning all orders.
    #[test]
    fn range_queries_use_the_placement_time_index() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        for sql in [SERIES_SQL, CANCELLED_SQL, TOP_PRODUCTS_SQL, OPTIONS_SQL, EXPORT_SQL] {
            let plan = plan(&conn, sql);
            assert!(plan.contains("INDEX orders_by_created"), "{sql}\n{plan}");
            assert!(!plan.contains("SCAN o\n") && !plan.contains("SCAN orders"), "{sql}\n{plan}");
        }
        let flash = plan(&conn, FLASH_SALE_SQL);
        assert!(flash.contains("INDEX order_lines_by_product"), "{flash}");
    }

    fn plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let args = rusqlite::params_from_iter(1..=stmt.parameter_count() as i64);
        let rows: Vec<String> = stmt.query_map(args, |r| r.get(3)).unwrap().collect::<Result<_, _>>().unwrap();
        rows.join("\n")
    }
}
