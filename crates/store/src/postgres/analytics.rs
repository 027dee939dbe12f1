//! [`Analytics`] on PostgreSQL: the same figures as SQLite's, each report read in one
//! REPEATABLE READ, READ ONLY transaction so its figures agree. The bucketing, totals and
//! flash-sale arithmetic are shared (`crate::analytics`); only the SQL differs.

use super::error::pg_error;
use super::rows;
use super::store::{PostgresStore, snapshot};
use crate::analytics::{
    Analytics, ExportCursor, ExportPage, OptionPopularity, ReportQuery, SalesReport, TimeRange, TopProduct, count,
    currency, export_next, flash_sale, is_flash_sale, series,
};
use crate::{ProductView, StoreError};
use async_trait::async_trait;
use stampede_domain::Money;

const SERIES_SQL: &str =
    "SELECT created_at - (created_at % $3) AS bucket, currency, COUNT(*), SUM(total_amount)::BIGINT
     FROM orders
     WHERE created_at >= $1 AND created_at < $2 AND status <> 'cancelled'
     GROUP BY bucket, currency";

const CANCELLED_SQL: &str =
    "SELECT COUNT(*) FROM orders WHERE created_at >= $1 AND created_at < $2 AND status = 'cancelled'";

/// The name on the most recent line wins, so a renamed product shows its new name. Text is
/// ordered by bytes (`COLLATE "C"`), as SQLite orders it, whatever the database's collation.
const TOP_PRODUCTS_SQL: &str =
    "SELECT l.product_id, (array_agg(l.product_name ORDER BY o.created_at DESC, o.id DESC))[1],
            l.currency, SUM(l.quantity)::BIGINT, SUM(l.line_amount)::BIGINT
     FROM orders o JOIN order_lines l ON l.order_id = o.id
     WHERE o.created_at >= $1 AND o.created_at < $2 AND o.status <> 'cancelled'
     GROUP BY l.product_id, l.currency
     ORDER BY SUM(l.quantity) DESC, SUM(l.line_amount) DESC, l.product_id COLLATE \"C\"
     LIMIT $3";

/// Lines keep their priced options as a JSON array of SelectedOption; lines without options
/// skip the JSON parse.
const OPTIONS_SQL: &str = "SELECT o_group, MAX(o_group_name), o_choice, MAX(o_choice_name), SUM(quantity)::BIGINT,
            COUNT(DISTINCT order_id)
     FROM (SELECT j ->> 'group_id' AS o_group, j ->> 'group_name' AS o_group_name,
                  j ->> 'choice_id' AS o_choice, j ->> 'choice_name' AS o_choice_name, l.quantity, l.order_id
           FROM orders o JOIN order_lines l ON l.order_id = o.id
                CROSS JOIN LATERAL jsonb_array_elements(l.options::jsonb) j
           WHERE o.created_at >= $1 AND o.created_at < $2 AND o.status <> 'cancelled' AND l.options <> '[]') x
     GROUP BY o_group, o_choice
     ORDER BY o_group COLLATE \"C\", SUM(quantity) DESC, o_choice COLLATE \"C\"";

const FLASH_SALE_SQL: &str = "SELECT COALESCE(SUM(l.quantity), 0)::BIGINT, MIN(o.created_at), MAX(o.created_at)
     FROM order_lines l JOIN orders o ON o.id = l.order_id
     WHERE l.product_id = $1 AND o.status <> 'cancelled'";

/// Keyset paging on (created_at, id), one range of `orders_by_created` per page.
const EXPORT_SQL: &str = "SELECT id FROM orders
     WHERE (created_at, id) > ($1, $2) AND created_at >= $3 AND created_at < $4
     ORDER BY created_at, id LIMIT $5";

#[async_trait]
impl Analytics for PostgresStore {
    async fn sales_report(&self, query: ReportQuery) -> Result<SalesReport, StoreError> {
        let ReportQuery { range, granularity, top_n } = query;
        let mut client = self.client().await?;
        let tx = snapshot(&mut client).await?;
        let (from, to) = (range.from, range.to);
        let cells = tx.query(SERIES_SQL, &[&from, &to, &granularity.millis()]).await.map_err(pg_error)?;
        let (buckets, totals) =
            series(cells.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))), range, granularity)?;
        let cancelled: i64 = tx.query_one(CANCELLED_SQL, &[&from, &to]).await.map_err(pg_error)?.get(0);
        let top = tx.query(TOP_PRODUCTS_SQL, &[&from, &to, &i64::from(top_n)]).await.map_err(pg_error)?;
        let top_products = top
            .iter()
            .map(|r| {
                Ok(TopProduct {
                    product_id: r.get(0),
                    product_name: r.get(1),
                    units: count(r.get(3)),
                    revenue: Money::new(r.get(4), currency(r.get(2))?),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let options = tx.query(OPTIONS_SQL, &[&from, &to]).await.map_err(pg_error)?;
        let options = options
            .iter()
            .map(|r| OptionPopularity {
                group_id: r.get(0),
                group_name: r.get(1),
                choice_id: r.get(2),
                choice_name: r.get(3),
                units: count(r.get(4)),
                orders: count(r.get(5)),
            })
            .collect();
        let mut flash_sales = Vec::new();
        let products: Vec<ProductView> = rows::products(&tx).await?;
        for view in products.into_iter().filter(is_flash_sale) {
            let r = tx.query_one(FLASH_SALE_SQL, &[&view.product.id]).await.map_err(pg_error)?;
            flash_sales.push(flash_sale(view, r.get(0), r.get(1), r.get(2)));
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(SalesReport {
            range,
            granularity,
            buckets,
            totals,
            cancelled_orders: count(cancelled),
            top_products,
            options,
            flash_sales,
        })
    }

    async fn export_after(&self, range: TimeRange, after: ExportCursor, limit: u32) -> Result<ExportPage, StoreError> {
        let mut client = self.client().await?;
        let tx = snapshot(&mut client).await?;
        let ids = tx
            .query(EXPORT_SQL, &[&after.created_at, &after.id, &range.from, &range.to, &(i64::from(limit) + 1)])
            .await
            .map_err(pg_error)?;
        let orders = rows::order_page(&tx, &ids, limit).await?.orders;
        tx.commit().await.map_err(pg_error)?;
        let next = export_next(&orders, ids.len() > limit as usize);
        Ok(ExportPage { orders, next })
    }
}
