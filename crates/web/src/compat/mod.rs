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
    flash_sale.route(wan_pizza::ORDER_PATH, post(wan_pizza::order))
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
    use super::major_units;

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
