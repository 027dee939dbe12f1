//! `GET /orders/{id}`: the confirmation right after checkout and, at the same address, the
//! order's status page. The script polls the order and moves the progress steps along as
//! staff advance it; without JavaScript the page refreshes itself until the order is done.

use super::cart_cookie::Cart;
use super::display::{self, price};
use super::page::{PageError, Shell, message_page, render, see_other};
use crate::AppState;
use crate::auth::order_access::{self, Canceller};
use crate::timefmt::rfc3339;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use stampede_domain::{Fulfilment, OrderStatus};
use stampede_store::{Order, StoreError};

/// One step of the progress bar.
pub struct Step {
    pub status: &'static str,
    pub label: &'static str,
    /// `done`, `current` or `todo`.
    pub state: &'static str,
}

/// An order line as shown.
pub struct LineView {
    pub quantity: u32,
    pub name: String,
    pub options: String,
    pub total: String,
}

/// An order as the customer sees it.
pub struct OrderView {
    pub id: String,
    pub number: String,
    pub status: &'static str,
    pub status_label: &'static str,
    pub lines: Vec<LineView>,
    pub total: String,
    pub placed_iso: String,
    pub placed_utc: String,
    pub customer: String,
    pub email: String,
    /// "Pickup at the counter" or "Delivery to".
    pub fulfilment: &'static str,
    pub address: Vec<String>,
    /// The number the shop may call, as typed, and for a `tel:` link; empty when none.
    pub phone: String,
    pub phone_dial: String,
    /// The chosen pickup or delivery time; `None` is as soon as possible.
    pub slot: Option<stampede_domain::Millis>,
    pub steps: Vec<Step>,
    pub finished: bool,
}

pub use stampede_domain::short_number as number;

impl OrderView {
    /// The view of `order`.
    pub fn new(order: &Order) -> OrderView {
        let delivery = match &order.fulfilment {
            Some(Fulfilment::Delivery(_)) => true,
            Some(Fulfilment::Pickup) => false,
            // Orders placed without saying (the API's older clients) follow their status.
            None => order.status == OrderStatus::OutForDelivery,
        };
        let middle = if delivery { OrderStatus::OutForDelivery } else { OrderStatus::Ready };
        let path = [OrderStatus::Received, OrderStatus::Preparing, middle, OrderStatus::Completed];
        let at = path.iter().position(|s| *s == order.status);
        let steps = path
            .iter()
            .enumerate()
            .map(|(i, s)| Step {
                status: s.as_str(),
                label: s.label(),
                state: match at {
                    Some(a) if i < a || order.status == OrderStatus::Completed => "done",
                    Some(a) if i == a => "current",
                    _ => "todo",
                },
            })
            .collect();
        let (fulfilment, address) = match &order.fulfilment {
            Some(Fulfilment::Delivery(a)) => {
                ("Delivery to", vec![a.address.clone(), format!("{} {}", a.postcode, a.city)])
            }
            Some(Fulfilment::Pickup) => ("Pickup at the counter", vec![]),
            None => ("", vec![]),
        };
        OrderView {
            id: order.id.clone(),
            number: number(&order.id),
            status: order.status.as_str(),
            status_label: order.status.label(),
            lines: order
                .lines
                .iter()
                .map(|l| LineView {
                    quantity: l.quantity,
                    name: l.product_name.clone(),
                    options: l.options.iter().map(|o| o.choice_name.as_str()).collect::<Vec<_>>().join(", "),
                    total: price(l.line_total),
                })
                .collect(),
            total: price(order.total),
            placed_iso: rfc3339(order.created_at),
            placed_utc: display::utc_label(order.created_at),
            customer: order.customer.name.clone().unwrap_or_default(),
            email: order.customer.email.clone().unwrap_or_default(),
            fulfilment,
            address,
            phone: order.phone.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default(),
            phone_dial: order.phone.as_ref().map(stampede_domain::Phone::dial).unwrap_or_default(),
            slot: order.slot,
            steps,
            finished: matches!(order.status, OrderStatus::Completed | OrderStatus::Cancelled),
        }
    }

    /// The view for someone who holds only the order's id: status and items, nothing personal.
    pub fn without_personal_details(mut self) -> OrderView {
        self.customer.clear();
        self.email.clear();
        self.fulfilment = "";
        self.address.clear();
        self.phone.clear();
        self.phone_dial.clear();
        self.slot = None;
        self
    }

    /// When the order is wanted, in `zone`: "As soon as possible" or the slot's time.
    pub fn when(&self, zone: &crate::shop_time::ShopZone) -> String {
        self.slot.map_or_else(|| "As soon as possible".to_owned(), |at| zone.label(at))
    }

    /// The slot as RFC 3339, for a `<time>` element; empty for as soon as possible.
    pub fn slot_iso(&self) -> String {
        self.slot.map(rfc3339).unwrap_or_default()
    }

    /// Items in one line: "2 × Margherita, 1 × Cola".
    pub fn summary(&self) -> String {
        self.lines.iter().map(|l| format!("{} × {}", l.quantity, l.name)).collect::<Vec<_>>().join(", ")
    }
}

#[derive(Template)]
#[template(path = "storefront/order.html")]
struct OrderPage {
    shell: Shell,
    order: OrderView,
    /// Arrived straight from checkout: say thank you.
    placed: bool,
    /// The customer or staff: personal details are shown.
    trusted: bool,
    /// The customer, or staff who may cancel: cancelling is offered while it is `received`.
    may_cancel: bool,
    /// The access token from the receipt's link, carried into the cancel form.
    key: String,
}

impl OrderPage {
    fn cancellable(&self) -> bool {
        self.may_cancel && self.order.status == OrderStatus::Received.as_str()
    }
}

/// `?placed=1` right after checkout; `?key=` from the receipt's link.
#[derive(Deserialize)]
pub struct OrderQuery {
    placed: Option<String>,
    key: Option<String>,
}

/// `GET /orders/{id}`.
pub async fn show(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<OrderQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let order = app.store.order(&id).await?.ok_or(PageError::NotFound)?;
    let key = query.key.unwrap_or_default();
    let who = order_access::credentials(&app, &headers, Some(&key)).await;
    let trusted = who.viewer(&app.signer, &order).is_trusted();
    let may_cancel =
        matches!(who.canceller(&app.signer, &order, &app.shop), Canceller::Customer | Canceller::Staff { .. });
    let view = OrderView::new(&order);
    let view = if trusted { view } else { view.without_personal_details() };
    let title = format!("Order {}", view.number);
    let page = OrderPage {
        shell: Shell::new(title, &Cart::from_headers(&headers)),
        order: view,
        placed: query.placed.is_some(),
        trusted,
        may_cancel,
        key: if trusted { key } else { String::new() },
    };
    Ok(render(StatusCode::OK, &page))
}

/// The cancel form's fields.
#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    key: String,
}

/// `POST /orders/{id}/cancel`: the customer (or staff) cancels an order still `received`.
pub async fn cancel(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CancelForm>,
) -> Result<Response, PageError> {
    let order = app.store.order(&id).await?.ok_or(PageError::NotFound)?;
    let who = order_access::credentials(&app, &headers, Some(&form.key)).await;
    let canceller = who.canceller(&app.signer, &order, &app.shop);
    match canceller {
        Canceller::Customer | Canceller::Staff { .. } => {}
        Canceller::NotAllowed => return Ok(cancel_not_allowed()),
        Canceller::Stranger => {
            return Ok(message_page(
                StatusCode::FORBIDDEN,
                "Not your order",
                "This order can't be cancelled from here",
                "Only the person who placed an order can cancel it: use the link in your receipt, or sign in.",
            ));
        }
    }
    match app.store.cancel_order(&id).await {
        Ok(_) => {
            if let Canceller::Staff { actor } = &canceller {
                order_access::audit_staff_cancel(&app, actor, &id, order.status).await;
            }
        }
        Err(StoreError::NotCancellable { .. }) => {
            return Ok(message_page(
                StatusCode::CONFLICT,
                "Too late to cancel",
                "The kitchen has already started",
                "This order is already being made (or was cancelled before), so it can't be cancelled any more. \
                 Please call the shop.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let back = if form.key.is_empty() { format!("/orders/{id}") } else { format!("/orders/{id}?key={}", form.key) };
    Ok(see_other(&back, None))
}

/// The answer to staff whose role may not cancel orders (the kitchen, unless the owner
/// allows it), wherever they try.
pub(crate) fn cancel_not_allowed() -> Response {
    message_page(
        StatusCode::FORBIDDEN,
        "Not allowed",
        "Only an admin can cancel orders",
        "Nothing was changed. Ask an admin to cancel this order.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_are_the_short_tail_of_the_id() {
        assert_eq!(number("01935c1d-7b2a-7c00-8f00-00a1b2c3d4e5"), "B2C3D4E5");
        assert_eq!(number("abc"), "ABC");
    }
}
