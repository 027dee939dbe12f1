//! Cancelling an order from the dashboard. It returns the stock and tells the customer, and
//! cannot be undone, so it is always confirmed (the script's `confirm()`, or without
//! JavaScript a confirmation page) and, unless the owner allows the kitchen
//! (`--kitchen-can-cancel`), left to admins. This module decides who may and asks; the
//! handlers that cancel are with the order's other buttons in `order_detail`.

use super::page::AdminShell;
use crate::AppState;
use crate::storefront::{OrderView, cancel_not_allowed, render};
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use stampede_store::{Order, User};

#[derive(Template)]
#[template(path = "admin/cancel.html")]
struct ConfirmPage {
    shell: AdminShell,
    order: OrderView,
}

/// Refuses staff who may not cancel, and asks for confirmation when it is missing; `None`
/// when `staff` may cancel `order` now. The buttons that cancel are in `order_detail`.
pub fn refusal_or_confirmation(app: &AppState, staff: &User, order: &Order, confirmed: bool) -> Option<Response> {
    if !app.shop.may_cancel(staff.role) {
        return Some(cancel_not_allowed());
    }
    if !confirmed {
        let view = OrderView::new(order);
        let shell = AdminShell::new(format!("Cancel order #{}?", view.number), staff, "orders");
        return Some(render(StatusCode::OK, &ConfirmPage { shell, order: view }));
    }
    None
}
