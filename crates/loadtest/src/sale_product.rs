//! Creating the product a load test sells, through the admin API. Its own module because
//! every runner (flash sale, soak, waiting room, staleness) creates one.

use super::server::Target;
use anyhow::bail;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// Creates the product under test through the admin API.
pub(super) async fn create_product(
    client: &Client,
    target: &Target,
    id: &str,
    stock: u32,
    per_customer_limit: u32,
) -> anyhow::Result<()> {
    create_product_with(client, target, id, stock, json!({"perCustomerMax": per_customer_limit}), Value::Null).await
}

/// Creates the product under test with the given `sale` rules and `stockShards` (null: the default).
pub(super) async fn create_product_with(
    client: &Client,
    target: &Target,
    id: &str,
    stock: u32,
    sale: Value,
    stock_shards: Value,
) -> anyhow::Result<()> {
    let body = json!({
        "id": id, "name": format!("Flash deal {id}"), "category": "flash-sale",
        "price": {"amount": 999, "currency": "USD"}, "stock": stock, "sale": sale, "stockShards": stock_shards
    });
    let resp = client
        .post(format!("{}/api/admin/products", target.base))
        .bearer_auth(&target.admin_token)
        .json(&body)
        .send()
        .await?;
    if resp.status() != StatusCode::CREATED {
        bail!("creating the sale product failed: {} {}", resp.status(), resp.text().await.unwrap_or_default());
    }
    Ok(())
}
