//! Cancelling an order from the dashboard. It returns the stock and tells the customer, and
//! cannot be undone, so it is always confirmed (the script's `confirm()`, or without
//! JavaScript a confirmation page) and, unless the owner allows the kitchen
//! (`--kitchen-can-cancel`), left to admins.

use super::order_detail::change_status;
use super::page::{AdminError, AdminShell};
use crate::AppState;
use crate::auth::guard::Staff;
use crate::shop::ShopSettings;
use crate::storefront::{OrderView, message_page, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use stampede_domain::OrderStatus;
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

/// The cancel form; `confirm=yes` once the person has said they mean it.
#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    confirm: String,
}

/// `POST /admin/orders/{id}/cancel`.
pub async fn cancel(
    State(app): State<AppState>,
    Staff(staff): Staff,
    Path(id): Path<String>,
    Form(form): Form<CancelForm>,
) -> Result<Response, AdminError> {
    let order = app.store.order(&id).await?.ok_or(AdminError::NotFound("order"))?;
    confirm_then_cancel(&app, &staff, order, form.confirm == "yes").await
}

/// Refuses staff who may not cancel, asks for confirmation when it is missing, and cancels.
pub async fn confirm_then_cancel(
    app: &AppState,
    staff: &User,
    order: Order,
    confirmed: bool,
) -> Result<Response, AdminError> {
    if !may_cancel(&app.shop, staff.role) {
        return Ok(message_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Only an admin can cancel orders",
            "Nothing was changed. Ask an admin to cancel this order.",
        ));
    }
    if !confirmed {
        let view = OrderView::new(&order);
        let shell = AdminShell::new(format!("Cancel order #{}?", view.number), staff, "orders");
        return Ok(render(StatusCode::OK, &ConfirmPage { shell, order: view }));
    }
    change_status(app, staff, order, OrderStatus::Cancelled).await
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
