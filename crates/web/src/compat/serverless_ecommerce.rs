//! The Serverless E-Commerce Flash Sale Handler's API (github vaibhav343343/serverless-ecommerce-aws)
//! as its React app and README use it, so the app works with `VITE_API_URL` pointed here:
//! `GET /products` → `{"products": [...], "count": N}`; `POST /orders` with
//! `{"userId", "productId", "quantity"}` → `200 {"message", "orderId", "status", "totalAmount"}`;
//! every error `{"error": "<sentence>"}`. Prices are major-unit numbers, as its DynamoDB held them.

use crate::api::order_body::PlaceOrderBody;
use crate::api::orders::{place_api_order, placed_response};
use crate::extract::ApiJson;
use crate::{AppState, Problem};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::{Number, Value, json};
use stampede_store::ProductView;
use std::net::SocketAddr;

/// The product list.
pub const PRODUCTS_PATH: &str = "/compat/serverless-ecommerce/products";
/// Order placement.
pub const ORDERS_PATH: &str = "/compat/serverless-ecommerce/orders";

/// A product as the original `Products` table held it, plus `currency` and `soldOut`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ProductItem {
    product_id: String,
    name: String,
    description: String,
    /// Major units: `11` for 1100 cents.
    price: Number,
    currency: String,
    category: String,
    image_url: Option<String>,
    /// Live stock.
    in_stock: u32,
    sold_out: bool,
}

impl From<ProductView> for ProductItem {
    fn from(v: ProductView) -> Self {
        let p = v.product;
        ProductItem {
            price: major_units(p.base_price.amount),
            currency: p.base_price.currency.to_string(),
            product_id: p.id,
            name: p.name,
            description: p.description,
            category: p.category,
            image_url: p.image,
            in_stock: v.stock,
            sold_out: v.stock == 0,
        }
    }
}

/// `GET /compat/serverless-ecommerce/products`: every product on sale, with live stock.
pub async fn products(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, CompatError> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let products: Vec<ProductItem> = app
        .store
        .products()
        .await
        .map_err(Problem::from)?
        .into_iter()
        .filter(|v| !v.product.archived)
        .map(|v| {
            let item = ProductItem::from(v);
            ProductItem { image_url: on_this_shop(item.image_url, host), ..item }
        })
        .collect();
    Ok(Json(json!({ "count": products.len(), "products": products })).into_response())
}

/// `image` as a URL the app loads from this shop, not from its own origin: a path (the
/// dashboard takes one, such as `/static/...`) is made absolute against the host the request
/// named, scheme-relative (`//shop.example/static/...`), so it follows the page's scheme.
fn on_this_shop(image: Option<String>, host: Option<&str>) -> Option<String> {
    let image = image?;
    if url::Url::parse(&image).is_ok() {
        return Some(image);
    }
    let joined = host.and_then(|h| url::Url::parse(&format!("http://{h}/")).ok()).and_then(|b| b.join(&image).ok());
    Some(joined.map_or(image, |url| url.as_str().trim_start_matches("http:").to_owned()))
}

/// `POST /compat/serverless-ecommerce/orders`: the shorthand order, through the API's placement.
pub async fn place_order(
    State(app): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<ApiJson<Value>, Problem>,
) -> Result<Response, CompatError> {
    let ApiJson(value) = body?;
    let body = order_body(&value)?;
    let placed = place_api_order(&app, client.map(|c| c.0.0.ip()), &headers, body).await?;
    let order = placed.order;
    let response = Json(json!({
        "message": "Order placed successfully",
        "orderId": order.id,
        "status": order.status.as_str(),
        "totalAmount": major_units(order.total.amount),
        "currency": order.total.currency.to_string(),
    }))
    .into_response();
    Ok(placed_response(response, order.id, placed.replayed))
}

/// The original's three required fields, checked in its order and with its wording, then the
/// API's own shorthand body: all further validation is the API's.
fn order_body(value: &Value) -> Result<PlaceOrderBody, CompatError> {
    let Some(fields) = value.as_object() else {
        return Err(CompatError::bad_request("Send a JSON object with userId, productId and quantity"));
    };
    if let Some(missing) = ["userId", "productId", "quantity"].into_iter().find(|f| !fields.contains_key(*f)) {
        return Err(CompatError::bad_request(format!("Missing required field: {missing}")));
    }
    let text = |name: &str| {
        fields[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| CompatError::bad_request(format!("{name} must be a string")))
    };
    let quantity = fields["quantity"]
        .as_i64()
        .ok_or_else(|| CompatError::bad_request("quantity must be a whole number from 1 to 100"))?;
    Ok(PlaceOrderBody {
        user_id: Some(text("userId")?),
        product_id: Some(text("productId")?),
        quantity: Some(quantity),
        ..PlaceOrderBody::default()
    })
}

/// An error in the original's shape, `{"error": "<sentence>"}`, with the status its cause deserves.
#[derive(Debug)]
pub struct CompatError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
}

impl CompatError {
    fn bad_request(message: impl Into<String>) -> CompatError {
        CompatError { status: StatusCode::BAD_REQUEST, message: message.into(), retry_after: None }
    }
}

impl From<Problem> for CompatError {
    /// The API's problem, re-shaped: its field errors are this API's `400`s, and a per-order
    /// limit is a `409` like the other limits. A `5xx` problem's detail never holds internals.
    fn from(problem: Problem) -> CompatError {
        let status = match (problem.kind.as_str(), problem.status) {
            ("/problems/order-limit", _) => StatusCode::CONFLICT,
            ("/problems/idempotency-key-reused", _) => StatusCode::UNPROCESSABLE_ENTITY,
            (_, 422) => StatusCode::BAD_REQUEST,
            (_, status) => StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        };
        CompatError { status, message: problem.detail, retry_after: problem.retry_after }
    }
}

impl IntoResponse for CompatError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A known route called with another method.
pub async fn method_not_allowed(method: Method) -> CompatError {
    CompatError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!("Method {method} is not allowed here"),
        retry_after: None,
    }
}

/// Minor units to the major-unit JSON number the original projects used: 1100 cents is `11`,
/// 1450 is `14.5`. Only here, at the edge: inside, money stays integer minor units.
pub fn major_units(minor: i64) -> serde_json::Number {
    if minor % 100 == 0 {
        serde_json::Number::from(minor / 100)
    } else {
        // Exact to the cent: an i64 of cents well within f64's 53 bits prints back as written.
        serde_json::Number::from_f64(minor as f64 / 100.0).unwrap_or_else(|| serde_json::Number::from(minor / 100))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(value: Value) -> String {
        let e = order_body(&value).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        e.message
    }

    #[test]
    fn image_paths_point_at_this_shop_and_urls_stay_as_they_are() {
        let at = |image: &str, host: Option<&str>| on_this_shop(Some(image.to_owned()), host);
        let host = Some("shop.example:8080");
        assert_eq!(at("/static/slice.png", host).as_deref(), Some("//shop.example:8080/static/slice.png"));
        assert_eq!(at("img/slice.png", host).as_deref(), Some("//shop.example:8080/img/slice.png"));
        assert_eq!(at("https://cdn.example/slice.png", host).as_deref(), Some("https://cdn.example/slice.png"));
        assert_eq!(at("/static/slice.png", None).as_deref(), Some("/static/slice.png"), "no host: as it is");
        assert_eq!(at("/x.png", Some("bad host/")).as_deref(), Some("/x.png"), "a host that is no host: as it is");
        assert_eq!(on_this_shop(None, host), None);
    }

    #[test]
    fn missing_and_mistyped_fields_are_named_like_the_original() {
        assert_eq!(refused(json!({"productId": "p", "quantity": 1})), "Missing required field: userId");
        assert_eq!(refused(json!({"userId": "u", "quantity": 1})), "Missing required field: productId");
        assert_eq!(refused(json!({"userId": "u", "productId": "p"})), "Missing required field: quantity");
        assert!(refused(json!({"userId": "u", "productId": "p", "quantity": null})).starts_with("quantity"));
        assert!(refused(json!({"userId": "u", "productId": "p", "quantity": "2"})).starts_with("quantity"));
        assert!(refused(json!({"userId": 7, "productId": "p", "quantity": 1})).starts_with("userId"));
        assert!(refused(json!([1])).contains("JSON object"));
        let body = order_body(&json!({"userId": "u", "productId": "p", "quantity": 3})).unwrap();
        assert_eq!((body.user_id.as_deref(), body.quantity), (Some("u"), Some(3)));
    }

    #[test]
    fn problems_keep_their_cause_in_the_status() {
        let busy = CompatError::from(crate::problem::busy(std::time::Duration::from_secs(2)));
        assert_eq!((busy.status, busy.retry_after), (StatusCode::SERVICE_UNAVAILABLE, Some(2)));
        let invalid = CompatError::from(Problem::invalid_field("quantity", "must be at least 1"));
        assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn cents_become_major_unit_numbers() {
        assert_eq!(major_units(1100).to_string(), "11");
        assert_eq!(major_units(1450).to_string(), "14.5");
        assert_eq!(major_units(1299).to_string(), "12.99");
        assert_eq!(major_units(5).to_string(), "0.05");
        assert_eq!(major_units(0).to_string(), "0");
        assert_eq!(major_units(-250).to_string(), "-2.5");
    }
}
