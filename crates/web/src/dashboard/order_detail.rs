//! `/admin/orders/{id}`: one order, and the buttons that move it along the workflow
//! (received → preparing → ready or out for delivery → completed). Cancelling (while received
//! or preparing; it returns the stock) sits apart and is confirmed first: see `cancel`.
//! The store writes each change's outbox event.

use super::cancel::refusal_or_confirmation;
use super::orders::staff_label;
use super::page::{AdminError, AdminShell, ConfirmForm, Done, auth, redirect_done};
use crate::AppState;
use crate::auth::guard::Staff;
use crate::storefront::{OrderView, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use stampede_domain::{Fulfilment, OrderStatus};
use stampede_store::{Order, StoreError, User};

/// A button for a status the order may move to.
pub struct Action {
    pub status: &'static str,
    pub label: String,
}

/// Whether the page offers cancelling.
#[derive(PartialEq, Eq)]
pub enum CancelOffer {
    /// The order is past the point of cancelling.
    No,
    /// Offered, with a confirmation.
    Yes,
    /// It could be cancelled, but not by this person.
    AdminOnly,
}

#[derive(Template)]
#[template(path = "admin/order.html")]
struct OrderPage {
    shell: AdminShell,
    order: OrderView,
    status_name: &'static str,
    /// The API's `userId` for orders placed without an email (the flash-sale shorthand).
    user_id: Option<String>,
    actions: Vec<Action>,
    cancel: CancelOffer,
    /// When it was placed, in the shop's zone.
    placed: String,
    /// When it is wanted, in the shop's zone.
    when: String,
    notice: Option<String>,
    error: Option<String>,
}

/// The next steps staff may take with `order`. Between preparing and completed the route
/// follows the order's fulfilment; orders placed without one offer both. Cancelling is not a
/// next step: the page offers it apart.
pub fn actions(order: &Order) -> Vec<Action> {
    OrderStatus::ALL
        .into_iter()
        .filter(|next| *next != OrderStatus::Cancelled && order.status.can_become(*next))
        .filter(|next| {
            !matches!(
                (&order.fulfilment, next),
                (Some(Fulfilment::Pickup), OrderStatus::OutForDelivery)
                    | (Some(Fulfilment::Delivery(_)), OrderStatus::Ready)
            )
        })
        .map(|next| Action {
            status: next.as_str(),
            label: match next {
                OrderStatus::Preparing => "Start preparing".into(),
                OrderStatus::Ready => "Mark ready for pickup".into(),
                OrderStatus::OutForDelivery => "Send out for delivery".into(),
                OrderStatus::Completed => "Mark completed".into(),
                OrderStatus::Received | OrderStatus::Cancelled => staff_label(next).into(),
            },
        })
        .collect()
}

fn page(app: &AppState, staff: &User, order: &Order, notice: Option<String>, error: Option<String>) -> OrderPage {
    let view = OrderView::new(order);
    let cancel = match (order.status.can_become(OrderStatus::Cancelled), app.shop.may_cancel(staff.role)) {
        (false, _) => CancelOffer::No,
        (true, true) => CancelOffer::Yes,
        (true, false) => CancelOffer::AdminOnly,
    };
    OrderPage {
        cancel,
        placed: app.shop.zone.label(order.created_at),
        when: view.when(&app.shop.zone),
        shell: AdminShell::new(format!("Order #{}", view.number), staff, "orders"),
        status_name: staff_label(order.status),
        user_id: order.customer.key.0.strip_prefix("user:").map(str::to_owned),
        actions: actions(order),
        order: view,
        notice,
        error,
    }
}

/// The order `id`, or the dashboard's not-found page.
async fn find(app: &AppState, id: &str) -> Result<Order, AdminError> {
    app.store.order(id).await?.ok_or(AdminError::NotFound("order"))
}

/// `GET /admin/orders/{id}`.
pub async fn show(
    State(app): State<AppState>,
    Staff(staff): Staff,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, AdminError> {
    let order = find(&app, &id).await?;
    let notice = done
        .done
        .as_deref()
        .and_then(OrderStatus::parse)
        .filter(|s| *s == order.status)
        .map(|s| format!("Order is now {}.", staff_label(s).to_lowercase()));
    Ok(render(StatusCode::OK, &page(&app, &staff, &order, notice, None)))
}

/// The status form.
#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
    /// A cancel sent here is confirmed like the cancel button's (see `cancel`).
    #[serde(flatten)]
    cancel: ConfirmForm,
}

/// `POST /admin/orders/{id}/status`: moves the order, audits it, and shows it again. A
/// cancel sent here gets the same role check and confirmation as the cancel button's.
pub async fn set_status(
    State(app): State<AppState>,
    Staff(staff): Staff,
    Path(id): Path<String>,
    Form(form): Form<StatusForm>,
) -> Result<Response, AdminError> {
    let current = find(&app, &id).await?;
    match OrderStatus::parse(&form.status) {
        Some(OrderStatus::Cancelled) => confirm_then_cancel(&app, &staff, current, form.cancel.confirmed()).await,
        Some(next) => change_status(&app, &staff, current, next).await,
        None => Ok(render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(&app, &staff, &current, None, Some("Pick one of the buttons below.".into())),
        )),
    }
}

/// `POST /admin/orders/{id}/cancel`.
pub async fn cancel(
    State(app): State<AppState>,
    Staff(staff): Staff,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, AdminError> {
    let order = find(&app, &id).await?;
    confirm_then_cancel(&app, &staff, order, form.confirmed()).await
}

/// Cancels `order` once `staff` may and has confirmed (see `cancel::refusal_or_confirmation`).
async fn confirm_then_cancel(
    app: &AppState,
    staff: &User,
    order: Order,
    confirmed: bool,
) -> Result<Response, AdminError> {
    match refusal_or_confirmation(app, staff, &order, confirmed) {
        Some(answer) => Ok(answer),
        None => change_status(app, staff, order, OrderStatus::Cancelled).await,
    }
}

/// Moves `current` to `next`, audits it, and sends staff back to the order; a change someone
/// else made first, or a busy store, is explained on the order's page.
pub(super) async fn change_status(
    app: &AppState,
    staff: &User,
    current: Order,
    next: OrderStatus,
) -> Result<Response, AdminError> {
    let auth = auth(app)?;
    let id = current.id.clone();
    let refuse = |order: &Order, message: String, status: StatusCode| {
        render(status, &page(app, staff, order, None, Some(message)))
    };
    match app.store.set_status(&id, next).await {
        Ok(order) => {
            let detail = format!("{} → {}", current.status.as_str(), order.status.as_str());
            auth.audit(staff, "order.status", &id, detail).await;
            Ok(redirect_done(&format!("/admin/orders/{id}"), "done", order.status.as_str()))
        }
        Err(StoreError::InvalidTransition { from, to, .. }) => {
            // Someone else moved it first: show where it is now.
            let now = app.store.order(&id).await?.unwrap_or(current);
            let message = format!(
                "This order is {} and cannot become {}; it may have been changed by someone else.",
                staff_label(from).to_lowercase(),
                staff_label(to).to_lowercase()
            );
            Ok(refuse(&now, message, StatusCode::CONFLICT))
        }
        Err(StoreError::Busy { .. }) => Ok(refuse(
            &current,
            "The shop is very busy right now; nothing was changed. Try again in a moment.".into(),
            StatusCode::SERVICE_UNAVAILABLE,
        )),
        Err(e) => Err(e.into()),
    }
}
