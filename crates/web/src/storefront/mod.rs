//! The customer storefront: server-rendered pages (menu, pizza builder, cart, checkout,
//! order status, my orders) that work without JavaScript, plus one small script that adds
//! live prices, live stock, sale countdowns and a checkout that survives a flaky network.

mod account;
mod assets;
mod buyer;
mod cart_cookie;
mod cart_page;
mod catalog_view;
mod checkout;
mod display;
mod illustration;
mod line_page;
mod link_page;
pub mod live_stock;
mod menu;
mod messages;
mod my_orders;
mod order_page;
mod page;
pub mod page_cache;
mod product_page;
mod saved_cart;
mod static_files;
mod verify_email;

pub use account::routes as account_routes;
pub use assets::{ADMIN_CSS, ADMIN_JS, CSS as SHOP_CSS};
pub use display::{price as display_price, wait_label};
pub(crate) use messages::explain;
pub(crate) use order_page::cancel_not_allowed;
pub use order_page::{OrderView, number as order_number};
pub use page::{Shell, fallback, message_page, render, render_with_csp, see_other};

use crate::AppState;
use axum::Router;
use axum::routing::{get, post};

/// Every storefront route, and the live stock stream. A signed-in customer's cart changes
/// are saved on their account (see `saved_cart`).
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(menu::show))
        .route("/products/{id}", get(product_page::show))
        .route("/products/{id}/line", get(line_page::show).post(line_page::join))
        .route("/products/{id}/line/buy", post(line_page::buy))
        .route("/cart", get(cart_page::show))
        .route("/cart/add", post(cart_page::add))
        .route("/cart/update", post(cart_page::update))
        .route("/cart/remove", post(cart_page::remove))
        .route("/checkout", get(checkout::show).post(checkout::submit))
        .route("/orders/{id}", get(order_page::show))
        .route("/orders/{id}/cancel", post(order_page::cancel))
        .route("/my-orders", get(my_orders::show).post(my_orders::request_link))
        .route("/my-orders/open", get(my_orders::LANDING.form()).post(my_orders::open))
        .route("/static/{file}", get(static_files::serve))
        .route_layer(axum::middleware::from_fn_with_state(state, saved_cart::keep))
}
