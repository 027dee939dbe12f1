//! Sales analytics for staff: `/admin/analytics` (charts and tables for a range) and
//! `/admin/orders.csv` (the orders of a range as CSV). These routes carry no authentication
//! of their own: they are mounted behind the staff guard, never on the public router.

mod assets;
mod chart;
mod csv;
mod export;
mod format;
mod page;
mod range;

use crate::AppState;
use axum::Router;
use axum::routing::get;

/// The analytics page, its stylesheet and the orders CSV. Needs `AppState::analytics`
/// (see [`AppState::with_analytics`]); without it they answer 503.
pub fn analytics_routes() -> Router<AppState> {
    Router::new()
        .route("/admin/analytics", get(page::show))
        .route("/admin/analytics.css", get(assets::serve))
        .route("/admin/orders.csv", get(export::download))
}
