//! "My orders" for guests: they ask for their orders by email, and the shop *sends* a
//! one-time link to that address (see `auth::email_links`). The page answers the same
//! whether or not the address has orders, so it reveals nothing about anyone. Opening the
//! link lets this browser list that email's orders for an hour. Signed-in people have
//! their orders under `/account`.

use super::cart_cookie::Cart;
use super::link_page::{OpenLinkPage, Token};
use super::order_page::OrderView;
use super::page::{PageError, Shell, render, see_other};
use crate::AppState;
use crate::auth::email_links;
use crate::auth::login_limits::{Refusal, retry_secs};
use crate::auth::visitor::Visitor;
use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use stampede_domain::Customer;
use stampede_store::clock::now_millis;
use stampede_store::{LinkPurpose, PageRequest};
use std::net::SocketAddr;

/// Orders per page.
const PAGE: u32 = 20;

/// What the page shows.
enum Shown {
    /// The form asking for an email.
    Ask { email: String, error: Option<String> },
    /// After a request: "check your inbox", whatever the address.
    Sent { email: String },
    /// An opened link: that email's orders.
    Orders { email: String, orders: Vec<OrderView>, next_cursor: Option<String> },
}

#[derive(Template)]
#[template(path = "storefront/my_orders.html")]
struct MyOrdersPage {
    shell: Shell,
    state: Shown,
    minutes: u64,
}

fn page(headers: &HeaderMap, state: Shown) -> MyOrdersPage {
    MyOrdersPage {
        shell: Shell::new("My orders", &Cart::from_headers(headers)),
        state,
        minutes: email_links::LOOKUP_LINK_TTL.as_secs() / 60,
    }
}

/// `?cursor=` for older orders.
#[derive(Deserialize)]
pub struct Older {
    cursor: Option<String>,
}

/// `GET /my-orders`: the orders of an opened link, or the form asking for an email.
pub async fn show(
    State(app): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    headers: HeaderMap,
    Query(older): Query<Older>,
) -> Result<Response, PageError> {
    if visitor.user.is_some() {
        return Ok(see_other("/account", None));
    }
    let cookies = app.auth.as_ref().map(|a| a.cookies).unwrap_or_default();
    let Some(email) = email_links::looked_up(cookies, &app.signer, &headers, now_millis()) else {
        return Ok(render(StatusCode::OK, &page(&headers, Shown::Ask { email: String::new(), error: None })));
    };
    let key = Customer::with_email(&email, None).map_err(|_| PageError::NotFound)?.key;
    let found = app.store.customer_orders(&key, PageRequest { cursor: older.cursor.as_deref(), limit: PAGE }).await?;
    let orders = found.orders.iter().map(OrderView::new).collect();
    let state = Shown::Orders { email, orders, next_cursor: found.next_cursor };
    Ok(render(StatusCode::OK, &page(&headers, state)))
}

/// The lookup form's field.
#[derive(Deserialize)]
pub struct Lookup {
    #[serde(default)]
    email: String,
}

/// `POST /my-orders`: emails a lookup link to the address (within limits), and says so.
pub async fn request_link(
    State(app): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<Lookup>,
) -> Result<Response, PageError> {
    let email = form.email.trim().to_owned();
    let Ok(customer) = Customer::with_email(&email, None) else {
        let error = Some("Enter an email address like name@example.com.".to_owned());
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page(&headers, Shown::Ask { email, error })));
    };
    let auth = app.auth.as_ref().ok_or(PageError::NotFound)?;
    // Requests share the sign-in allowance of the client's address, so the form cannot be
    // used to flood inboxes from one place.
    if let Err(Refusal::RateLimited(wait) | Refusal::LockedOut(wait)) =
        auth.limits.admit_address(client.map(|c| c.0.0.ip()))
    {
        let secs = retry_secs(wait);
        let error = Some(format!("Too many requests from your network. Try again in {secs} s."));
        let mut response = render(StatusCode::TOO_MANY_REQUESTS, &page(&headers, Shown::Ask { email, error }));
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return Ok(response);
    }
    let address = customer.email.unwrap_or_default();
    // Past the per-email allowance nothing is sent, and the page still says the same.
    email_links::send(auth, LinkPurpose::OrderLookup, &address, now_millis()).await?;
    Ok(render(StatusCode::OK, &page(&headers, Shown::Sent { email: address })))
}

/// `GET /my-orders/open?token=`: a button that opens the link (a mail scanner fetching
/// the link does not use it up).
pub static LANDING: OpenLinkPage = OpenLinkPage {
    heading: "Your orders",
    message: "Press the button to see the orders placed under your email address.",
    action: "/my-orders/open",
    button: "Show my orders",
};

/// `POST /my-orders/open`: uses the link up and lets this browser list its email's orders.
pub async fn open(State(app): State<AppState>, Form(form): Form<Token>) -> Result<Response, PageError> {
    let auth = app.auth.as_ref().ok_or(PageError::NotFound)?;
    let now = now_millis();
    match email_links::open(auth, LinkPurpose::OrderLookup, &form.token, now).await? {
        Some(email) => {
            let cookie = email_links::lookup_cookie(auth.cookies, &app.signer, &email, now);
            Ok(see_other("/my-orders", Some(cookie)))
        }
        None => Ok(super::message_page(
            StatusCode::GONE,
            "Link expired",
            "This link no longer works",
            "Links to your orders work once, for 30 minutes. Ask for a new one under My orders.",
        )),
    }
}
