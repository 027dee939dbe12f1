//! Who is asking, for every page request: the CSRF token of their browser and, when signed
//! in, their account. One middleware resolves both, checks the token on every form post,
//! and makes the visitor available to handlers (request extension) and to page layouts
//! (a task-local, so every page can show the right header without each handler passing it).
//!
//! CSRF uses the double-submit pattern: a random token in an HttpOnly cookie and the same
//! token in a hidden `_csrf` field of every form; a post whose field does not match its
//! cookie changes nothing. The JSON API is exempt: it takes no cookies and no form bodies.

use super::cookies::{CookiePolicy, new_token, same};
use crate::{AppState, MAX_BODY_BYTES};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use stampede_store::User;

/// Name of the CSRF cookie (with `__Host-` in front over HTTPS).
pub const CSRF_COOKIE: &str = "csrf";
/// Name of the form field that carries the token.
pub const CSRF_FIELD: &str = "_csrf";

/// The person behind a page request.
#[derive(Debug, Clone, Default)]
pub struct Visitor {
    /// The token every form on the page must carry.
    pub csrf: String,
    /// The signed-in account, if any.
    pub user: Option<User>,
    /// Whether accounts are on (sign-in links are shown).
    pub accounts: bool,
}

tokio::task_local! {
    static CURRENT: Visitor;
}

/// The visitor of the request being handled (page layouts use it); `None` outside the middleware.
pub fn current() -> Option<Visitor> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Paths that are not pages: no visitor, no CSRF cookie, no session lookup.
fn is_machine_path(path: &str) -> bool {
    ["/api/", "/static/", "/dev/", "/compat/serverless-ecommerce/"].iter().any(|p| path.starts_with(p))
        || ["/healthz", "/readyz", "/metrics"].contains(&path)
        || is_cross_site_form(path)
}

/// WAN Pizza's order form posts from another site, so it cannot carry our token. Exactly this
/// path is exempt, and it reads no cookies: it can only place an order (see `compat::wan_pizza`).
fn is_cross_site_form(path: &str) -> bool {
    path == crate::compat::wan_pizza::ORDER_PATH
}

/// The middleware: resolves the visitor, refuses forged form posts, sets the CSRF cookie.
pub async fn layer(State(app): State<AppState>, request: Request, next: Next) -> Response {
    if is_machine_path(request.uri().path()) {
        return next.run(request).await;
    }
    let cookies = app.auth.as_ref().map(|a| a.cookies).unwrap_or_default();
    let existing = cookies
        .read(request.headers(), CSRF_COOKIE)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned);
    let fresh = existing.is_none();
    let csrf = existing.unwrap_or_else(new_token);
    let request = if is_unsafe(request.method()) {
        match checked(request, &csrf, fresh).await {
            Ok(request) => request,
            Err(refusal) => return refusal,
        }
    } else {
        request
    };
    let user = match &app.auth {
        Some(auth) => auth.session_user(request.headers()).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "could not look up a session");
            None
        }),
        None => None,
    };
    let visitor = Visitor { csrf: csrf.clone(), user, accounts: app.auth.is_some() };
    let mut request = request;
    request.extensions_mut().insert(visitor.clone());
    let mut response = CURRENT.scope(visitor, next.run(request)).await;
    if fresh {
        set_csrf_cookie(&mut response, cookies, &csrf);
    }
    response
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn set_csrf_cookie(response: &mut Response, cookies: CookiePolicy, token: &str) {
    if let Ok(value) = HeaderValue::from_str(&cookies.set(CSRF_COOKIE, token, None)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Passes the request on if its form carries the cookie's token; else the refusal page.
async fn checked(request: Request, csrf: &str, fresh: bool) -> Result<Request, Response> {
    // A bearer token cannot be attached by another site's form, so such requests are not forgeable.
    if request.headers().contains_key(header::AUTHORIZATION) {
        return Ok(request);
    }
    if fresh {
        return Err(refused());
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "This form is too large to send.").into_response())?;
    let given = form_urlencoded::parse(&bytes).find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.into_owned());
    if !given.is_some_and(|g| same(&g, csrf)) {
        return Err(refused());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// The answer to a post without the right token: nothing happened, reload and try again.
fn refused() -> Response {
    crate::storefront::message_page(
        StatusCode::FORBIDDEN,
        "Please try again",
        "This form has expired",
        "For your safety nothing was changed. Go back, reload the page and send the form again.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pages_get_a_visitor() {
        for path in ["/api/orders", "/static/shop.css", "/healthz", "/metrics", "/dev/mailbox"] {
            assert!(is_machine_path(path), "{path}");
        }
        assert!(is_machine_path("/compat/wan-pizza/order") && is_machine_path("/compat/serverless-ecommerce/orders"));
        for path in ["/", "/admin/orders", "/cart/add", "/sign-in", "/compat/wan-pizza/order/x", "/compat/wan-pizza"] {
            assert!(!is_machine_path(path), "{path}");
        }
        assert!(is_unsafe(&Method::POST) && is_unsafe(&Method::DELETE) && !is_unsafe(&Method::GET));
    }
}
