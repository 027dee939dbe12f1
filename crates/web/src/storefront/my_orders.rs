//! `GET /my-orders?email=`: a customer's past orders, found by email until accounts exist.

use super::cart::Cart;
use super::order_page::OrderView;
use super::page::{PageError, Shell, render};
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use stampede_domain::Customer;

/// Orders per page.
const PAGE: u32 = 20;

/// The lookup form's fields.
#[derive(Deserialize)]
pub struct Lookup {
    email: Option<String>,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "storefront/my_orders.html")]
struct MyOrdersPage {
    shell: Shell,
    email: String,
    error: Option<String>,
    /// `None` until an email was looked up.
    orders: Option<Vec<OrderView>>,
    next_cursor: Option<String>,
}

/// The lookup form and, once an email is given, its orders newest first.
pub async fn show(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(lookup): Query<Lookup>,
) -> Result<Response, PageError> {
    let shell = Shell::new("My orders", &Cart::from_headers(&headers));
    let email = lookup.email.unwrap_or_default().trim().to_owned();
    let mut page = MyOrdersPage { shell, email, error: None, orders: None, next_cursor: None };
    if page.email.is_empty() {
        return Ok(render(StatusCode::OK, &page));
    }
    let Ok(customer) = Customer::with_email(&page.email, None) else {
        page.error = Some("Enter an email address like name@example.com.".into());
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page));
    };
    let found = app.store.customer_orders(&customer.key, lookup.cursor.as_deref(), PAGE).await?;
    page.orders = Some(found.orders.iter().map(OrderView::new).collect());
    page.next_cursor = found.next_cursor;
    Ok(render(StatusCode::OK, &page))
}
