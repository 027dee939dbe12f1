//! Waiting rooms (#14): join a product's line, see where a ticket stands (JSON, or a stream
//! of Server-Sent Events), and the admission every order of a waiting-room product needs.
//! The rules live in the domain (`stampede_domain::waiting_room`), the line in the store.

use super::order_body::CustomerBody;
use super::refusals::{JsonBodyRefusals, RetryLaterRefusals};
pub use super::rooms::Rooms;
use crate::counters;
use crate::extract::{ApiJson, ApiPath};
use crate::timefmt::rfc3339;
use crate::{AppState, Problem};
use axum::Extension;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use stampede_domain::{
    Customer, CustomerKey, Millis, OrderRejection, OrderRequest, RoomState, SealedTicket, Ticket, TicketError,
    TicketState, WaitingRoomRules, arrived_at,
};
use stampede_store::clock::now_millis;
use stampede_store::waiting_room::LATE_WRITE_GRACE;
use stampede_store::{Held, Joining, LineEntry, ProductView, Store, StoreError};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;

/// How long a browser waits before reconnecting a dropped stream (or, behind API Gateway,
/// asking again).
const RECONNECT: Duration = Duration::from_secs(3);
/// How often a ticket's stream looks again when no stock changed.
const STREAM_EVERY: Duration = Duration::from_secs(2);

/// The header an order may carry its queue ticket in.
pub const QUEUE_TICKET_HEADER: &str = "queue-ticket";

/// Body of `POST /api/products/{id}/queue`: who is joining, in the same forms as an order.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JoinQueueBody {
    pub customer: Option<CustomerBody>,
    /// Who is joining: an id of 1 to 64 letters, digits, '-', '_' or '.' (not first), or an email address.
    #[schema(
        example = "user-42",
        pattern = "^([A-Za-z0-9_-][A-Za-z0-9._-]{0,63}|[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+)$",
        max_length = 254
    )]
    pub user_id: Option<String>,
}

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum QueueState {
    /// In line.
    Waiting,
    /// May order until `admittedUntil`.
    Admitted,
    /// The admission ended unused.
    Expired,
    /// Nothing is left to buy.
    SoldOut,
}

/// A ticket and where it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueTicketDto {
    /// The signed ticket: send it with orders (`Queue-Ticket` header or `queueTicket`).
    pub ticket: String,
    pub product_id: String,
    /// Place in line, 1 for the first person since the line opened. Before the sale opens
    /// it is provisional: places of the pre-queue are drawn at random at opening.
    pub position: u64,
    /// People still waiting ahead (0 once admitted).
    pub ahead: u64,
    /// Seconds until admission, estimated (0 once admitted).
    pub estimated_wait_seconds: u64,
    pub state: QueueState,
    /// RFC 3339: the end of the admission (admitted tickets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admitted_until: Option<String>,
    /// RFC 3339: when the sale opens, while it has not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sale_starts_at: Option<String>,
}

/// The product, if it has a waiting room.
pub(super) async fn room_product(app: &AppState, id: &str) -> Result<(ProductView, WaitingRoomRules), Problem> {
    let view = app.store.product(id).await?.ok_or_else(|| Problem::not_found("product", id))?;
    match view.product.sale.waiting_room.clone() {
        Some(rules) => Ok((view, rules)),
        None => Err(Problem::new(
            StatusCode::CONFLICT,
            "no-waiting-room",
            "No waiting room",
            format!("`{id}` has no waiting room: order it directly"),
        )),
    }
}

/// Where the ticket `held` stands at `now`: counted in this instance's index of the line.
async fn standing(
    app: &AppState,
    view: &ProductView,
    rules: &WaitingRoomRules,
    held: &Held,
    now: Millis,
) -> Result<QueueTicketDto, Problem> {
    let room = app.rooms.current(&app.store, view, rules, now, false).await?;
    let state = room.ticket_state(rules, held.rank, now, view.stock);
    let id = &view.product.id;
    let lines = &app.rooms.lines;
    let (position, ahead) = match state {
        TicketState::Waiting => {
            let ahead = lines.count(&app.store, id, room.watermark(), held.rank).await?;
            (room.admitted() + ahead + 1, ahead)
        }
        _ => (lines.count(&app.store, id, 0, held.rank).await? + 1, 0),
    };
    let opens = view.product.sale.starts_at;
    let wait = match state {
        TicketState::Waiting => {
            let by_pace = room.estimated_wait_seconds(rules, opens, now, ahead, view.stock);
            by_pace.max(grace_left_seconds(&app.store, held.rank, opens, now))
        }
        _ => 0,
    };
    Ok(QueueTicketDto {
        ticket: held.ticket.to_string(),
        product_id: id.clone(),
        position,
        ahead,
        estimated_wait_seconds: wait,
        state: match state {
            TicketState::Waiting => QueueState::Waiting,
            TicketState::Admitted { .. } => QueueState::Admitted,
            TicketState::Expired => QueueState::Expired,
            TicketState::SoldOut => QueueState::SoldOut,
        },
        admitted_until: match state {
            TicketState::Admitted { until } => Some(rfc3339(until)),
            _ => None,
        },
        sale_starts_at: opens.filter(|o| *o > now).map(rfc3339),
    })
}

/// Seconds until a shared line may let the ticket of `rank` in at the earliest: its arrival
/// (a pre-queue place: the opening) plus `LATE_WRITE_GRACE`. 0 on an instance's own line.
fn grace_left_seconds(store: &Arc<dyn Store>, rank: u64, opens: Option<Millis>, now: Millis) -> u64 {
    if !store.lines_shared() {
        return 0;
    }
    // Arrival ranks start at opening, so an arrival is never before it.
    let Some(arrived) = arrived_at(rank).or(opens) else { return 0 };
    let left = arrived + LATE_WRITE_GRACE - now;
    u64::try_from(left).map_or(0, |ms| ms.div_ceil(1000))
}

/// 403 `/problems/not-admitted`, with the caller's place when it is known.
fn not_admitted(product_id: &str, detail: impl Into<String>, place: Option<&QueueTicketDto>) -> Problem {
    let mut p = Problem::new(StatusCode::FORBIDDEN, "not-admitted", "Not admitted yet", detail);
    p.product_id = Some(product_id.to_owned());
    if let Some(place) = place {
        p.position = Some(place.position);
        p.ahead = Some(place.ahead);
    }
    p
}

fn ticket_problem(product_id: &str, e: TicketError) -> Problem {
    not_admitted(product_id, e.to_string(), None)
}

/// A join by someone whose ticket for this line has expired: a customer holds one place per
/// line, so joining again cannot give them another.
fn place_expired(product_id: &str) -> Problem {
    let mut p = Problem::new(
        StatusCode::CONFLICT,
        "place-expired",
        "Your place in line has expired",
        format!(
            "your ticket for the line for `{product_id}` has expired (tickets last 24 hours, a week \
             longer if taken before the sale opened); each customer holds one place per line, so \
             this line cannot take you again"
        ),
    );
    p.product_id = Some(product_id.to_owned());
    p
}

/// Joins a product's waiting room: one ticket per customer and product, so joining again
/// gives the same ticket and place.
#[utoipa::path(post, path = "/api/products/{id}/queue", tag = "queue",
    request_body = JoinQueueBody,
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 201, description = "In line (or the ticket the customer already holds)", body = QueueTicketDto,
            headers(("Location" = String, description = "URL of the ticket's status"))),
        (status = 400, description = "Malformed JSON", body = Problem),
        (status = 404, description = "Unknown product", body = Problem),
        (status = 409, description = "No waiting room for this product, the line is not open yet, the sale has ended, or the customer's place in this line has expired (`/problems/place-expired`)", body = Problem),
        JsonBodyRefusals,
        (status = 422, description = "Invalid customer", body = Problem),
        RetryLaterRefusals,
    ))]
pub async fn join_queue(
    State(app): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<JoinQueueBody>,
) -> Result<Response, Problem> {
    app.join_limits.check_ip(client.map(|c| c.0.0.ip()))?;
    let customer = super::order_body::customer(body.customer.as_ref(), body.user_id.as_deref())
        .map_err(|e| Problem::invalid_field(&e.field, &e.message))?;
    let holder = check_rejoin(&app, &id, customer)?;
    let (view, rules) = room_product(&app, &id).await?;
    let now = now_millis();
    check_line_open(&view, &rules, now)?;
    let held = join(&app, &view, holder, now).await?;
    let dto = standing(&app, &view, &rules, &held, now).await?;
    let location = format!("/api/products/{id}/queue/{}", held.ticket);
    Ok(crate::respond::with_location((StatusCode::CREATED, Json(dto)).into_response(), location))
}

/// The per-customer join limit, which counts a customer's joins after the first: checked
/// here only for a customer this instance knows holds a ticket for the line (from memory,
/// before the store is asked anything, so a refused re-join costs and changes nothing), and
/// in [`join`] for a join pushed back. A first join cannot be over this limit, and counting it
/// would keep an entry for every person who joined since the last sweep of idle keys (a
/// minute's worth of a big sale). Answers the key the customer's place is held under, which
/// the limit counts under: the key per-customer limits count under (an email without its
/// `+tag`), so one mailbox holds one place in line however its address is written.
pub(crate) fn check_rejoin(app: &AppState, product_id: &str, customer: Customer) -> Result<CustomerKey, Problem> {
    let holder = customer.with_limit_key(app.shop.limit_keys).limit_key().clone();
    if app.rooms.lines.holds_loaded(product_id, &holder.0) {
        app.join_limits.check_customer(&holder.0)?;
    }
    Ok(holder)
}

/// Joins `view`'s line for the storefront as `holder` (the per-address limit and
/// [`check_rejoin`], which gave `holder`, already checked): the ticket held.
pub(crate) async fn join_checked(app: &AppState, view: &ProductView, holder: CustomerKey) -> Result<String, Problem> {
    let rules =
        view.product.sale.waiting_room.as_ref().ok_or_else(|| Problem::not_found("product", &view.product.id))?;
    let now = now_millis();
    check_line_open(view, rules, now)?;
    Ok(join(app, view, holder, now).await?.ticket.to_string())
}

/// Puts `holder` (from [`check_rejoin`]) in line, or finds the ticket they hold.
async fn join(app: &AppState, view: &ProductView, holder: CustomerKey, now: Millis) -> Result<Held, Problem> {
    let id = &view.product.id;
    let opens = view.product.sale.starts_at;
    // The line's index reads the arrival, so that tickets are queued in arrival order.
    let new_ticket =
        |arrival_us| line_entry(Ticket::new(id, holder.clone(), arrival_us, rand::random(), opens).seal(&app.signer));
    let not_before = now.saturating_mul(1000);
    let entered = app.rooms.lines.enter(&app.store, id, &holder.0, not_before, new_ticket, Joining::New).await;
    let (held, new) = entered.map_err(|e| match e {
        StoreError::Busy { retry_after } => {
            counters::join_outcome("pushed_back");
            // No ticket was handed out, so the next try is a first join again: counted here,
            // so a client that does not wait for `Retry-After` is held to the customer's rate.
            app.join_limits.check_customer(&holder.0).err().unwrap_or_else(|| line_behind(retry_after))
        }
        e => e.into(),
    })?;
    counters::join_outcome(if new { "joined" } else { "rejoined" });
    if !new {
        // Joined before: that ticket is the place, if it is still good.
        Ticket::open(&held.ticket, &app.signer, now).map_err(|e| match e {
            TicketError::Expired => place_expired(id),
            e => ticket_problem(id, e),
        })?;
    }
    Ok(held)
}

/// A new join the store could not take now: a shared line whose earlier joins are still
/// being written (`stampede_store::Lines::enter`), or the store itself busy. Either way no
/// ticket was handed out, so the person has no place to lose.
fn line_behind(retry_after: Duration) -> Problem {
    crate::problem::busy_because(retry_after, |secs| {
        format!("the line could not take your join just now; you have no place yet, join again in {secs} s")
    })
}

/// The line entry a ticket claims: all a store needs to record it, even one it never saw.
fn line_entry(sealed: SealedTicket) -> LineEntry {
    LineEntry {
        product_id: sealed.ticket.product_id,
        customer: sealed.ticket.customer,
        rank: sealed.rank,
        ticket: sealed.token,
        joined_at: sealed.ticket.issued_at,
    }
}

/// Joining is open from the pre-queue window on, until the sale ends.
fn check_line_open(view: &ProductView, rules: &WaitingRoomRules, now: Millis) -> Result<(), Problem> {
    let sale = &view.product.sale;
    if let Some(opens) = rules.line_opens(sale.starts_at).filter(|o| now < *o) {
        let mut p = Problem::new(
            StatusCode::CONFLICT,
            "line-not-open",
            "The line is not open yet",
            format!("the line for `{}` opens at {}", view.product.id, rfc3339(opens)),
        );
        p.product_id = Some(view.product.id.clone());
        p.sale_starts_at = sale.starts_at.map(rfc3339);
        return Err(p);
    }
    if let Some(ended) = sale.ends_at.filter(|e| now >= *e) {
        return Err(
            stampede_domain::OrderRejection::SaleEnded { product: view.product.id.clone(), ended_at: ended }.into()
        );
    }
    Ok(())
}

/// Where a ticket stands now.
#[utoipa::path(get, path = "/api/products/{id}/queue/{ticket}", tag = "queue",
    params(("id" = String, Path, description = "Product id"), ("ticket" = String, Path, description = "The ticket from joining")),
    responses(
        (status = 200, description = "The ticket's place and state", body = QueueTicketDto),
        (status = 403, description = "Not a valid ticket for this product (forged, altered, expired)", body = Problem),
        (status = 404, description = "Unknown product", body = Problem),
        (status = 409, description = "No waiting room for this product", body = Problem),
        (status = 503, description = "The line could not be read just now (the store fails to load it, or failed moments ago, or is busy): the place is kept; ask again after `Retry-After` seconds", body = Problem,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn queue_status(
    State(app): State<AppState>,
    ApiPath((id, ticket)): ApiPath<(String, String)>,
) -> Result<Response, Problem> {
    let dto = status_of(&app, &id, &ticket).await?;
    let mut response = Json(dto).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The ticket's standing, after checking it is a valid ticket for product `id`.
pub(crate) async fn status_of(app: &AppState, id: &str, ticket: &str) -> Result<QueueTicketDto, Problem> {
    let (view, rules) = room_product(app, id).await?;
    let now = now_millis();
    let sealed = Ticket::open(ticket, &app.signer, now).map_err(|e| ticket_problem(id, e))?;
    if sealed.ticket.product_id != id {
        return Err(ticket_problem(id, TicketError::OtherProduct));
    }
    // The customer's ticket in this line: this one, recorded now if the store never got it
    // (written behind, then lost), or the one they held already.
    let held = app.rooms.lines.join(&app.store, line_entry(sealed)).await.map_err(|e| match e {
        StoreError::Busy { retry_after } => place_not_read(retry_after),
        e => e.into(),
    })?;
    standing(app, &view, &rules, &held, now).await
}

/// A status check the line could not answer now (the store fails to load it, or failed
/// moments ago, or is busy): the ticket still holds its place.
fn place_not_read(retry_after: Duration) -> Problem {
    crate::problem::busy_because(retry_after, |secs| {
        format!("your place in line is kept, but it could not be looked up just now; check again in {secs} s")
    })
}

/// An order whose ticket the line could not confirm now (the store fails to load the line,
/// failed moments ago, is busy, or has not taken the ticket yet): it keeps its place.
fn admission_not_checked(retry_after: Duration) -> Problem {
    crate::problem::busy_because(retry_after, |secs| {
        format!(
            "your place in line is kept, but your admission could not be checked just now; nothing was charged or reserved, order again in {secs} s"
        )
    })
}

/// The ticket's standing as Server-Sent Events: a `queue` event at once, then whenever it
/// changes (checked on every stock change and every 2 s). Where responses are buffered
/// (API Gateway), the stream sends one event and ends: clients poll the JSON instead.
#[utoipa::path(get, path = "/api/products/{id}/queue/{ticket}/events", tag = "queue",
    params(("id" = String, Path, description = "Product id"), ("ticket" = String, Path, description = "The ticket from joining")),
    responses(
        (status = 200, description = "`queue` events, each a QueueTicketDto", content_type = "text/event-stream"),
        (status = 403, description = "Not a valid ticket for this product", body = Problem),
        (status = 404, description = "Unknown product", body = Problem),
        (status = 409, description = "No waiting room for this product", body = Problem),
    ))]
pub async fn queue_events(
    State(app): State<AppState>,
    ApiPath((id, ticket)): ApiPath<(String, String)>,
) -> Result<Response, Problem> {
    // A bad ticket is answered as a problem, not as a stream that says nothing.
    let first = status_of(&app, &id, &ticket).await?;
    let changes = app.store.stock_changes();
    let stream = futures_util::stream::unfold(
        (app, id, ticket, changes, Some(first), None::<String>),
        |(app, id, ticket, mut changes, first, last)| async move {
            let dto = match first {
                Some(dto) => dto,
                None => loop {
                    if *app.closing.borrow() {
                        return None;
                    }
                    tokio::select! {
                        _ = changes.changed() => {}
                        () = tokio::time::sleep(STREAM_EVERY) => {}
                        () = crate::storefront::live_stock::closing(app.closing.clone()) => return None,
                    }
                    let dto = status_of(&app, &id, &ticket).await.ok()?;
                    let json = serde_json::to_string(&dto).ok()?;
                    if last.as_deref() != Some(json.as_str()) {
                        break dto;
                    }
                },
            };
            let json = serde_json::to_string(&dto).ok()?;
            let mut event = Event::default().event("queue").data(json.clone());
            if last.is_none() {
                event = event.retry(RECONNECT);
            }
            Some((Ok::<Event, Infallible>(event), (app, id, ticket, changes, None, Some(json))))
        },
    );
    let mut response = Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response();
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The queue ticket an order came with: the `Queue-Ticket` header, else the body's `queueTicket`.
pub(crate) fn order_ticket(headers: &HeaderMap, field: Option<String>) -> Option<String> {
    headers.get(QUEUE_TICKET_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned).or(field)
}

/// Checks that an order of waiting-room products comes with an admitted ticket of its
/// customer for each such product, and returns the ticket the store holds for it (`None`:
/// no product of the order has a waiting room). Sold out is refused as the store refuses
/// it: to the admitted by the store, to the rest here.
pub(crate) async fn check_admission(
    app: &AppState,
    request: &OrderRequest,
    ticket: Option<&str>,
) -> Result<Option<Admission>, Problem> {
    let mut seen: Vec<&str> = Vec::new();
    let mut in_line: Option<(ProductView, WaitingRoomRules, u32)> = None;
    for line in &request.lines {
        let id = line.product_id.as_str();
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        // Unknown products are the store's to refuse; most products have no waiting room.
        let Some(view) = app.store.product_in_line(id).await? else { continue };
        let Some(rules) = view.product.sale.waiting_room.clone() else { continue };
        if let Some((first, ..)) = &in_line {
            // An order carries one ticket, so it can be admitted for one product only.
            let first = &first.product.id;
            return Err(Problem::invalid_field(
                "items",
                &format!(
                    "`{first}` and `{id}` each have a waiting room: order them separately, each with its own ticket"
                ),
            ));
        }
        in_line = Some((view, rules, line.quantity));
    }
    match in_line {
        Some((view, rules, quantity)) => check_ticket(app, request, &view, &rules, quantity, ticket).await.map(Some),
        None => Ok(None),
    }
}

/// An order's admission: the ticket the store holds for its customer and product.
pub(crate) struct Admission {
    product_id: String,
    customer: CustomerKey,
    rank: u64,
}

/// Tells the room that the holder of `held` has bought by `order_id`, so no unit is held
/// for them any longer (`RoomState::count_buyers`); cancelling the order takes the mark off
/// with the units' return. The order stands either way: without the mark its buyer counts as
/// still deciding, holding a unit until their admission window closes.
pub(crate) async fn mark_bought(app: &AppState, held: &Admission, order_id: &str) {
    if let Err(e) = app.store.mark_bought(&held.product_id, &held.customer, held.rank, order_id).await {
        tracing::warn!(product_id = %held.product_id, error = %e, "could not mark a queue ticket as bought");
    }
}

/// Checks the order's `ticket` for `view`'s product, which it orders `quantity` of.
async fn check_ticket(
    app: &AppState,
    request: &OrderRequest,
    view: &ProductView,
    rules: &WaitingRoomRules,
    quantity: u32,
    ticket: Option<&str>,
) -> Result<Admission, Problem> {
    let id = view.product.id.as_str();
    let Some(token) = ticket else {
        return Err(not_admitted(
            id,
            format!("`{id}` is sold through a waiting room: join the line, and order once admitted with your ticket"),
            None,
        ));
    };
    let now = now_millis();
    let sealed = Ticket::open(token, &app.signer, now).map_err(|e| ticket_problem(id, e))?;
    sealed.check_holder(id, request.customer.limit_key()).map_err(|e| ticket_problem(id, e))?;
    // Judged by the ticket the store holds for the customer: one place per customer,
    // however many tickets they were handed.
    let held = app.rooms.lines.confirm(&app.store, line_entry(sealed)).await.map_err(|e| match e {
        StoreError::Busy { retry_after } => admission_not_checked(retry_after),
        e => e.into(),
    })?;
    // By place in line even where the stock read says none is left: a unit that a cancel
    // returns meanwhile is for the next person admitted, not for whoever orders first.
    let state = |room: &RoomState| room.ticket_state(rules, held.rank, now, view.stock.max(1));
    let mut room = app.rooms.current(&app.store, view, rules, now, false).await?;
    if state(&room) == TicketState::Waiting {
        // The cached room may be a tick behind: look again before refusing.
        room = app.rooms.current(&app.store, view, rules, now, true).await?;
    }
    match state(&room) {
        TicketState::Admitted { .. } => {}
        // Sold out is said as the store says it, to the admitted and the rest alike.
        _ if view.stock == 0 => {
            let sold_out = OrderRejection::OutOfStock { product: id.to_owned(), requested: quantity, available: 0 };
            return Err(sold_out.into());
        }
        TicketState::Waiting | TicketState::SoldOut => {
            let place = standing(app, view, rules, &held, now).await?;
            let wait = match place.estimated_wait_seconds {
                0 => String::new(),
                s => format!(" (about {s} s to wait)"),
            };
            return Err(not_admitted(
                id,
                format!(
                    "it is not your turn yet: you are number {} in line, {} ahead of you{wait}",
                    place.position, place.ahead
                ),
                Some(&place),
            ));
        }
        TicketState::Expired => {
            let place = standing(app, view, rules, &held, now).await?;
            return Err(not_admitted(
                id,
                "your admission has ended: its units went to the next people in line",
                Some(&place),
            ));
        }
    }
    Ok(Admission { product_id: id.to_owned(), customer: request.customer.limit_key().clone(), rank: held.rank })
}
