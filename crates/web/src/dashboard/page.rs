//! What every dashboard page shares: the layout's data and the error page.

use crate::auth::Auth;
use crate::storefront::message_page;
use crate::{AppState, storefront};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use stampede_store::{Backoffice, Role, StoreError, User};
use std::sync::Arc;

/// The dashboard layout's data.
pub struct AdminShell {
    pub title: String,
    pub csrf: String,
    pub email: String,
    /// Admins see the products, audit and analytics links; kitchen staff only orders.
    pub admin: bool,
    /// Which nav entry is current: `orders`, `products`, `analytics`, `staff`, `notifications` or `audit`.
    pub section: &'static str,
    /// The storefront's stylesheet, which the dashboard builds on.
    pub shop_css: String,
    pub css: String,
    pub js: String,
}

impl AdminShell {
    /// The layout for `staff`, in `section`.
    pub fn new(title: impl Into<String>, staff: &User, section: &'static str) -> AdminShell {
        AdminShell::for_page(title, Some(staff), section)
    }

    /// The layout for whoever is signed in (admins' pages outside the accounts router, such
    /// as the analytics preview, may have no one).
    pub fn for_page(title: impl Into<String>, staff: Option<&User>, section: &'static str) -> AdminShell {
        let visitor = crate::auth::visitor::current().unwrap_or_default();
        AdminShell {
            title: title.into(),
            csrf: visitor.csrf,
            email: staff.map(|s| s.email.clone()).unwrap_or_default(),
            admin: staff.is_none_or(|s| s.role == Role::Admin),
            section,
            shop_css: storefront::SHOP_CSS.href(),
            css: storefront::ADMIN_CSS.href(),
            js: storefront::ADMIN_JS.href(),
        }
    }
}

impl AdminShell {
    /// The layout without the dashboard's script, for pages whose CSP allows none.
    pub fn without_scripts(mut self) -> AdminShell {
        self.js.clear();
        self
    }
}

/// Why a dashboard page could not be shown.
#[derive(Debug)]
pub enum AdminError {
    NotFound(&'static str),
    /// The server was built without a back office: order search, product edits and stock
    /// adjustments are not there.
    NoBackoffice,
    Store(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Store(e)
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            AdminError::NotFound(what) => message_page(
                StatusCode::NOT_FOUND,
                "Not found",
                &format!("No such {what}"),
                "It may have been removed, or the link may be mistyped.",
            ),
            AdminError::NoBackoffice => message_page(
                StatusCode::NOT_IMPLEMENTED,
                "Not on this store",
                "This server has no back office",
                "Order search, product edits and stock adjustments are not available on this server. \
                 Orders open by their id (/admin/orders/<id>); the admin API changes stock with its token.",
            ),
            AdminError::Store(e) => {
                tracing::error!(error = %e, "dashboard page failed");
                message_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Something went wrong on our side",
                    "Nothing was changed. Please try again in a moment.",
                )
            }
        }
    }
}

/// The accounts layer; the dashboard is only mounted when it is on.
pub fn auth(app: &AppState) -> Result<&Arc<Auth>, AdminError> {
    app.auth.as_ref().ok_or(AdminError::NotFound("page"))
}

/// The form behind a button that cannot be undone (cancel an order, remove a staff
/// account): `confirm=yes` once the person has said they mean it, by the script's
/// `confirm()` or, without JavaScript, on the confirmation page.
#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    confirm: String,
}

impl ConfirmForm {
    pub fn confirmed(&self) -> bool {
        self.confirm == "yes"
    }
}

/// After a change, the dashboard redirects (303, post/redirect/get) to the page that shows
/// the result, naming what happened in the query (`?done=saved`, `?removed=<email>`) for
/// that page's confirmation line. `what` is URL-encoded.
pub fn redirect_done(path: &str, key: &str, what: &str) -> Response {
    let what: String = form_urlencoded::byte_serialize(what.as_bytes()).collect();
    storefront::see_other(&format!("{path}?{key}={what}"), None)
}

/// `?done=<what>` on a page a change redirected to (see [`redirect_done`]).
#[derive(Deserialize)]
pub struct Done {
    pub done: Option<String>,
}

/// The back office, on stores that have one.
pub fn backoffice(app: &AppState) -> Result<&Arc<dyn Backoffice>, AdminError> {
    auth(app)?.backoffice.as_ref().ok_or(AdminError::NoBackoffice)
}
