//! [`Backoffice`] on PostgreSQL: product edits, stock adjustments over the counter rows, and
//! the staff order search. The search's pattern and the stock arithmetic are SQLite's
//! (`crate::backoffice`).

use super::error::pg_error;
use super::rows;
use super::store::PostgresStore;
use crate::backoffice::{MAX_PAGE, adjusted_level, customer_pattern, unknown_product as not_found};
use crate::clock::now_millis;
use crate::shards;
use crate::{Backoffice, OrderFilter, OrderPage, ProductView, StoreError};
use async_trait::async_trait;
use stampede_domain::{OrderRejection, Product};

#[async_trait]
impl Backoffice for PostgresStore {
    async fn update_product(&self, product: Product) -> Result<ProductView, StoreError> {
        product.validate().map_err(OrderRejection::from)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        // The counters were laid out when the product was created: `stock_shards` stays.
        let updated = tx
            .execute(
                "UPDATE products SET definition = $2, updated_at = $3 WHERE id = $1",
                &[&product.id, &serde_json::to_string(&product)?, &now_millis()],
            )
            .await
            .map_err(pg_error)?;
        if updated == 0 {
            return Err(not_found(&product.id));
        }
        let view = rows::product(&tx, &product.id).await?.ok_or_else(|| not_found(&product.id))?;
        tx.commit().await.map_err(pg_error)?;
        self.live.changed(&view.product.id, Some(view.clone()));
        self.tick_stock();
        Ok(view)
    }

    async fn adjust_stock(&self, id: &str, delta: i64) -> Result<ProductView, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        // Every counter locked, in key order as orders lock them, so the level is exact and
        // an order drawing meanwhile waits for the new one.
        let counters = tx
            .query("SELECT stock FROM product_stock WHERE product_id = $1 ORDER BY shard FOR UPDATE", &[&id])
            .await
            .map_err(pg_error)?;
        if counters.is_empty() {
            return Err(not_found(id));
        }
        let current = rows::count(counters.iter().map(|r| r.get::<_, i64>(0)).sum())?;
        let level = adjusted_level(id, current, delta)?;
        // Spread evenly again, so every counter can serve orders.
        let shards_n = u32::try_from(counters.len()).unwrap_or(1);
        for (shard, units) in shards::split(level, shards_n).into_iter().enumerate() {
            tx.execute(
                "UPDATE product_stock SET stock = $3 WHERE product_id = $1 AND shard = $2",
                &[&id, &(shard as i32), &i64::from(units)],
            )
            .await
            .map_err(pg_error)?;
        }
        let view = rows::product(&tx, id).await?.ok_or_else(|| not_found(id))?;
        tx.commit().await.map_err(pg_error)?;
        self.live.changed(&view.product.id, Some(view.clone()));
        self.tick_stock();
        Ok(view)
    }

    async fn find_orders(&self, filter: OrderFilter) -> Result<OrderPage, StoreError> {
        let limit = filter.limit.clamp(1, MAX_PAGE);
        let c = self.client().await?;
        // ILIKE: SQLite's LIKE ignores ASCII case, and the pattern is lower-cased already.
        let ids = c
            .query(
                "SELECT id FROM orders
                 WHERE ($1::TEXT IS NULL OR status = $1)
                   AND ($2::BIGINT IS NULL OR created_at >= $2)
                   AND ($3::BIGINT IS NULL OR created_at < $3)
                   AND ($4::TEXT IS NULL OR customer_key ILIKE $4 OR coalesce(customer_name, '') ILIKE $4)
                   AND ($5::TEXT IS NULL OR id < $5)
                 ORDER BY id DESC LIMIT $6",
                &[
                    &filter.status.map(|s| s.as_str()),
                    &filter.from,
                    &filter.to,
                    &customer_pattern(&filter),
                    &filter.cursor,
                    &(i64::from(limit) + 1),
                ],
            )
            .await
            .map_err(pg_error)?;
        rows::order_page(&c, &ids, limit).await
    }
}
