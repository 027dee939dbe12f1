//! `/admin/audit`: the audit log of staff actions, newest first.

use super::page::{AdminError, AdminShell, auth};
use crate::AppState;
use crate::auth::guard::Staff;
use crate::storefront::render;
use crate::timefmt::rfc3339;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use stampede_store::AuditEntry;

/// Entries per page.
const PAGE: u32 = 100;

/// One entry as shown.
pub struct EntryView {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    /// The dashboard page of the target, where there is one.
    pub link: Option<String>,
    pub detail: String,
}

/// The page of what an action was done to: an order or a product.
fn link(action: &str, target: &str) -> Option<String> {
    let page = match action.split('.').next()? {
        "order" => "orders",
        "product" | "stock" => "products",
        _ => return None,
    };
    Some(format!("/admin/{page}/{}", form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()))
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    shell: AdminShell,
    entries: Vec<EntryView>,
    /// The `before` of the next (older) page.
    older: Option<i64>,
}

/// `?before=<id>` for older entries.
#[derive(Deserialize)]
pub struct Before {
    before: Option<i64>,
}

/// `GET /admin/audit`.
pub async fn show(
    State(app): State<AppState>,
    Staff(staff): Staff,
    Query(q): Query<Before>,
) -> Result<Response, AdminError> {
    let entries: Vec<AuditEntry> = auth(&app)?.accounts.audit_log(q.before, PAGE).await?;
    let older = (entries.len() == PAGE as usize).then(|| entries.last().map(|e| e.id)).flatten();
    let entries = entries
        .into_iter()
        .map(|e| EntryView {
            at: rfc3339(e.at).replace('T', " ").trim_end_matches('Z').chars().take(19).collect::<String>() + " UTC",
            actor: e.actor,
            link: link(&e.action, &e.target),
            action: e.action,
            target: e.target,
            detail: e.detail,
        })
        .collect();
    Ok(render(StatusCode::OK, &AuditPage { shell: AdminShell::new("Audit log", &staff, "audit"), entries, older }))
}
