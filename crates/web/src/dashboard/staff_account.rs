//! What admins do to a staff account besides adding and removing it: deactivate it (it can
//! no longer sign in and its sessions end) and reactivate it; reset its password to a
//! temporary one, which its owner replaces at the next sign-in before anything else
//! ([`change_own`], enforced by `auth::guard`). Every change is audited; the last active
//! admin cannot be deactivated.

use super::page::{AdminError, AdminShell, auth, redirect_done};
use super::staff::{self, Errors, NewStaff};
use crate::AppState;
use crate::auth::guard::Staff;
use crate::auth::{hash_password, password};
use crate::storefront::{message_page, render};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use stampede_store::{StoreError, User};

/// `POST /admin/staff/{id}/deactivate` and `/reactivate`.
async fn set_active(app: &AppState, admin: &User, id: &str, active: bool) -> Result<Response, AdminError> {
    let auth = auth(app)?;
    if !active && id == admin.id {
        return Ok(message_page(
            StatusCode::CONFLICT,
            "Not deactivated",
            "You cannot deactivate your own account",
            "Nothing was changed. Another admin can deactivate it if it should stop.",
        ));
    }
    match auth.accounts.set_staff_active(id, active).await {
        Ok(Some(user)) => {
            let (action, detail, notice) = if active {
                ("user.reactivate", "reactivated: may sign in again", "reactivated")
            } else {
                ("user.deactivate", "deactivated: cannot sign in; their sessions ended", "deactivated")
            };
            auth.audit(admin, action, &user.email, detail).await;
            Ok(redirect_done("/admin/staff", notice, &user.email))
        }
        Ok(None) => Err(AdminError::NotFound("staff account")),
        Err(StoreError::Conflict(_)) => Ok(message_page(
            StatusCode::CONFLICT,
            "Not deactivated",
            "The last active admin cannot be deactivated",
            "Nothing was changed. Add or reactivate another admin first.",
        )),
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/staff/{id}/deactivate`.
pub async fn deactivate(
    State(app): State<AppState>,
    Staff(admin): Staff,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    set_active(&app, &admin, &id, false).await
}

/// `POST /admin/staff/{id}/reactivate`.
pub async fn reactivate(
    State(app): State<AppState>,
    Staff(admin): Staff,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    set_active(&app, &admin, &id, true).await
}

/// The password forms' field.
#[derive(Debug, Default, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    repeat: String,
}

/// `POST /admin/staff/{id}/password`: sets a temporary password to hand over in person.
pub async fn reset_password(
    State(app): State<AppState>,
    Staff(admin): Staff,
    Path(id): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AdminError> {
    let auth = auth(&app)?;
    if let Some(weak) = password::weakness(&form.password) {
        let errors = Errors::reset(id, weak);
        let page = staff::page(&app, &admin, NewStaff::blank(), errors).await?;
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    if !auth.accounts.staff().await?.iter().any(|u| u.id == id) {
        return Err(AdminError::NotFound("staff account"));
    }
    let hash = hash_password(&form.password).await?;
    let user = auth.accounts.set_password(&id, &hash, true).await?.ok_or(AdminError::NotFound("staff account"))?;
    let detail = "password reset to a temporary one; their sessions ended and they choose a new one at sign-in";
    auth.audit(&admin, "user.password_reset", &user.email, detail).await;
    Ok(redirect_done("/admin/staff", "reset", &user.email))
}

#[derive(Template)]
#[template(path = "admin/password.html")]
struct ChangePage {
    shell: AdminShell,
    /// Sent here by a reset, rather than by choice.
    required: bool,
    error: Option<String>,
    done: bool,
}

/// `GET /admin/password`: choose a new password (required after an admin's reset).
pub async fn change_form(Staff(me): Staff) -> Response {
    let page = ChangePage {
        shell: AdminShell::new("Choose a new password", &me, "staff"),
        required: me.must_change_password,
        error: None,
        done: false,
    };
    render(StatusCode::OK, &page)
}

/// `POST /admin/password`.
pub async fn change_own(
    State(app): State<AppState>,
    Staff(me): Staff,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AdminError> {
    let auth = auth(&app)?;
    let error = password::weakness(&form.password).or_else(|| {
        (form.password != form.repeat).then(|| "The two passwords differ. Type the same one twice.".into())
    });
    if let Some(error) = error {
        let shell = AdminShell::new("Choose a new password", &me, "staff");
        let page = ChangePage { shell, required: me.must_change_password, error: Some(error), done: false };
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    let hash = hash_password(&form.password).await?;
    auth.accounts.set_password(&me.id, &hash, false).await?.ok_or(AdminError::NotFound("account"))?;
    auth.audit(&me, "user.password_change", &me.email, "chose a new password").await;
    let shell = AdminShell::new("Password changed", &me, "staff");
    Ok(render(StatusCode::OK, &ChangePage { shell, required: false, error: None, done: true }))
}
