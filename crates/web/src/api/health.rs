//! Liveness and readiness probes.

use crate::{AppState, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

/// Probe answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
    /// Ready, but with something an operator should fix (e.g. no mail channel on a public shop).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok", warnings: Vec::new() })
}

/// The database answers and the order writer runs.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready", body = Health),
    (status = 503, description = "Storage unavailable", body = Problem),
))]
pub async fn readyz(State(app): State<AppState>) -> Result<Json<Health>, Problem> {
    app.store
        .ping()
        .await
        .map_err(|e| Problem::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Not ready", e.to_string()))?;
    Ok(Json(Health { status: "ready", warnings: app.notices.to_vec() }))
}
