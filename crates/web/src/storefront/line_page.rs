//! "You're in line": a waiting-room product's page (#14). Joining sets a cookie with the
//! ticket; the page shows the place among those still waiting (always one more than the
//! people ahead; those already let in are mentioned apart, not counted as ahead) and the
//! estimated wait, announced politely to screen readers. The script follows the ticket's event stream (polling where
//! streams are cut); without JavaScript the page reloads every few seconds. Once admitted,
//! the buy form appears with the admission's countdown; it orders through the same gate as
//! the API, with the ticket.

use super::explain;
use super::page::{PageError, Shell, render, see_other};
use crate::api::orders::place_admitted;
use crate::api::queue::{QueueState, QueueTicketDto, status_of};
use crate::timefmt::parse_rfc3339;
use crate::{AppState, Problem};
use askama::Template;
use axum::extract::ConnectInfo;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use stampede_domain::{Customer, Fulfilment, LineRequest, OrderRequest, Ticket};
use stampede_store::clock::now_millis;
use stampede_store::{PlaceOrder, ProductView};
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// Seconds between reloads of the page without JavaScript.
const REFRESH_SECS: i64 = 5;

#[derive(Template)]
#[template(path = "storefront/line.html")]
struct LinePage {
    shell: Shell,
    product_id: String,
    name: String,
    /// Where the ticket stands; `None` before joining.
    status: Option<QueueTicketDto>,
    /// The admission's end: Unix ms for the script, and in the shop's zone for people.
    until_ms: i64,
    until_label: String,
    /// The sale's opening in the shop's zone, while it has not opened.
    opens_label: String,
    wait_label: String,
    email: String,
    max_quantity: u32,
    /// Idempotency key of the buy form, so a double submit orders once.
    key: String,
    error: Option<String>,
}

impl LinePage {
    fn state(&self) -> &'static str {
        match self.status.as_ref().map(|s| s.state) {
            None => "none",
            Some(QueueState::Waiting) => "waiting",
            Some(QueueState::Admitted) => "admitted",
            Some(QueueState::Expired) => "expired",
            Some(QueueState::SoldOut) => "soldOut",
        }
    }
}

/// The cookie holding this browser's ticket for a product (ids are slugs: valid cookie names).
fn cookie_name(product_id: &str) -> String {
    format!("line-{product_id}")
}

fn cookies(app: &AppState) -> crate::auth::cookies::CookiePolicy {
    app.auth.as_deref().map(|a| a.cookies).unwrap_or_default()
}

async fn room_product(app: &AppState, id: &str) -> Result<ProductView, PageError> {
    let view = app.store.product(id).await?.filter(|v| !v.product.archived).ok_or(PageError::NotFound)?;
    if view.product.sale.waiting_room.is_none() {
        return Err(PageError::NotFound);
    }
    Ok(view)
}

fn signed_in_email() -> Option<String> {
    crate::auth::visitor::current()?.user.map(|u| u.email)
}

/// Human "about N minutes" for an estimated wait.
fn wait_words(secs: u64) -> String {
    match secs {
        0..=59 => "less than a minute".to_owned(),
        60..=119 => "about a minute".to_owned(),
        s => format!("about {} minutes", s.div_ceil(60)),
    }
}

fn page(
    app: &AppState,
    view: &ProductView,
    status: Option<QueueTicketDto>,
    email: String,
    error: Option<String>,
) -> LinePage {
    let until_ms = status.as_ref().and_then(|s| s.admitted_until.as_deref()).and_then(parse_rfc3339).unwrap_or(0);
    let p = &view.product;
    let max_quantity = [Some(view.stock), p.sale.per_order_max, p.sale.per_customer_max, Some(10)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(1)
        .max(1);
    let mut shell = Shell::without_cart(&format!("{} · in line", p.name));
    // Without JavaScript a waiting page reloads itself; an admitted one does not, so the
    // buy form is not reset while the customer fills it in.
    if status.as_ref().is_some_and(|s| s.state == QueueState::Waiting) {
        shell.refresh_in = Some(REFRESH_SECS);
    }
    LinePage {
        shell,
        product_id: p.id.clone(),
        name: p.name.clone(),
        wait_label: status.as_ref().map(|s| wait_words(s.estimated_wait_seconds)).unwrap_or_default(),
        until_label: if until_ms > 0 { app.shop.zone.label(until_ms) } else { String::new() },
        opens_label: status
            .as_ref()
            .and_then(|s| s.sale_starts_at.as_deref())
            .and_then(parse_rfc3339)
            .map(|o| app.shop.zone.label(o))
            .unwrap_or_default(),
        until_ms,
        status,
        email,
        max_quantity,
        key: stampede_store::ids::v7().to_string(),
        error,
    }
}

/// `GET /products/{id}/line`: the join form, or where this browser's ticket stands.
pub async fn show(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let view = room_product(&app, &id).await?;
    let ticket = cookies(&app).read(&headers, &cookie_name(&id)).map(str::to_owned);
    let status = match ticket {
        Some(t) => status_of(&app, &id, &t).await.ok(),
        None => None,
    };
    let email = signed_in_email().unwrap_or_default();
    Ok(render(StatusCode::OK, &page(&app, &view, status, email, None)))
}

#[derive(Debug, Deserialize)]
pub struct JoinForm {
    #[serde(default)]
    email: String,
}

/// `POST /products/{id}/line`: joins the line as the signed-in customer or the given email.
pub async fn join(
    State(app): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    Path(id): Path<String>,
    Form(form): Form<JoinForm>,
) -> Result<Response, PageError> {
    let view = room_product(&app, &id).await?;
    let email = signed_in_email().unwrap_or(form.email);
    let refused = |app: &AppState, message: String, status: StatusCode, retry_after: Option<u64>| {
        let mut response = render(status, &page(app, &view, None, email.clone(), Some(message)));
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    };
    let customer = match Customer::with_email(&email, None) {
        Ok(c) => c,
        Err(e) => {
            let message = format!("Your email: {}.", e.message);
            return Ok(refused(&app, message, StatusCode::UNPROCESSABLE_ENTITY, None));
        }
    };
    let checked = app
        .join_limits
        .check_ip(client.map(|c| c.0.0.ip()))
        .and_then(|()| crate::api::queue::check_rejoin(&app, &id, customer));
    let joined = match checked {
        Ok(holder) => crate::api::queue::join_checked(&app, &view, holder).await,
        Err(p) => Err(p),
    };
    match joined {
        Ok(token) => {
            let cookie = cookies(&app).set(&cookie_name(&id), &token, Some(86_400));
            Ok(see_other(&format!("/products/{id}/line"), Some(cookie)))
        }
        Err(problem) => {
            let message = match problem.kind.as_str() {
                // Joining hands out no ticket when it fails, so the page says so (not the order queue's text).
                "/problems/busy" => format!(
                    "We couldn't save your place in line just now, so you don't have one yet. Please try again in {}.",
                    seconds_label(problem.retry_after.unwrap_or(1))
                ),
                _ => say(&app, &problem, &view),
            };
            Ok(refused(&app, message, status_of_problem(&problem), problem.retry_after))
        }
    }
}

fn seconds_label(secs: u64) -> String {
    if secs == 1 { "a second".to_owned() } else { format!("{secs} seconds") }
}

fn status_of_problem(problem: &Problem) -> StatusCode {
    StatusCode::from_u16(problem.status).unwrap_or(StatusCode::CONFLICT)
}

fn say(app: &AppState, problem: &Problem, view: &ProductView) -> String {
    explain(problem, now_millis(), &app.shop.zone, |_| view.product.name.clone())
}

#[derive(Debug, Deserialize)]
pub struct BuyForm {
    quantity: u32,
    key: String,
}

/// `POST /products/{id}/line/buy`: the admitted customer's order, with their ticket.
pub async fn buy(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<BuyForm>,
) -> Result<Response, PageError> {
    let view = room_product(&app, &id).await?;
    let Some(token) = cookies(&app).read(&headers, &cookie_name(&id)).map(str::to_owned) else {
        return Ok(see_other(&format!("/products/{id}/line"), None));
    };
    // The ticket names the customer; `status_of` below refuses a ticket that is not genuine.
    let opened = Ticket::open(&token, &app.signer, now_millis()).ok();
    let customer = opened.and_then(|t| Customer::with_email(&t.ticket.customer.0, None).ok());
    let request = customer.ok_or(()).and_then(|c| {
        LineRequest::new(&id, i64::from(form.quantity), BTreeMap::new())
            .and_then(|line| OrderRequest::new(c, vec![line]))
            .map(|r| r.with_fulfilment(Some(Fulfilment::Pickup)))
            .map_err(drop)
    });
    let key = Some(form.key).filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()));
    let placed = match request {
        Ok(request) => place_admitted(&app, PlaceOrder { request, idempotency_key: key }, Some(&token)).await,
        Err(()) => Err(Problem::invalid_field("quantity", "choose how many to buy")),
    };
    match placed {
        Ok(placed) => {
            let order_id = &placed.order.id;
            let mut response = see_other(&format!("/orders/{order_id}?placed=1"), None);
            let access = crate::auth::order_access::cookie_with(&app.signer, app.auth.as_deref(), &headers, order_id);
            if let Ok(value) = HeaderValue::from_str(&access) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            Ok(response)
        }
        Err(problem) => {
            let status = status_of(&app, &id, &token).await.ok();
            let email = signed_in_email().unwrap_or_default();
            let message = say(&app, &problem, &view);
            Ok(render(status_of_problem(&problem), &page(&app, &view, status, email, Some(message))))
        }
    }
}
