//! Removing a staff account (admins only): confirmed first like cancelling an order (the
//! script's `confirm()`, or a confirmation page without JavaScript), audited, and refused
//! for the last admin so the shop is never left without one. The account's sessions end with it.

use super::page::{AdminError, AdminShell, ConfirmForm, auth, redirect_done};
use crate::AppState;
use crate::auth::guard::Staff;
use crate::storefront::{message_page, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use stampede_store::StoreError;

#[derive(Template)]
#[template(path = "admin/staff_remove.html")]
struct ConfirmPage {
    shell: AdminShell,
    id: String,
    email: String,
    role: &'static str,
}

/// `POST /admin/staff/{id}/remove`.
pub async fn remove(
    State(app): State<AppState>,
    Staff(admin): Staff,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Result<Response, AdminError> {
    let auth = auth(&app)?;
    if !form.confirmed() {
        let staff = auth.accounts.staff().await?;
        let member = staff.into_iter().find(|u| u.id == id).ok_or(AdminError::NotFound("staff account"))?;
        let shell = AdminShell::new(format!("Remove {}?", member.email), &admin, "staff");
        return Ok(render(StatusCode::OK, &ConfirmPage { shell, id, email: member.email, role: member.role.as_str() }));
    }
    match auth.accounts.remove_staff(&id).await {
        Ok(Some(user)) => {
            let detail = format!("removed ({}); their sessions ended", user.role.as_str());
            auth.audit(&admin, "user.remove", &user.email, detail).await;
            Ok(redirect_done("/admin/staff", "removed", &user.email))
        }
        Ok(None) => Err(AdminError::NotFound("staff account")),
        Err(StoreError::Conflict(_)) => Ok(message_page(
            StatusCode::CONFLICT,
            "Not removed",
            "The last admin cannot be removed",
            "Nothing was changed. Add another admin first if this account should go.",
        )),
        Err(e) => Err(e.into()),
    }
}
