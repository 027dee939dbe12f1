//! `GET /admin/orders.csv?from=&to=`: every order placed in the range, streamed a page of
//! orders at a time, so a year of orders never sits in memory at once.

use super::{csv, range};
use crate::{AppState, Problem};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, stream};
use serde::Deserialize;
use stampede_store::Analytics;
use stampede_store::analytics::{ExportCursor, ExportPage, TimeRange};
use std::sync::Arc;

/// Orders read per query; a page of orders with their lines is a few hundred KB at most.
const PAGE: u32 = 500;

/// The query string.
#[derive(Deserialize)]
pub struct CsvQuery {
    from: Option<String>,
    to: Option<String>,
}

/// The CSV download, or problem+json (400) for a bad range.
pub async fn download(
    State(app): State<AppState>,
    query: Result<Query<CsvQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(query) = match query {
        Ok(q) => q,
        Err(e) => return Problem::from(e).into_response(),
    };
    let Some(analytics) = app.analytics.clone() else { return unavailable_problem().into_response() };
    let range = match range::csv_range(query.from.as_deref(), query.to.as_deref()) {
        Ok(r) => r,
        Err(detail) => {
            return Problem::new(StatusCode::BAD_REQUEST, "invalid-query", "Invalid query string", detail)
                .into_response();
        }
    };
    // The first page is read before answering, so a failing store is a proper error response
    // rather than a download cut short.
    let first = match analytics.export_orders(range, None, PAGE).await {
        Ok(page) => page,
        Err(e) => return Problem::from(e).into_response(),
    };
    let body = Body::from_stream(
        stream::once(async { Ok::<Bytes, std::io::Error>(Bytes::from(csv::header())) })
            .chain(pages(analytics, range, first)),
    );
    let filename = format!("attachment; filename=\"orders-{}-{}.csv\"", compact(range.from), compact(range.to));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&filename) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    // Customer names and addresses: never kept by a shared cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// What the stream does next.
enum Next {
    Write(ExportPage),
    Fetch(ExportCursor),
    Done,
}

/// The rows, a page at a time. A store failure mid-way ends the body with an error, which
/// aborts the transfer: the client sees a failed download, never a silently short file.
fn pages(
    analytics: Arc<dyn Analytics>,
    range: TimeRange,
    first: ExportPage,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    stream::unfold(Next::Write(first), move |next| {
        let analytics = analytics.clone();
        async move {
            let page = match next {
                Next::Done => return None,
                Next::Write(page) => page,
                Next::Fetch(cursor) => match analytics.export_orders(range, Some(cursor), PAGE).await {
                    Ok(page) => page,
                    Err(e) => {
                        tracing::error!(error = %e, "orders CSV export failed mid-way");
                        return Some((Err(std::io::Error::other(e.to_string())), Next::Done));
                    }
                },
            };
            let mut chunk = String::with_capacity(page.orders.len() * 256);
            for order in &page.orders {
                csv::write_order(&mut chunk, order);
            }
            let next = page.next.map_or(Next::Done, Next::Fetch);
            Some((Ok(Bytes::from(chunk)), next))
        }
    })
}

/// `20261120T000000Z`: an RFC 3339 time without the characters file names dislike.
fn compact(ms: i64) -> String {
    let t = crate::timefmt::rfc3339(ms);
    let seconds = t.split('.').next().unwrap_or(&t).trim_end_matches('Z');
    format!("{}Z", seconds.replace(['-', ':'], ""))
}

/// The CSV's answer when the state has no analytics.
fn unavailable_problem() -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "analytics-unavailable",
        "Analytics unavailable",
        "this store does not provide sales analytics",
    )
}
