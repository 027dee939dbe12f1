//! How a waiting room's line stands, for staff: `GET /api/admin/products/{id}/queue`, the
//! dashboard's product page and the `/metrics` gauges all read the same summary.

use super::management::Admin;
use super::queue::room_product;
use super::refusals::AdminTokenRefusals;
use crate::extract::ApiPath;
use crate::timefmt::rfc3339;
use crate::{AppState, Problem};
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use stampede_domain::WaitingRoomRules;
use stampede_store::ProductView;
use stampede_store::clock::now_millis;
use utoipa::ToSchema;

/// A waiting room's line as this instance sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineSummaryDto {
    pub product_id: String,
    /// Everyone holding a ticket: admitted or still waiting.
    pub in_line: u64,
    /// Tickets not admitted yet.
    pub waiting: u64,
    /// People admitted since the sale opened (their admissions running or over).
    pub admitted: u64,
    /// Units left.
    pub stock: u32,
    /// The shop's pace; absent when the room admits as fast as the stock left allows.
    pub admissions_per_minute: Option<u32>,
    pub admission_minutes: u32,
    /// Seconds until everyone waiting now has been admitted, estimated as a ticket's wait
    /// is (0 when nobody waits or nothing is left).
    pub estimated_clear_seconds: u64,
    /// RFC 3339: when the sale opens, while it has not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sale_starts_at: Option<String>,
}

/// The line of `view`'s product, which has the waiting room `rules`. Reading it moves the
/// room along as a status check would, so the figures are at most a tick old.
pub(crate) async fn line_summary(
    app: &AppState,
    view: &ProductView,
    rules: &WaitingRoomRules,
) -> Result<LineSummaryDto, Problem> {
    let now = now_millis();
    let id = &view.product.id;
    let room = app.rooms.current(&app.store, view, rules, now, false).await?;
    let lines = &app.rooms.lines;
    let in_line = lines.count(&app.store, id, 0, u64::MAX).await?;
    let waiting = lines.count(&app.store, id, room.watermark(), u64::MAX).await?;
    let opens = view.product.sale.starts_at;
    let estimated_clear_seconds = match (waiting, view.stock) {
        (0, _) | (_, 0) => 0,
        (w, stock) => room.estimated_wait_seconds(rules, opens, now, w, stock),
    };
    Ok(LineSummaryDto {
        product_id: id.clone(),
        in_line,
        waiting,
        admitted: room.admitted(),
        stock: view.stock,
        admissions_per_minute: rules.admissions_per_minute,
        admission_minutes: rules.admission_minutes,
        estimated_clear_seconds,
        sale_starts_at: opens.filter(|o| now < *o).map(rfc3339),
    })
}

/// The lines of every product on sale with a waiting room, for `/metrics`. A line the store
/// cannot read now is left out rather than failing the scrape.
pub(crate) async fn every_line(app: &AppState) -> Vec<LineSummaryDto> {
    let Ok(products) = app.store.products().await else { return Vec::new() };
    let mut lines = Vec::new();
    for view in products.iter().filter(|v| !v.product.archived) {
        if let Some(rules) = &view.product.sale.waiting_room
            && let Ok(line) = line_summary(app, view, rules).await
        {
            lines.push(line);
        }
    }
    lines
}

/// A waiting room's line: how many hold a ticket, wait and were admitted, and when the line
/// should clear.
#[utoipa::path(get, path = "/api/admin/products/{id}/queue", tag = "admin",
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 200, description = "The line as this instance sees it (a second old at most)", body = LineSummaryDto),
        AdminTokenRefusals,
        (status = 404, description = "No such product", body = Problem),
        (status = 409, description = "The product has no waiting room", body = Problem),
        (status = 503, description = "The store is busy; try again after `Retry-After`", body = Problem),
    ))]
pub async fn admin_line(
    _: Admin,
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<LineSummaryDto>, Problem> {
    let (view, rules) = room_product(&app, &id).await?;
    Ok(Json(line_summary(&app, &view, &rules).await?))
}
