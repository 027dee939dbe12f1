//! Catalog endpoints.

use super::dto::ProductDto;
use crate::extract::ApiPath;
use crate::{AppState, Problem};
use axum::Json;
use axum::extract::State;

/// Every product with live stock, in menu order.
#[utoipa::path(get, path = "/api/products", tag = "catalog",
    responses((status = 200, description = "The menu", body = [ProductDto])))]
pub async fn list_products(State(app): State<AppState>) -> Result<Json<Vec<ProductDto>>, Problem> {
    let products = app.store.products().await?;
    Ok(Json(products.into_iter().map(Into::into).collect()))
}

/// One product with live stock.
#[utoipa::path(get, path = "/api/products/{id}", tag = "catalog",
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product", body = ProductDto),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_product(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ProductDto>, Problem> {
    let product = app.store.product(&id).await?.ok_or_else(|| Problem::not_found("product", &id))?;
    Ok(Json(product.into()))
}
