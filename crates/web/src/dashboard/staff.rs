//! `/admin/staff`: the staff accounts, and a form for admins to add kitchen staff or another
//! admin with a first password to hand over. (The very first admin comes from
//! `stampede admin create-user`.)

use super::page::{AdminError, AdminShell, auth, redirect_done};
use crate::AppState;
use crate::auth::SignUpError;
use crate::auth::guard::Staff;
use crate::storefront::render;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use stampede_store::{Role, User};

/// A staff account as listed.
pub struct Member {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: &'static str,
    pub since: String,
    /// Offered a Remove button: not the admin looking, nor the last active admin.
    pub removable: bool,
    /// May sign in; a deactivated account is offered Reactivate.
    pub active: bool,
    /// Offered Deactivate: active, not the admin looking, nor the last active admin.
    pub deactivatable: bool,
    /// The admin looking: no reset either (they change their own at /admin/password).
    pub me: bool,
    /// A temporary password waits to be replaced.
    pub must_change_password: bool,
}

/// The new-account form.
#[derive(Debug, Default, Deserialize)]
pub struct NewStaff {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub password: String,
}

impl NewStaff {
    /// The empty form, for kitchen staff.
    pub fn blank() -> NewStaff {
        NewStaff { role: "kitchen".into(), ..NewStaff::default() }
    }
}

/// Messages by field of the add form, and a refused password reset's (account id, message).
#[derive(Default)]
pub struct Errors {
    email: Option<String>,
    name: Option<String>,
    role: Option<String>,
    password: Option<String>,
    reset: Option<(String, String)>,
}

impl Errors {
    /// A refused password reset of account `id`.
    pub fn reset(id: String, message: String) -> Errors {
        Errors { reset: Some((id, message)), ..Errors::default() }
    }

    /// The reset form's message for account `id`, if its reset was refused.
    fn reset_error(&self, id: &str) -> Option<&str> {
        self.reset.as_ref().filter(|(for_id, _)| for_id == id).map(|(_, m)| m.as_str())
    }
}

#[derive(Template)]
#[template(path = "admin/staff.html")]
pub struct StaffPage {
    shell: AdminShell,
    members: Vec<Member>,
    form: NewStaff,
    errors: Errors,
    notice: Option<String>,
}

/// `?done=<email>` after adding someone, `?removed=`, `?deactivated=`, `?reactivated=` or
/// `?reset=` after changing their account.
#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
    removed: Option<String>,
    deactivated: Option<String>,
    reactivated: Option<String>,
    reset: Option<String>,
}

/// The staff page for `admin`, with the add form as typed and any messages.
pub async fn page(app: &AppState, admin: &User, form: NewStaff, errors: Errors) -> Result<StaffPage, AdminError> {
    let staff = auth(app)?.accounts.staff().await?;
    let active_admins = staff.iter().filter(|u| u.role == Role::Admin && u.active).count();
    let members = staff
        .into_iter()
        .map(|u| Member {
            // Taking away an active admin needs another active one.
            removable: u.id != admin.id && (u.role != Role::Admin || !u.active || active_admins > 1),
            deactivatable: u.active && u.id != admin.id && (u.role != Role::Admin || active_admins > 1),
            active: u.active,
            me: u.id == admin.id,
            must_change_password: u.must_change_password,
            id: u.id,
            email: u.email,
            name: u.name.unwrap_or_default(),
            role: u.role.as_str(),
            // The day in the shop's zone.
            since: app.shop.zone.input_text(u.created_at).chars().take(10).collect(),
        })
        .collect();
    Ok(StaffPage { shell: AdminShell::new("Staff", admin, "staff"), members, form, errors, notice: None })
}

/// `GET /admin/staff`.
pub async fn show(
    State(app): State<AppState>,
    Staff(admin): Staff,
    Query(done): Query<Done>,
) -> Result<Response, AdminError> {
    let mut page = page(&app, &admin, NewStaff::blank(), Errors::default()).await?;
    page.notice = done
        .done
        .map(|email| format!("Added {email}. Hand them their first password in person."))
        .or(done.removed.map(|email| format!("Removed {email}; they are signed out.")))
        .or(done.deactivated.map(|email| format!("Deactivated {email}: they are signed out and cannot sign in.")))
        .or(done.reactivated.map(|email| format!("Reactivated {email}: they can sign in again.")))
        .or(done.reset.map(|email| {
            format!("Set a temporary password for {email}. Hand it over in person: they choose their own at sign-in.")
        }));
    Ok(render(StatusCode::OK, &page))
}

/// `POST /admin/staff`: adds a staff account and audits it.
pub async fn create(
    State(app): State<AppState>,
    Staff(admin): Staff,
    Form(mut form): Form<NewStaff>,
) -> Result<Response, AdminError> {
    let auth = auth(&app)?;
    let mut errors = Errors::default();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    let role = match form.role.as_str() {
        "kitchen" => Some(Role::Kitchen),
        "admin" => Some(Role::Admin),
        _ => {
            errors.role = Some("Choose kitchen or admin.".into());
            None
        }
    };
    if let Some(role) = role {
        let name = Some(form.name.as_str()).filter(|n| !n.trim().is_empty());
        match auth.sign_up(&form.email, name, &form.password, role).await {
            Ok(user) => {
                let detail = format!("created with role {}", user.role.as_str());
                auth.audit(&admin, "user.create", &user.email, detail).await;
                return Ok(redirect_done("/admin/staff", "done", &user.email));
            }
            Err(refusal) => {
                status = refusal.status();
                match refusal {
                    SignUpError::Email(e) | SignUpError::EmailTaken(e) => errors.email = Some(e),
                    SignUpError::Name(e) => errors.name = Some(e),
                    SignUpError::Password(e) => errors.password = Some(e),
                    SignUpError::Store(e) => return Err(e.into()),
                }
            }
        }
    }
    form.password.clear();
    Ok(render(status, &page(&app, &admin, form, errors).await?))
}
