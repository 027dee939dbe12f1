//! The staff dashboard at `/admin`, server-rendered like the storefront: orders (live list,
//! filters, detail, status workflow) for kitchen staff and admins; products, stock, staff
//! accounts and the audit log for admins. Every change is written to the audit log.

mod audit;
mod cancel;
mod form_values;
mod notifications;
mod order_detail;
mod orders;
mod page;
pub use page::AdminShell;
pub mod product_form;
pub mod products;
mod staff;
mod staff_account;
mod staff_remove;

use crate::AppState;
use crate::auth::guard::{CHANGE_PASSWORD, require_admin, require_staff};
use axum::Router;
use axum::middleware::from_fn;
use axum::response::Redirect;
use axum::routing::{get, post};

/// The dashboard's routes behind the staff guard. `admin_only` holds extra pages for admins
/// (e.g. analytics): they are mounted next to the products pages, behind the same guard.
pub fn routes(admin_only: Router<AppState>) -> Router<AppState> {
    let kitchen = Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/orders") }))
        .route("/admin/orders", get(orders::list))
        .route("/admin/orders/rows", get(orders::rows))
        .route("/admin/orders/events", get(orders::events))
        .route("/admin/orders/{id}", get(order_detail::show))
        .route("/admin/orders/{id}/status", post(order_detail::set_status))
        .route("/admin/orders/{id}/cancel", post(order_detail::cancel))
        .route(CHANGE_PASSWORD, get(staff_account::change_form).post(staff_account::change_own));
    let admin = Router::new()
        .route("/admin/products", get(products::list).post(products::create))
        .route("/admin/products/new", get(products::new_form))
        .route("/admin/products/{id}", get(products::edit_form).post(products::update))
        .route("/admin/products/{id}/archive", post(products::archive))
        .route("/admin/products/{id}/stock", post(products::adjust_stock))
        .route("/admin/audit", get(audit::show))
        .route("/admin/notifications", get(notifications::show))
        .route("/admin/notifications/retry", post(notifications::retry_all))
        .route("/admin/notifications/{id}/retry", post(notifications::retry_one))
        .route("/admin/staff", get(staff::show).post(staff::create))
        .route("/admin/staff/{id}/remove", post(staff_remove::remove))
        .route("/admin/staff/{id}/deactivate", post(staff_account::deactivate))
        .route("/admin/staff/{id}/reactivate", post(staff_account::reactivate))
        .route("/admin/staff/{id}/password", post(staff_account::reset_password))
        .merge(admin_only)
        .route_layer(from_fn(require_admin));
    kitchen.merge(admin).route_layer(from_fn(require_staff))
}
