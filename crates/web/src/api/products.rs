//! Catalog endpoints.

use super::dto::ProductDto;
use crate::extract::ApiPath;
use crate::{AppState, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use stampede_store::StoreError;

/// Every product with live stock, in menu order. Served from bytes built once per stock
/// change (see `catalog_cache`), with a strong `ETag` (`304` on `If-None-Match`) and gzip
/// for clients that accept it.
#[utoipa::path(get, path = "/api/products", tag = "catalog",
    params(("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer")),
    responses(
        (status = 200, description = "The menu", body = [ProductDto],
            headers(("ETag" = String, description = "Changes whenever a product or its stock does"))),
        (status = 304, description = "Unchanged since the `ETag` given"),
    ))]
pub async fn list_products(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    let catalog = app.catalog.get(app.store.as_ref()).await?;
    let etag = HeaderValue::from_str(&catalog.etag).map_err(|e| Problem::from(StoreError::Backend(e.to_string())))?;
    // Clients must ask again each time (stock moves), but an unchanged menu costs them nothing.
    let revalidate = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if if_none_match(&headers, &catalog.etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag), revalidate]).into_response());
    }
    let json = (header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(([json, (header::ETAG, etag), revalidate], catalog.body.clone()).into_response())
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// One product with live stock.
#[utoipa::path(get, path = "/api/products/{id}", tag = "catalog",
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 200, description = "The product", body = ProductDto),
        (status = 404, description = "No such product", body = Problem),
    ))]
pub async fn get_product(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ProductDto>, Problem> {
    let product = app.store.product(&id).await?.ok_or_else(|| Problem::not_found("product", &id))?;
    Ok(Json(product.into()))
}
