//! The admin's view of the notification outbox: what is waiting, what was delivered, and
//! what was parked after failing, so nothing fails silently.

use super::management::Admin;
use super::refusals::AdminTokenRefusals;
use crate::extract::{ApiPath, ApiQuery};
use crate::timefmt::{parse_rfc3339, rfc3339};
use crate::{AppState, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use stampede_store::clock::now_millis;
use stampede_store::{OutboxEvent, OutboxState};
use utoipa::{IntoParams, ToSchema};

/// Which events to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxParams {
    /// `pending`, `delivered` or `failed` (default `failed`).
    #[param(value_type = Option<OutboxStateName>)]
    pub state: Option<String>,
    /// Events per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Where an event is in its delivery (a schema only: the store's `OutboxState` is the type).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStateName {
    Pending,
    Delivered,
    Failed,
}

/// Events per state; `failed` is the number to alert on.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OutboxCountsDto {
    pub pending: u64,
    pub delivered: u64,
    pub failed: u64,
}

/// One outbox event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEventDto {
    /// Stable across resends; receivers de-duplicate on it.
    pub id: String,
    #[serde(rename = "type")]
    #[schema(example = "order.placed")]
    pub kind: String,
    pub order_id: String,
    #[schema(value_type = OutboxStateName)]
    pub state: String,
    pub attempts: u32,
    pub created_at: String,
    /// When the next attempt is due (pending events).
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    pub failed_at: Option<String>,
    pub last_error: Option<String>,
    /// Channels that already took the event.
    pub delivered_to: Vec<String>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

impl From<OutboxEvent> for OutboxEventDto {
    fn from(e: OutboxEvent) -> Self {
        let state = match (e.delivered_at, e.failed_at) {
            (Some(_), _) => "delivered",
            (_, Some(_)) => "failed",
            _ => "pending",
        };
        OutboxEventDto {
            id: e.id,
            kind: e.kind,
            order_id: e.order_id,
            state: state.to_owned(),
            attempts: e.attempts,
            created_at: rfc3339(e.created_at),
            next_attempt_at: (state == "pending").then(|| rfc3339(e.next_attempt_at)),
            delivered_at: e.delivered_at.map(rfc3339),
            failed_at: e.failed_at.map(rfc3339),
            last_error: e.last_error,
            delivered_to: e.done_channels,
            payload: e.payload,
        }
    }
}

/// The counts and one page of events in the asked state, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OutboxPageDto {
    pub counts: OutboxCountsDto,
    pub events: Vec<OutboxEventDto>,
}

/// Lists outbox events; `?state=failed` shows the parked ones.
#[utoipa::path(get, path = "/api/admin/outbox", tag = "admin", security(("admin_token" = [])), params(OutboxParams),
    responses(
        (status = 200, description = "Counts per state and the events asked for", body = OutboxPageDto),
        (status = 400, description = "Unknown state or bad limit", body = Problem),
        AdminTokenRefusals,
    ))]
pub async fn list_outbox(
    _: Admin,
    State(app): State<AppState>,
    ApiQuery(params): ApiQuery<OutboxParams>,
) -> Result<Json<OutboxPageDto>, Problem> {
    let name = params.state.as_deref().unwrap_or("failed");
    let state = OutboxState::parse(name)
        .ok_or_else(|| Problem::invalid_query(format!("state must be pending, delivered or failed, got `{name}`")))?;
    let limit = Problem::page_limit(params.limit, 50, 500)?;
    let counts = app.store.outbox_counts().await?;
    let events = app.store.outbox_events(state, limit).await?;
    Ok(Json(OutboxPageDto {
        counts: OutboxCountsDto { pending: counts.pending, delivered: counts.delivered, failed: counts.failed },
        events: events.into_iter().map(Into::into).collect(),
    }))
}

/// Puts a parked event back in the queue with a fresh attempt count (after fixing the receiver).
#[utoipa::path(post, path = "/api/admin/outbox/{id}/retry", tag = "admin", security(("admin_token" = [])),
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 202, description = "Queued again"),
        AdminTokenRefusals,
        (status = 404, description = "No parked event with this id", body = Problem),
    ))]
pub async fn retry_event(
    admin: Admin,
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, Problem> {
    if app.store.retry_event(&id).await? {
        admin.audit(&app, "outbox.retry", &id, "parked event put back in the queue").await;
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(Problem::not_found("parked event", &id))
    }
}

/// Which parked events one call puts back.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct RetryFailedParams {
    /// Most events to put back, 1 to 1000 (default 500).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// RFC 3339: only events parked before this (default: now). Pass back the answer's
    /// `parkedBefore` on the next call, so what parks again meanwhile is not put back again.
    #[param(format = DateTime, example = "2026-11-30T18:15:00Z")]
    pub parked_before: Option<String>,
}

/// What a bulk retry did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetriedDto {
    /// Parked events put back in the queue by this call: call again while it is above 0.
    pub retried: u32,
    /// RFC 3339: the `parkedBefore` this call used, for the next call.
    pub parked_before: String,
    /// Events parked now, including any that failed again since they were put back.
    pub failed: u64,
}

/// Puts parked events back in the queue, oldest parked first, up to `limit` a call (after a
/// receiver's outage: the alternative is a call per event).
#[utoipa::path(post, path = "/api/admin/outbox/retry-failed", tag = "admin", security(("admin_token" = [])),
    params(RetryFailedParams),
    responses(
        (status = 200, description = "How many were put back, and how many are parked now", body = RetriedDto),
        (status = 400, description = "Bad limit or parkedBefore", body = Problem),
        AdminTokenRefusals,
    ))]
pub async fn retry_failed(
    admin: Admin,
    State(app): State<AppState>,
    ApiQuery(params): ApiQuery<RetryFailedParams>,
) -> Result<Json<RetriedDto>, Problem> {
    let limit = Problem::page_limit(params.limit, 500, 1000)?;
    let before = match params.parked_before.as_deref() {
        None => now_millis(),
        Some(text) => parse_rfc3339(text).ok_or_else(|| {
            Problem::invalid_query(format!(
                "parkedBefore must be an RFC 3339 time such as 2026-11-27T18:00:00Z, got `{text}`"
            ))
        })?,
    };
    let retried = app.store.retry_failed(before, limit).await?;
    if retried > 0 {
        admin
            .audit(&app, "outbox.retry_failed", "outbox", format!("{retried} parked events put back in the queue"))
            .await;
    }
    let failed = app.store.outbox_counts().await?.failed;
    Ok(Json(RetriedDto { retried, parked_before: rfc3339(before), failed }))
}
