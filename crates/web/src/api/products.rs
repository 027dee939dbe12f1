//! Catalog endpoints.

use super::dto::ProductDto;
use crate::extract::ApiPath;
use crate::{AppState, Problem};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::response::Response;

/// Every product with live stock, in menu order. Served from bytes built once per stock
/// change (see `catalog_cache`), plain or, for clients that accept it, gzipped, each with a
/// strong `ETag` of its own (`304` on `If-None-Match`).
#[utoipa::path(get, path = "/api/products", tag = "catalog",
    params(
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` from an earlier answer"),
        ("Accept-Encoding" = Option<String>, Header, description = "`gzip` (or `x-gzip`, or `*`) for a gzipped answer"),
    ),
    responses(
        (status = 200, description = "The menu", body = [ProductDto],
            headers(
                ("ETag" = String, description = "Changes whenever a product or its stock does; the gzipped answer's ends in `-gzip`"),
                ("Vary" = String, description = "`accept-encoding`"),
                ("Content-Encoding" = Option<String>, description = "`gzip` when the answer is gzipped"),
                ("Cache-Control" = String, description = "`no-cache`: ask again each time (stock moves)"),
            )),
        (status = 304, description = "Unchanged since the `ETag` given",
            headers(
                ("ETag" = String, description = "The `ETag` the client holds"),
                ("Vary" = String, description = "`accept-encoding`"),
            )),
    ))]
pub async fn list_products(State(app): State<AppState>, request: Request) -> Result<Response, Problem> {
    let catalog = app.catalog.get(app.store.as_ref()).await?;
    // Clients must ask again each time (stock moves), but an unchanged menu costs them nothing.
    // The request's headers are read where they are, not copied out as a `HeaderMap` would be.
    Ok(catalog.body.respond(request.headers(), "application/json", HeaderValue::from_static("no-cache")))
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
