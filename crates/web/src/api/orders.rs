//! Order endpoints: place (idempotent), read, list by customer, cancel.

use super::dto::{OrderDto, OrderPageDto};
use super::order_body::PlaceOrderBody;
use super::queue;
use super::refusals::{JsonBodyRefusals, RetryLaterRefusals};
use crate::auth::order_access::{self, Canceller};
use crate::extract::{ApiPath, ApiQuery, HeadersAndJson};
use crate::{AppState, Problem, counters, telemetry};
use axum::Extension;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use stampede_domain::CustomerKey;
use stampede_store::{IdempotencyKey, PageRequest, PlaceOrder, Placed};
use std::net::{IpAddr, SocketAddr};
use tracing::Instrument;
use tracing::field::Empty;
use utoipa::IntoParams;

const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Places an order. Stock of every item is taken atomically with the order, or not at all.
#[utoipa::path(post, path = "/api/orders", tag = "orders",
    request_body = PlaceOrderBody,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
        description = "Makes retries safe: the same key and body return the first order; the same key with another body is 422"),
        ("Queue-Ticket" = Option<String>, Header, description = "An admitted waiting-room ticket (or the body's `queueTicket`)")),
    responses(
        (status = 201, description = "Order placed (or replayed for a known Idempotency-Key; then `Idempotent-Replayed: true`)", body = OrderDto,
            headers(("Location" = String, description = "URL of the order"))),
        (status = 400, description = "Malformed JSON, or an invalid or repeated Idempotency-Key", body = Problem),
        (status = 403, description = "The product has a waiting room and no admitted ticket of this customer came with the order (none, forged, altered, expired, another customer's or another product's): `/problems/not-admitted`, with `position` and `ahead` where known", body = Problem),
        (status = 404, description = "Unknown product", body = Problem),
        (status = 409, description = "Out of stock, sale not open or ended, customer limit reached", body = Problem),
        JsonBodyRefusals,
        (status = 422, description = "Invalid fields, unknown option, quantity out of range, key reused with another body, a delivery without `fulfilment.phone`, or a `fulfilment.slot` the shop does not offer (past, too soon, beyond tomorrow, outside the opening hours, off the quarter hours; any slot where no opening hours are set)", body = Problem),
        RetryLaterRefusals,
    ))]
pub async fn place_order(
    State(app): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    HeadersAndJson(headers, body): HeadersAndJson<PlaceOrderBody>,
) -> Result<Response, Problem> {
    let placed = place_api_order(&app, client.map(|c| c.0.0.ip()), &headers, body).await?;
    let (id, replayed) = (placed.order.id.clone(), placed.replayed);
    let access_token = order_access::token(&app.signer, &id);
    let dto = OrderDto { access_token: Some(access_token), ..OrderDto::from(placed.order) };
    Ok(placed_response((StatusCode::CREATED, Json(dto)).into_response(), id, replayed))
}

/// `response`, the answer to a placed order (the JSON API's or a compat surface's), with the
/// order's `Location`, `Idempotent-Replayed: true` where a retry got the first order back,
/// and the order id for the access log.
pub(crate) fn placed_response(response: Response, id: String, replayed: bool) -> Response {
    let mut response = crate::respond::with_location(response, format!("/api/orders/{id}"));
    if replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response.extensions_mut().insert(telemetry::OrderId(id));
    response
}

/// Places a JSON API order: rate limits, validation, `Idempotency-Key`, then placement. The
/// compat surfaces translate their requests into a `PlaceOrderBody` and come through here too.
pub(crate) async fn place_api_order(
    app: &AppState,
    client: Option<IpAddr>,
    headers: &HeaderMap,
    mut body: PlaceOrderBody,
) -> Result<Placed, Problem> {
    app.order_limits.check_ip(client)?;
    let ticket = queue::order_ticket(headers, body.queue_ticket.take());
    let request = body.into_request()?;
    app.shop
        .check_slot(request.slot, stampede_store::clock::now_millis())
        .map_err(|e| Problem::invalid_field(&e.field, &e.message))?;
    let idempotency_key = idempotency_key(headers)?;
    place_admitted(app, PlaceOrder { request, idempotency_key }, ticket.as_deref()).await
}

/// Places an order that passed validation and the address's rate limit, and counts the
/// outcome. The API and the storefront's checkout both place orders through here. Products
/// with a waiting room need a ticket: see [`place_admitted`].
pub(crate) async fn place_checked(app: &AppState, order: PlaceOrder) -> Result<Placed, Problem> {
    place_admitted(app, order, None).await
}

/// [`place_checked`] with the customer's queue ticket, if they sent one: keys the customer
/// for limits (an email without its `+tag`, see `LimitKeyRules`), checks the per-customer
/// rate under that key and the waiting room's admission, then places.
pub(crate) async fn place_admitted(
    app: &AppState,
    mut order: PlaceOrder,
    ticket: Option<&str>,
) -> Result<Placed, Problem> {
    order.request.customer = order.request.customer.with_limit_key(app.shop.limit_keys);
    app.order_limits.check_customer(&order.request.customer.limit_key().0)?;
    let admitted = match queue::check_admission(app, &order.request, ticket).await {
        Ok(admitted) => admitted,
        Err(refused) => {
            counters::order_outcome(refused.kind.trim_start_matches("/problems/"));
            return Err(refused);
        }
    };
    // A child of the request span: an exported trace shows the wait for the writer and the commit.
    let span = tracing::debug_span!("place_order", order_id = Empty, outcome = Empty);
    match app.store.place_order(order).instrument(span.clone()).await {
        Ok(placed) => {
            let outcome = if placed.replayed { "replayed" } else { "accepted" };
            span.record("order_id", placed.order.id.as_str());
            span.record("outcome", outcome);
            counters::order_outcome(outcome);
            tracing::debug!(order_id = %placed.order.id, replayed = placed.replayed, "order placed");
            if let Some(held) = admitted.filter(|_| !placed.replayed) {
                queue::mark_bought(app, &held, &placed.order.id).await;
            }
            Ok(placed)
        }
        Err(e) => {
            let problem = Problem::from(e);
            let outcome = problem.kind.trim_start_matches("/problems/");
            span.record("outcome", outcome);
            counters::order_outcome(outcome);
            Err(problem)
        }
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(raw) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        // Which of two keys a retry meant cannot be known: using either could order twice.
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
            "send one Idempotency-Key header, not several",
        ));
    }
    let bad = || {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-idempotency-key",
            "Invalid Idempotency-Key",
            format!("Idempotency-Key must be 1 to {} visible ASCII characters", IdempotencyKey::MAX_LEN),
        )
    };
    let key = raw.to_str().map_err(|_| bad())?.trim();
    let visible = key.bytes().all(|b| b.is_ascii_graphic());
    if key.is_empty() || key.len() > IdempotencyKey::MAX_LEN || !visible {
        return Err(bad());
    }
    Ok(Some(key.to_owned()))
}

/// One order. Status and items are open to whoever holds the id; `customer` and
/// `fulfilment` only to the customer and staff.
#[utoipa::path(get, path = "/api/orders/{id}", tag = "orders",
    params(("id" = String, Path, description = "Order id"),
        ("Order-Token" = Option<String>, Header, description = "The `accessToken` returned when the order was placed")),
    responses(
        (status = 200, description = "The order", body = OrderDto),
        (status = 404, description = "No such order", body = Problem),
    ))]
pub async fn get_order(
    State(app): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<OrderDto>, Problem> {
    let order = app.store.order(&id).await?.ok_or_else(|| Problem::not_found("order", &id))?;
    let trusted = order_access::credentials(&app, &headers, None).await.viewer(&app.signer, &order).is_trusted();
    let dto = OrderDto::from(order);
    Ok(Json(if trusted { dto } else { dto.without_personal_details() }))
}

/// Cancels an order that is still `received`; its stock goes back on sale. Only the
/// customer (session or bearer token, `Order-Token`, or the browser that placed it) and
/// staff who may cancel (admins; the kitchen with `--kitchen-can-cancel`) may; a cancel by
/// staff is audited.
#[utoipa::path(post, path = "/api/orders/{id}/cancel", tag = "orders",
    params(("id" = String, Path, description = "Order id"),
        ("Order-Token" = Option<String>, Header, description = "The `accessToken` returned when the order was placed")),
    responses(
        (status = 200, description = "The cancelled order", body = OrderDto),
        (status = 403, description = "Not the customer's credentials, nor staff who may cancel", body = Problem),
        (status = 404, description = "No such order", body = Problem),
        (status = 409, description = "Already being prepared, or already cancelled", body = Problem),
    ))]
pub async fn cancel_order(
    State(app): State<AppState>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<OrderDto>, Problem> {
    let order = app.store.order(&id).await?.ok_or_else(|| Problem::not_found("order", &id))?;
    let who = order_access::credentials_for_api_change(&app, &headers).await;
    let canceller = who.canceller(&app.signer, &order, &app.shop);
    match &canceller {
        Canceller::Customer | Canceller::Staff { .. } => {}
        Canceller::NotAllowed => {
            return Err(Problem::forbidden(
                "Not allowed",
                "only an admin can cancel orders in this shop (the owner can let the kitchen, with --kitchen-can-cancel)",
            ));
        }
        Canceller::Stranger => {
            return Err(Problem::forbidden(
                "Not your order",
                "only the customer who placed this order, or staff, may cancel it: send its `Order-Token`, or sign in",
            ));
        }
    }
    let cancelled = app.store.cancel_order(&id).await?;
    if let Canceller::Staff { actor } = canceller {
        order_access::audit_staff_cancel(&app, &actor, &id, order.status).await;
    }
    Ok(Json(cancelled.into()))
}

/// Paging of order lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Orders per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `nextCursor` from the previous page.
    pub cursor: Option<String>,
}

/// A customer's orders, newest first: for that customer's own session or bearer token
/// (with a verified email), or staff.
#[utoipa::path(get, path = "/api/customers/{customer}/orders", tag = "orders",
    params(("customer" = String, Path, min_length = 1, max_length = 254, pattern = "^([A-Za-z0-9_-][A-Za-z0-9._-]{0,63}|[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+)$",
        description = "The customer's email address, or the `userId` used with the shorthand"), PageParams),
    responses(
        (status = 200, description = "A page of orders", body = OrderPageDto),
        (status = 400, description = "Bad paging parameters", body = Problem),
        (status = 401, description = "No credentials: sign in, or send a bearer token", body = Problem),
        (status = 403, description = "Someone else's orders", body = Problem),
        (status = 422, description = "Not an email address or user id", body = Problem),
    ))]
pub async fn customer_orders(
    State(app): State<AppState>,
    headers: HeaderMap,
    ApiPath(customer): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<OrderPageDto>, Problem> {
    let key = CustomerKey::from_lookup(&customer).map_err(|e| Problem::invalid_field("customer", &e.message))?;
    let who = order_access::credentials(&app, &headers, None).await;
    let staff = who.admin_token || who.user.as_ref().is_some_and(|u| u.role.is_staff());
    let own = who.user.as_ref().is_some_and(|u| u.email_verified && u.email == key.0);
    match &who.user {
        _ if staff || own => {}
        None => {
            return Err(Problem::unauthorized(
                "Sign in first",
                "a customer's orders are for that customer: sign in, or send their bearer token",
            ));
        }
        Some(_) => {
            return Err(Problem::forbidden(
                "Not your orders",
                "you can list only your own orders (and only once your email address is verified)",
            ));
        }
    }
    let limit = Problem::page_limit(page.limit, 20, 100)?;
    let page = app.store.customer_orders(&key, PageRequest { cursor: page.cursor.as_deref(), limit }).await?;
    Ok(Json(page.into()))
}
