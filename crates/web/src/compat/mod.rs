//! The original projects' own front ends, working against Stampede unmodified: the Serverless
//! E-Commerce Flash Sale Handler's React app (`/compat/serverless-ecommerce`) and WAN Pizza's
//! `order.html` form (`/compat/wan-pizza/order`). Each module only translates its project's
//! request into a `PlaceOrderBody` and the answer back; placement, validation, limits and
//! idempotency are the JSON API's own (`api::orders::place_api_order`).

pub mod serverless_ecommerce;
pub mod wan_pizza;

use crate::AppState;
use crate::cors::{self, AllowedOrigins};
use axum::Router;
use axum::routing::{get, post};

/// Both compat surfaces. The Flash Sale Handler's routes answer CORS for any origin unless
/// `origins` narrows it, as its Lambdas did (they carry no credentials); WAN Pizza's form is a
/// plain cross-site form post, which needs no CORS.
pub fn routes(origins: &AllowedOrigins) -> Router<AppState> {
    let narrowed = match origins {
        AllowedOrigins::None => &AllowedOrigins::Any,
        other => other,
    };
    let mut flash_sale = Router::new()
        .route(serverless_ecommerce::PRODUCTS_PATH, get(serverless_ecommerce::products))
        .route(serverless_ecommerce::ORDERS_PATH, post(serverless_ecommerce::place_order))
        .method_not_allowed_fallback(serverless_ecommerce::method_not_allowed);
    if let Some(cors) = cors::layer(narrowed) {
        flash_sale = flash_sale.layer(cors).layer(axum::middleware::map_response(cors::preflight_no_content));
    }
    flash_sale.route(wan_pizza::ORDER_PATH, post(wan_pizza::order).fallback(wan_pizza::method_not_allowed))
}
