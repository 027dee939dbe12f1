//! `/admin/notifications` (admins only): the outbox as staff see it. How many notifications
//! are waiting, sent and parked, the parked ones with why they failed, and putting them back
//! one at a time or all at once once the receiver (mail server, webhook) is fixed.

use super::page::{AdminError, AdminShell, redirect_done};
use crate::AppState;
use crate::auth::guard::Staff;
use crate::storefront::{order_number, render};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use stampede_store::clock::now_millis;
use stampede_store::{OutboxCounts, OutboxEvent, OutboxState};

/// Parked events listed on the page, newest first.
const LISTED: u32 = 50;
/// Parked events one press of "Put all back" puts back, oldest first, in pages of [`PAGE`]:
/// a big outage's backlog takes a few presses, and no request runs for long.
const AT_ONCE: u32 = 10_000;
const PAGE: u32 = 1_000;

/// One parked event as shown.
pub struct ParkedView {
    pub id: String,
    /// What it announces, in words ("Order received"); the event type stays as a tooltip.
    pub what: &'static str,
    pub kind: String,
    /// `#B2C3D4E5` and its dashboard page, for events about an order.
    pub order: Option<(String, String)>,
    pub failed_at: String,
    pub attempts: u32,
    pub error: String,
    /// Channels that took it before the others failed (they are skipped when it goes again).
    pub delivered_to: String,
}

#[derive(Template)]
#[template(path = "admin/notifications.html")]
struct NotificationsPage {
    shell: AdminShell,
    counts: OutboxCounts,
    parked: Vec<ParkedView>,
    notice: Option<String>,
    /// What one press of "Put all back" takes: all, or the oldest [`AT_ONCE`].
    at_once: u64,
}

/// `?retried=<n>` after putting one or more back, with `left=<n>` still parked after a bulk one.
#[derive(Deserialize)]
pub struct Retried {
    retried: Option<u32>,
    left: Option<u64>,
}

fn view(app: &AppState, e: OutboxEvent) -> ParkedView {
    let order = (!e.order_id.is_empty())
        .then(|| (format!("#{}", order_number(&e.order_id)), format!("/admin/orders/{}", e.order_id)));
    ParkedView {
        order,
        failed_at: e.failed_at.map(|at| app.shop.zone.stamp(at)).unwrap_or_default(),
        attempts: e.attempts,
        error: e.last_error.unwrap_or_default(),
        delivered_to: e.done_channels.join(", "),
        what: kind_name(&e.kind),
        kind: e.kind,
        id: e.id,
    }
}

impl ParkedView {
    /// How the screen-reader label of its button names it: with its order's number, if any.
    pub fn label(&self) -> String {
        match &self.order {
            Some((number, _)) => format!("{} {number}", self.what),
            None => self.what.to_owned(),
        }
    }
}

/// An event type as staff say it.
fn kind_name(kind: &str) -> &'static str {
    use stampede_store::outbox::{ORDER_CANCELLED, ORDER_PLACED, ORDER_STATUS_CHANGED};
    match kind {
        ORDER_PLACED => "Order received",
        ORDER_STATUS_CHANGED => "Status update",
        ORDER_CANCELLED => "Cancellation",
        stampede_store::EMAIL_LINK_EVENT => "Sign-in or lookup link",
        _ => "Other",
    }
}

/// What the page says after a retry.
fn notice(retried: Retried) -> Option<String> {
    let n = retried.retried?;
    let put_back = match n {
        0 => "Nothing was parked: nothing to put back.".to_owned(),
        1 => "Put 1 notification back in the queue: it goes out again shortly.".to_owned(),
        n => format!("Put {n} notifications back in the queue: they go out again shortly."),
    };
    Some(match retried.left {
        Some(left) if left > 0 => format!(
            "{put_back} {left} are parked now: those not put back yet, and any that failed again (see their errors)."
        ),
        _ => put_back,
    })
}

/// `GET /admin/notifications`.
pub async fn show(
    State(app): State<AppState>,
    Staff(admin): Staff,
    Query(retried): Query<Retried>,
) -> Result<Response, AdminError> {
    let counts = app.store.outbox_counts().await?;
    let parked = app.store.outbox_events(OutboxState::Failed, LISTED).await?;
    let parked = parked.into_iter().map(|e| view(&app, e)).collect();
    let shell = AdminShell::new("Notifications", &admin, "notifications");
    let at_once = counts.failed.min(u64::from(AT_ONCE));
    Ok(render(StatusCode::OK, &NotificationsPage { shell, counts, parked, notice: notice(retried), at_once }))
}

/// `POST /admin/notifications/{id}/retry`: puts one parked event back.
pub async fn retry_one(
    State(app): State<AppState>,
    Staff(admin): Staff,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    if !app.store.retry_event(&id).await? {
        return Err(AdminError::NotFound("parked notification"));
    }
    if let Some(auth) = &app.auth {
        auth.audit(&admin, "outbox.retry", &id, "parked event put back in the queue").await;
    }
    Ok(redirect_done("/admin/notifications", "retried", "1"))
}

/// `POST /admin/notifications/retry`: puts back up to [`AT_ONCE`] events parked before the
/// press (what fails again meanwhile parks later, so the press ends however the receiver is).
pub async fn retry_all(State(app): State<AppState>, Staff(admin): Staff) -> Result<Response, AdminError> {
    let before = now_millis();
    let mut retried = 0;
    let mut failure = None;
    while retried < AT_ONCE {
        match app.store.retry_failed(before, PAGE.min(AT_ONCE - retried)).await {
            Ok(0) => break,
            Ok(page) => retried += page,
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    // What was put back is audited even when a later page failed.
    if retried > 0
        && let Some(auth) = &app.auth
    {
        auth.audit(&admin, "outbox.retry_failed", "outbox", format!("{retried} parked events put back in the queue"))
            .await;
    }
    if let Some(e) = failure {
        return Err(e.into());
    }
    let left = app.store.outbox_counts().await?.failed;
    Ok(crate::storefront::see_other(&format!("/admin/notifications?retried={retried}&left={left}"), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_read_in_the_shop_s_words() {
        assert_eq!(kind_name("order.placed"), "Order received");
        assert_eq!(kind_name("order.status_changed"), "Status update");
        assert_eq!(kind_name("customer.link"), "Sign-in or lookup link");
    }

    #[test]
    fn the_notice_says_what_was_put_back_and_what_is_left() {
        let said = |retried, left| notice(Retried { retried, left });
        assert_eq!(said(None, None), None);
        assert_eq!(said(Some(0), Some(0)).unwrap(), "Nothing was parked: nothing to put back.");
        assert!(said(Some(1), None).unwrap().starts_with("Put 1 notification back"));
        let more = said(Some(10_000), Some(5)).unwrap();
        assert!(more.contains("Put 10000 notifications back") && more.contains("5 are parked now"), "{more}");
    }
}
