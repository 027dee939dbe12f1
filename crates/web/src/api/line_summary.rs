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
use stampede_domain::{RoomState, WaitingRoomRules};
use stampede_store::ProductView;
use stampede_store::clock::now_millis;
use utoipa::ToSchema;

/// A waiting room's line as this instance last saw it.
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
    /// Units left that no one admitted holds: what those waiting can still be offered.
    pub units_to_offer: u64,
    /// The shop's pace; absent when the room admits as fast as the stock left allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admissions_per_minute: Option<u32>,
    pub admission_minutes: u32,
    /// Seconds until the people waiting now have been admitted, as a ticket's wait is
    /// estimated; when more wait than units are left to offer, until the last one has been
    /// offered. 0 when nobody waits or every unit is sold or held by someone admitted.
    pub estimated_clear_seconds: u64,
    /// RFC 3339: when the sale opens, while it has not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sale_starts_at: Option<String>,
}

impl LineSummaryDto {
    /// What `room` and the line's counts say of `view`'s product at `now`.
    fn new(view: &ProductView, rules: &WaitingRoomRules, room: &RoomState, (in_line, waiting): (u64, u64)) -> Self {
        let now = now_millis();
        let opens = view.product.sale.starts_at;
        // Nobody is admitted once the stock is gone: only as many as units are left to offer
        // (not held by someone admitted and still deciding).
        let units_to_offer = room.unoffered(rules, now, view.stock);
        let to_admit = waiting.min(units_to_offer);
        let estimated_clear_seconds = match to_admit {
            0 => 0,
            n => room.estimated_wait_seconds(rules, opens, now, n, view.stock),
        };
        LineSummaryDto {
            product_id: view.product.id.clone(),
            in_line,
            waiting,
            admitted: room.admitted(),
            stock: view.stock,
            units_to_offer,
            admissions_per_minute: rules.admissions_per_minute,
            admission_minutes: rules.admission_minutes,
            estimated_clear_seconds,
            sale_starts_at: opens.filter(|o| now < *o).map(rfc3339),
        }
    }
}

/// The line of `view`'s product, which has the waiting room `rules`, for staff: from the room
/// as this instance last saw it (else as the store holds it), so looking neither moves the
/// line nor waits on its writes.
pub(crate) async fn line_summary(
    app: &AppState,
    view: &ProductView,
    rules: &WaitingRoomRules,
) -> Result<LineSummaryDto, Problem> {
    let id = &view.product.id;
    let room = app.rooms.peek(&app.store, id).await?;
    let counts = app.rooms.lines.standing(&app.store, id, room.watermark()).await?;
    Ok(LineSummaryDto::new(view, rules, &room, counts))
}

/// For `/metrics`: the lines of `products` this instance serves, as it last saw them. Reads
/// nothing from the store, so a scrape costs no store work and never waits on a slow one.
pub(crate) fn served_lines(app: &AppState, products: &[ProductView]) -> Vec<LineSummaryDto> {
    let lines = &app.rooms.lines;
    products
        .iter()
        .filter(|v| !v.product.archived)
        .filter_map(|view| {
            let rules = view.product.sale.waiting_room.as_ref()?;
            let room = app.rooms.last_seen(&view.product.id)?;
            let counts = lines.standing_loaded(&view.product.id, room.watermark())?;
            Some(LineSummaryDto::new(view, rules, &room, counts))
        })
        .collect()
}

/// A waiting room's line: how many hold a ticket, wait and were admitted, and when the line
/// should clear.
#[utoipa::path(get, path = "/api/admin/products/{id}/queue", tag = "admin",
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 200, description = "The line as this instance last saw it", body = LineSummaryDto),
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
