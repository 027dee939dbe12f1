//! `/admin/orders`: the order list with filters, kept live. A Server-Sent Events stream
//! says when orders change (placed, advanced, cancelled); the page's script then fetches the
//! table rows again with the same filters. Without JavaScript, a Refresh link does the same.

use super::page::{AdminError, AdminShell, backoffice};
use crate::AppState;
use crate::auth::guard::Staff;
use crate::shop_time::ShopZone;
use crate::storefront::{OrderView, live_stock::closing, render};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use stampede_domain::OrderStatus;
use stampede_store::{Order, OrderFilter};
use std::convert::Infallible;
use std::time::Duration;

/// Orders per page.
const PAGE: u32 = 50;
/// Shortest gap between two change events on one stream.
const THROTTLE: Duration = Duration::from_millis(500);

/// The filters, as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    pub status: String,
    /// `YYYY-MM-DD`, a whole day in the shop's zone, inclusive.
    #[serde(default)]
    pub from: String,
    /// `YYYY-MM-DD`, a whole day in the shop's zone, inclusive.
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub customer: String,
    #[serde(default)]
    pub cursor: String,
}

/// Filter problems, per field.
#[derive(Debug, Default)]
pub struct FilterErrors {
    pub status: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl FilterErrors {
    fn any(&self) -> bool {
        self.status.is_some() || self.from.is_some() || self.to.is_some()
    }
}

/// The day `text` names, as the instants its midnight and the next one fall on in `zone`
/// (a day with a daylight-saving change is 23 or 25 hours long).
fn parse_day(text: &str, zone: &ShopZone) -> Result<Option<(i64, i64)>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let bad = || "Enter a date such as 2026-11-27.".to_owned();
    let day: jiff::civil::Date = text.trim().parse().map_err(|_| bad())?;
    let start = zone.start_of_day(day).ok_or_else(bad)?;
    let end = day.tomorrow().ok().and_then(|next| zone.start_of_day(next)).ok_or_else(bad)?;
    Ok(Some((start, end)))
}

impl Filters {
    /// The store's filter, dates read as days in `zone`, or what is wrong with the form.
    pub fn to_filter(&self, zone: &ShopZone) -> Result<OrderFilter, FilterErrors> {
        let mut errors = FilterErrors::default();
        let status = match self.status.as_str() {
            "" => None,
            s => OrderStatus::parse(s).or_else(|| {
                errors.status = Some("Pick a status from the list.".into());
                None
            }),
        };
        let from =
            parse_day(&self.from, zone).map_err(|e| errors.from = Some(e)).ok().flatten().map(|(start, _)| start);
        let to = parse_day(&self.to, zone).map_err(|e| errors.to = Some(e)).ok().flatten().map(|(_, end)| end);
        if let (Some(f), Some(t)) = (from, to)
            && t <= f
        {
            errors.to = Some("The end date must not be before the start date.".into());
        }
        if errors.any() {
            return Err(errors);
        }
        Ok(OrderFilter {
            status,
            from,
            to,
            customer: Some(self.customer.trim().to_owned()).filter(|c| !c.is_empty()),
            cursor: Some(self.cursor.clone()).filter(|c| !c.is_empty()),
            limit: PAGE,
        })
    }

    /// The query string of these filters (without the cursor), for links and the live refresh.
    pub fn query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("status", &self.status)
            .append_pair("from", &self.from)
            .append_pair("to", &self.to)
            .append_pair("customer", &self.customer)
            .finish()
    }
}

/// A row of the list.
pub struct Row {
    pub view: OrderView,
    pub status_name: &'static str,
    /// When it was placed, in the shop's zone.
    pub placed: String,
    /// When it is wanted, in the shop's zone: "As soon as possible" or the slot.
    pub when: String,
}

impl Row {
    fn new(order: &Order, zone: &ShopZone) -> Row {
        let view = OrderView::new(order);
        Row {
            when: view.when(zone),
            view,
            status_name: staff_label(order.status),
            placed: zone.label(order.created_at),
        }
    }
}

/// Statuses as staff say them.
pub fn staff_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Received => "Received",
        OrderStatus::Preparing => "Preparing",
        OrderStatus::Ready => "Ready",
        OrderStatus::OutForDelivery => "Out for delivery",
        OrderStatus::Completed => "Completed",
        OrderStatus::Cancelled => "Cancelled",
    }
}

#[derive(Template)]
#[template(path = "admin/orders.html")]
struct OrdersPage {
    shell: AdminShell,
    /// The shop's time zone, which the date filters read days in.
    zone: String,
    filters: Filters,
    errors: FilterErrors,
    statuses: Vec<(&'static str, &'static str)>,
    rows: Vec<Row>,
    next_cursor: Option<String>,
    query: String,
}

#[derive(Template)]
#[template(path = "admin/order_rows.html")]
struct OrderRows {
    rows: Vec<Row>,
}

/// `GET /admin/orders`.
pub async fn list(
    State(app): State<AppState>,
    Staff(staff): Staff,
    Query(filters): Query<Filters>,
) -> Result<Response, AdminError> {
    let statuses = OrderStatus::ALL.iter().map(|s| (s.as_str(), staff_label(*s))).collect();
    let zone = &app.shop.zone;
    let (rows, next_cursor, errors, status) = match filters.to_filter(zone) {
        Ok(filter) => {
            let page = backoffice(&app)?.find_orders(filter).await?;
            let rows = page.orders.iter().map(|o| Row::new(o, zone)).collect();
            (rows, page.next_cursor, FilterErrors::default(), StatusCode::OK)
        }
        Err(errors) => (Vec::new(), None, errors, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let query = filters.query();
    let page = OrdersPage {
        shell: AdminShell::new("Orders", &staff, "orders"),
        zone: zone.name().to_owned(),
        filters,
        errors,
        statuses,
        rows,
        next_cursor,
        query,
    };
    Ok(render(status, &page))
}

/// `GET /admin/orders/rows`: just the table rows, for the live refresh.
pub async fn rows(State(app): State<AppState>, Query(filters): Query<Filters>) -> Result<Response, AdminError> {
    let zone = &app.shop.zone;
    let Ok(filter) = filters.to_filter(zone) else {
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &OrderRows { rows: Vec::new() }));
    };
    let page = backoffice(&app)?.find_orders(filter).await?;
    Ok(render(StatusCode::OK, &OrderRows { rows: page.orders.iter().map(|o| Row::new(o, zone)).collect() }))
}

/// `GET /admin/orders/events`: an `orders` event after each commit that placed or changed
/// orders (at most two a second); ends when the server starts shutting down.
pub async fn events(State(app): State<AppState>) -> Response {
    let changes = app.store.outbox_changes();
    let stream = futures_util::stream::unfold((changes, app.closing.clone()), |(mut changes, closing_rx)| async move {
        let wait = async {
            changes.changed().await.ok()?;
            tokio::time::sleep(THROTTLE).await;
            Some(())
        };
        tokio::select! {
            changed = wait => changed?,
            () = closing(closing_rx.clone()) => return None,
        }
        changes.borrow_and_update();
        let event: Result<Event, Infallible> = Ok(Event::default().event("orders").data("changed"));
        Some((event, (changes, closing_rx)))
    });
    let opened = futures_util::stream::once(async {
        Ok::<_, Infallible>(Event::default().event("ready").data("listening").retry(Duration::from_secs(3)))
    });
    let mut response = Sse::new(futures_util::StreamExt::chain(opened, stream))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 24 * 3600 * 1000;

    #[test]
    fn filters_read_dates_as_whole_days_in_the_shop_zone() {
        let utc = ShopZone::default();
        let f = Filters {
            status: "preparing".into(),
            from: "1970-01-02".into(),
            to: "1970-01-02".into(),
            ..Filters::default()
        };
        let filter = f.to_filter(&utc).unwrap();
        assert_eq!(filter.status, Some(OrderStatus::Preparing));
        assert_eq!((filter.from, filter.to), (Some(DAY_MS), Some(2 * DAY_MS)));
        let bad = Filters { status: "lost".into(), from: "yesterday".into(), ..Filters::default() };
        let errors = bad.to_filter(&utc).unwrap_err();
        assert!(errors.status.is_some() && errors.from.is_some() && errors.to.is_none());
        let backwards = Filters { from: "2026-11-27".into(), to: "2026-11-26".into(), ..Filters::default() };
        assert!(backwards.to_filter(&utc).unwrap_err().to.is_some());
        // In Berlin 25 Oct 2026 has 25 hours, from 22:00 UTC the day before.
        let berlin = ShopZone::named("Europe/Berlin").unwrap();
        let long_day = Filters { from: "2026-10-25".into(), to: "2026-10-25".into(), ..Filters::default() };
        let filter = long_day.to_filter(&berlin).unwrap();
        assert_eq!(filter.to.unwrap() - filter.from.unwrap(), 25 * 3_600_000);
        assert_eq!(crate::timefmt::rfc3339(filter.from.unwrap()), "2026-10-24T22:00:00Z");
    }
}
