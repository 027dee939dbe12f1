//! WAN Pizza's order form (github SandasWijethunga/e--commerce-platform, `order.html`): a static
//! page on another site whose forms post `pizza_type` (a product name), `quantity`,
//! `customer_name` and `customer_email` as `application/x-www-form-urlencoded`. The answer is a
//! storefront page: the order's confirmation, or what to fix.
//!
//! The form carries no CSRF token: it comes from another site by design. That is acceptable
//! because this route can only place an order, as any anonymous JSON API client can, under the
//! same rate limits and per-customer limits; it reads no cookies (`auth::visitor` treats the
//! path like the API: no session, no cart), so a forged post can neither act as a signed-in
//! person nor change anything that already exists.

use crate::api::order_body::{CustomerBody, PlaceOrderBody};
use crate::api::orders::place_api_order;
use crate::auth::visitor::Visitor;
use crate::storefront::{OrderView, Shell, explain, message_page, render};
use crate::{AppState, Problem};
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use stampede_store::clock::now_millis;
use std::net::SocketAddr;

/// Where the form's `action` points.
pub const ORDER_PATH: &str = "/compat/wan-pizza/order";

/// The form's fields, exactly as `order.html` names them.
#[derive(Debug, Default, Deserialize)]
pub struct OrderForm {
    #[serde(default)]
    pizza_type: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    customer_name: String,
    #[serde(default)]
    customer_email: String,
}

#[derive(Template)]
#[template(path = "compat/wan_pizza_placed.html")]
struct PlacedPage {
    shell: Shell,
    order: OrderView,
}

/// `POST /compat/wan-pizza/order`: places the order (default options for a pizza) and shows
/// its confirmation; anything wrong is a 4xx page that says what, and nothing is placed.
pub async fn order(
    State(app): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    form: Result<Form<OrderForm>, FormRejection>,
) -> Response {
    in_the_shop(&app, place(&app, client, form)).await
}

/// Any other method on the form's address: a page too, as everything on this route is.
pub async fn method_not_allowed(State(app): State<AppState>) -> Response {
    in_the_shop(&app, async {
        let mut response =
            not_placed(StatusCode::METHOD_NOT_ALLOWED, "This address takes the order form only: send the form to it.");
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        response
    })
    .await
}

/// Runs `page` as a page of this shop: the route passes no visitor middleware (it is posted
/// from another site), so its pages would otherwise show the default shop's name.
async fn in_the_shop(app: &AppState, page: impl Future<Output = Response>) -> Response {
    let visitor = Visitor { shop: app.shop.clone(), ..Visitor::default() };
    crate::auth::visitor::scope(visitor, page).await
}

async fn place(
    app: &AppState,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    form: Result<Form<OrderForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(e) if crate::body_deadline::BodyStalled::caused(&e) => {
            return not_placed(
                StatusCode::REQUEST_TIMEOUT,
                "The order form did not arrive in time. Please send it again.",
            );
        }
        Err(_) => {
            return not_placed(StatusCode::BAD_REQUEST, "The order form could not be read. Please send it again.");
        }
    };
    if form.customer_name.trim().is_empty() {
        return not_placed(StatusCode::UNPROCESSABLE_ENTITY, "Enter your name, so we know who the order is for.");
    }
    let products = match app.store.products().await {
        Ok(products) => products,
        Err(e) => return refused(&Problem::from(e), form.pizza_type.trim(), &app.shop.zone),
    };
    let wanted = form.pizza_type.trim().to_lowercase();
    let Some(pizza) = products.into_iter().find(|v| !v.product.archived && v.product.name.to_lowercase() == wanted)
    else {
        let message = format!("We have no pizza called “{}” on the menu.", form.pizza_type.trim());
        return not_placed(StatusCode::NOT_FOUND, &message);
    };
    let Ok(quantity) = form.quantity.trim().parse::<i64>() else {
        return not_placed(StatusCode::UNPROCESSABLE_ENTITY, "Enter how many pizzas you want, from 1 to 100.");
    };
    let body = PlaceOrderBody {
        customer: Some(CustomerBody { email: form.customer_email, name: Some(form.customer_name) }),
        product_id: Some(pizza.product.id),
        quantity: Some(quantity),
        ..PlaceOrderBody::default()
    };
    // No headers pass on: the form's fields are all this route takes from the request.
    match place_api_order(app, client.map(|c| c.0.0.ip()), &HeaderMap::new(), body).await {
        Ok(placed) => {
            let order = OrderView::new(&placed.order);
            let shell = Shell::without_cart(&format!("Order {}", order.number));
            render(StatusCode::OK, &PlacedPage { shell, order })
        }
        Err(problem) => refused(&problem, &pizza.product.name, &app.shop.zone),
    }
}

/// The refusal page for a problem from placement, with `Retry-After` when there is one.
fn refused(problem: &Problem, pizza: &str, zone: &crate::shop_time::ShopZone) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = not_placed(status, &explain(problem, now_millis(), zone, |_| pizza.to_owned()));
    if let Some(secs) = problem.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn not_placed(status: StatusCode, message: &str) -> Response {
    message_page(status, "Order not placed", "Your order was not placed", message)
}
