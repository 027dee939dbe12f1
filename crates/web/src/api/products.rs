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
            )),
        (status = 304, description = "Unchanged since the `ETag` given"),
    ))]
pub async fn list_products(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, Problem> {
    let catalog = app.catalog.get(app.store.as_ref()).await?;
    let gzip = if accepts_gzip(&headers) { catalog.gzip() } else { None };
    let gzipped = gzip.is_some();
    let (body, etag) = match gzip {
        Some(gzip) => (gzip, &catalog.gzip_etag),
        None => (&catalog.body, &catalog.etag),
    };
    let etag_value = HeaderValue::from_str(etag).map_err(|e| Problem::from(StoreError::Backend(e.to_string())))?;
    let mut response = if if_none_match(&headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut ok = body.clone().into_response();
        let response_headers = ok.headers_mut();
        response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if gzipped {
            response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        ok
    };
    let response_headers = response.headers_mut();
    response_headers.insert(header::ETAG, etag_value);
    // Clients must ask again each time (stock moves), but an unchanged menu costs them nothing.
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response_headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    Ok(response)
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

/// Whether `Accept-Encoding` takes gzip (RFC 9110, 12.5.3): `gzip` (or `x-gzip`) named with a
/// weight above 0, or else `*` with one. A weight that does not parse counts as 0.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut any = false;
    let codings = headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok());
    for coding in codings.flat_map(|v| v.split(',')) {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let weight = parts
            .find_map(|p| p.split_once('=').filter(|(name, _)| name.trim().eq_ignore_ascii_case("q")))
            .map(|(_, q)| q.trim());
        let accepted = weight.is_none_or(|q| q.parse::<f32>().is_ok_and(|q| q > 0.0));
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            return accepted;
        }
        any |= name == "*" && accepted;
    }
    any
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

#[cfg(test)]
mod tests {
    use super::accepts_gzip;
    use axum::http::{HeaderMap, HeaderValue, header};

    fn accepts(values: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        accepts_gzip(&headers)
    }

    #[test]
    fn gzip_is_sent_only_when_the_client_accepts_it() {
        assert!(accepts(&["gzip, deflate, br, zstd"]), "what browsers send");
        assert!(accepts(&["br;q=1.0, GZIP;q=0.5"]));
        assert!(accepts(&["x-gzip"]));
        assert!(accepts(&["*"]));
        assert!(accepts(&["br", "gzip"]), "over two headers");
        assert!(!accepts(&[]), "no header: identity");
        assert!(!accepts(&["br, deflate"]));
        assert!(!accepts(&["gzip;q=0"]));
        assert!(!accepts(&["gzip; q=0.000"]));
        assert!(!accepts(&["gzip ; Q = 0"]), "spaced");
        assert!(!accepts(&["*, gzip;q=0"]), "gzip refused by name though `*` is taken");
        assert!(!accepts(&["*;q=0"]));
        assert!(!accepts(&["gzip;q=high"]), "a weight that does not parse");
        assert!(!accepts(&["gzipped"]));
    }
}
