//! The back office's door: staff only, and some pages for admins only. Anonymous browsers
//! are sent to sign in (other clients get 401); signed-in people without the role get 403.

use super::visitor::Visitor;
use crate::Problem;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use stampede_store::{Role, User};

/// Where a staff member with a reset password is sent to choose a new one: the one page
/// the guard lets them see (served by `dashboard::staff_account`).
pub const CHANGE_PASSWORD: &str = "/admin/password";

/// Lets kitchen staff and admins through.
pub async fn require_staff(request: Request, next: Next) -> Response {
    match admit(&request, Role::is_staff) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal,
    }
}

/// Lets admins through.
pub async fn require_admin(request: Request, next: Next) -> Response {
    match admit(&request, |role| role == Role::Admin) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal,
    }
}

fn admit(request: &Request, allowed: impl Fn(Role) -> bool) -> Result<(), Response> {
    let user = request.extensions().get::<Visitor>().and_then(|v| v.user.as_ref());
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    match user {
        // An admin reset this password: choosing a new one comes before anything else.
        Some(user) if user.must_change_password && request.uri().path() != CHANGE_PASSWORD => Err(if wants_html {
            crate::storefront::see_other(CHANGE_PASSWORD, None)
        } else {
            Problem::new(
                StatusCode::FORBIDDEN,
                "password-change-required",
                "Choose a new password first",
                "an admin reset this account's password: choose a new one at /admin/password",
            )
            .into_response()
        }),
        Some(user) if allowed(user.role) => Ok(()),
        Some(_) if wants_html => Err(crate::storefront::message_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "This page is not for your account",
            "Your account cannot open this page. Ask an admin if you need it.",
        )),
        Some(_) => Err(Problem::forbidden("Forbidden", "your account's role does not allow this").into_response()),
        None if wants_html => {
            // After signing in, a page comes back as it was asked for; a form post whose
            // session ran out cannot be replayed, so it leads to the dashboard instead.
            let next = match request.method() {
                &axum::http::Method::GET => request.uri().path_and_query().map_or("/admin", |p| p.as_str()),
                _ => "/admin",
            };
            Err(crate::storefront::see_other(&format!("/sign-in?next={}", encode(next)), None))
        }
        None => Err(Problem::unauthorized("Unauthorized", "sign in as staff first").into_response()),
    }
}

/// Percent-encodes a path for a query parameter.
fn encode(path: &str) -> String {
    form_urlencoded::byte_serialize(path.as_bytes()).collect()
}

/// The signed-in staff member handling a request (behind [`require_staff`]).
pub struct Staff(pub User);

impl<S: Send + Sync> FromRequestParts<S> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Staff, Response> {
        parts
            .extensions
            .get::<Visitor>()
            .and_then(|v| v.user.clone())
            .filter(|u| u.role.is_staff())
            .map(Staff)
            .ok_or_else(|| Problem::unauthorized("Unauthorized", "sign in as staff first").into_response())
    }
}
