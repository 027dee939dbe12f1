//! Cancelling an order from the dashboard. It returns the stock and tells the customer, and
//! cannot be undone, so it is always confirmed (the script's `confirm()`, or without
//! JavaScript a confirmation page) and, unless the owner allows the kitchen
//! (`--kitchen-can-cancel`), left to admins. This module decides who may and asks; the
//! handlers that cancel are with the order's other buttons in `order_detail`.

use super::page::AdminShell;
use crate::AppState;
use crate::shop::ShopSettings;
use crate::storefront::{OrderView, message_page, render};
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use stampede_store::{Order, Role, User};

/// Whether staff with `role` may cancel orders in this shop.
pub fn may_cancel(settings: &ShopSettings, role: Role) -> bool {
    match role {
        Role::Admin => true,
        Role::Kitchen => settings.kitchen_can_cancel,
        Role::Customer => false,
    }
}

#[derive(Template)]
#[template(path = "admin/cancel.html")]
struct ConfirmPage {
    shell: AdminShell,
    order: OrderView,
}

/// Refuses staff who may not cancel, and asks for confirmation when it is missing; `None`
/// when `staff` may cancel `order` now. The buttons that cancel are in `order_detail`.
pub fn refusal_or_confirmation(app: &AppState, staff: &User, order: &Order, confirmed: bool) -> Option<Response> {
    if !may_cancel(&app.shop, staff.role) {
        return Some(message_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Only an admin can cancel orders",
            "Nothing was changed. Ask an admin to cancel this order.",
        ));
    }
    if !confirmed {
        let view = OrderView::new(order);
        let shell = AdminShell::new(format!("Cancel order #{}?", view.number), staff, "orders");
        return Some(render(StatusCode::OK, &ConfirmPage { shell, order: view }));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_cancel_unless_the_owner_trusts_the_kitchen() {
        let strict = ShopSettings::default();
        let trusting = ShopSettings { kitchen_can_cancel: true, ..ShopSettings::default() };
        assert!(may_cancel(&strict, Role::Admin));
        assert!(!may_cancel(&strict, Role::Kitchen));
        assert!(may_cancel(&trusting, Role::Kitchen));
        assert!(!may_cancel(&trusting, Role::Customer));
    }
}
