//! `GET /orders/{id}`: the confirmation right after checkout and, at the same address, the
//! order's status page. The script polls the order and moves the progress steps along as
//! staff advance it; without JavaScript the page refreshes itself until the order is done.

use super::cart::Cart;
use super::display::{self, price};
use super::page::{PageError, Shell, render};
use crate::AppState;
use crate::timefmt::rfc3339;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use stampede_domain::{Fulfilment, OrderStatus};
use stampede_store::Order;

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
    pub steps: Vec<Step>,
    pub finished: bool,
}

/// A short order number for people: the random tail of the UUIDv7, upper-cased.
pub fn number(id: &str) -> String {
    stampede_domain::order::short_number(id)
}

/// What each status means to the customer.
pub fn status_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Received => "Order received",
        OrderStatus::Preparing => "In the oven",
        OrderStatus::Ready => "Ready for pickup",
        OrderStatus::OutForDelivery => "Out for delivery",
        OrderStatus::Completed => "Completed",
        OrderStatus::Cancelled => "Cancelled",
    }
}

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
                label: status_label(*s),
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
            status_label: status_label(order.status),
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
            steps,
            finished: matches!(order.status, OrderStatus::Completed | OrderStatus::Cancelled),
        }
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
}

/// `?placed=1` right after checkout.
#[derive(Deserialize)]
pub struct OrderQuery {
    placed: Option<String>,
}

/// `GET /orders/{id}`.
pub async fn show(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<OrderQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let order = app.store.order(&id).await?.ok_or(PageError::NotFound)?;
    let view = OrderView::new(&order);
    let title = format!("Order {}", view.number);
    let page = OrderPage {
        shell: Shell::new(title, &Cart::from_headers(&headers)),
        order: view,
        placed: query.placed.is_some(),
    };
    Ok(render(StatusCode::OK, &page))
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
