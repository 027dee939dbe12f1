//! `/admin/audit`: the audit log of staff actions, newest first.

use super::orders::staff_label;
use super::page::{AdminError, AdminShell, auth};
use crate::AppState;
use crate::auth::guard::Staff;
use crate::storefront::{order_number, render};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use stampede_domain::OrderStatus;
use stampede_store::AuditEntry;

/// Entries per page.
const PAGE: u32 = 100;

/// One entry as shown.
pub struct EntryView {
    pub at: String,
    pub actor: String,
    /// What was done, in words ("Order status changed"); the stored code stays as a tooltip.
    pub action: String,
    pub code: String,
    /// What it was done to: `#B2C3D4E5` for orders, the id otherwise.
    pub target: String,
    /// The dashboard page of the target, where there is one.
    pub link: Option<String>,
    pub detail: String,
}

/// An action code in words; unknown codes are shown as they are.
fn action_name(code: &str) -> &str {
    match code {
        "order.status" => "Order status changed",
        "product.create" => "Product created",
        "product.update" => "Product edited",
        "product.archive" => "Product archived",
        "product.restore" => "Product restored",
        "stock.adjust" => "Stock adjusted",
        "user.create" => "Staff account created",
        "user.remove" => "Staff account removed",
        "user.deactivate" => "Staff account deactivated",
        "user.reactivate" => "Staff account reactivated",
        "user.password_reset" => "Staff password reset",
        "user.password_change" => "Password changed",
        "outbox.retry" => "Notification retried",
        "outbox.retry_failed" => "Parked notifications retried",
        other => other,
    }
}

/// Status codes in a detail (`out_for_delivery → completed`) read as staff say them
/// (`Out for delivery → Completed`); other words are left alone.
fn readable_detail(detail: &str) -> String {
    detail
        .split(' ')
        .map(|word| OrderStatus::parse(word).map_or(word, |s| staff_label(s)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the action was done to, as staff know it: orders by their short number.
fn target_name(action: &str, target: &str) -> String {
    if action.starts_with("order.") { format!("#{}", order_number(target)) } else { target.to_owned() }
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
            at: app.shop.zone.stamp(e.at),
            actor: e.actor,
            link: link(&e.action, &e.target),
            target: target_name(&e.action, &e.target),
            action: action_name(&e.action).to_owned(),
            detail: if e.action == "order.status" { readable_detail(&e.detail) } else { e.detail },
            code: e.action,
        })
        .collect();
    Ok(render(StatusCode::OK, &AuditPage { shell: AdminShell::new("Audit log", &staff, "audit"), entries, older }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_entries_read_in_the_kitchen_s_words() {
        assert_eq!(action_name("order.status"), "Order status changed");
        assert_eq!(action_name("something.new"), "something.new");
        assert_eq!(readable_detail("out_for_delivery → completed"), "Out for delivery → Completed");
        assert_eq!(readable_detail("→ preparing"), "→ Preparing");
        assert_eq!(target_name("order.status", "01935c1d-7b2a-7c00-8f00-00a1b2c3d4e5"), "#B2C3D4E5");
        assert_eq!(target_name("product.update", "calzone"), "calzone");
    }
}
