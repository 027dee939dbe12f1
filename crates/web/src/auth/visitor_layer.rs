//! The middleware in front of every page: resolves the visitor (`visitor.rs`), checks the
//! CSRF token on every form post, and sets the CSRF cookie.
//!
//! CSRF uses signed double submit: a random nonce in an HttpOnly cookie, and in a hidden
//! `_csrf` field of every form an HMAC of that nonce and the browser's session cookie under
//! the server's secret. A post whose field is not that HMAC changes nothing: a token planted
//! or copied from another session is worthless. The JSON API is exempt (it takes no form
//! bodies), and so is a request whose `Authorization` header itself signed it in (a valid
//! OIDC token, which another site's form cannot attach); the session cookie never exempts.

use super::cookies::{CookiePolicy, new_token};
use super::visitor::{self, CSRF_COOKIE, CSRF_FIELD, Visitor};
use crate::AppState;
use crate::body_limit::MAX_BODY_BYTES;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use stampede_domain::Signer;

/// Paths that are not pages: no visitor, no CSRF cookie, no session lookup.
fn is_machine_path(path: &str) -> bool {
    ["/api/", "/static/", "/compat/serverless-ecommerce/"].iter().any(|p| path.starts_with(p))
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
    let nonce = existing.unwrap_or_else(new_token);
    let session = cookies.read(request.headers(), super::SESSION_COOKIE).unwrap_or_default().to_owned();
    let csrf = form_token(&app.signer, &session, &nonce);
    let bearer = app.auth.as_ref().and_then(|auth| auth.bearer_user(request.headers()));
    let request = if is_unsafe(request.method()) && bearer.is_none() {
        match checked(request, &app.signer, &session, &nonce, fresh).await {
            Ok(request) => request,
            Err(refusal) => return refusal,
        }
    } else {
        request
    };
    let user = match (&app.auth, bearer) {
        (_, Some(user)) => Some(user),
        (Some(auth), None) => auth.cookie_user(request.headers()).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "could not look up a session");
            None
        }),
        (None, None) => None,
    };
    let visitor = Visitor { csrf, user, accounts: app.auth.is_some(), shop: app.shop.clone() };
    let mut request = request;
    request.extensions_mut().insert(visitor.clone());
    let mut response = visitor::scope(visitor, next.run(request)).await;
    if fresh {
        set_csrf_cookie(&mut response, cookies, &nonce);
    }
    response
}

const CSRF_PURPOSE: &str = "csrf";

/// The token forms carry: the nonce bound to the session cookie (empty when signed out).
fn form_token(signer: &Signer, session: &str, nonce: &str) -> String {
    signer.sign(CSRF_PURPOSE, &format!("{session}|{nonce}"))
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn set_csrf_cookie(response: &mut Response, cookies: CookiePolicy, token: &str) {
    if let Ok(value) = HeaderValue::from_str(&cookies.set(CSRF_COOKIE, token, None)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Passes the request on if its form carries the token of its nonce and session; else the
/// refusal page.
async fn checked(
    request: Request,
    signer: &Signer,
    session: &str,
    nonce: &str,
    fresh: bool,
) -> Result<Request, Response> {
    if fresh {
        return Err(refused());
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|e| {
        if crate::body_deadline::BodyStalled::caused(&e) {
            crate::storefront::message_page(
                StatusCode::REQUEST_TIMEOUT,
                "Please try again",
                "This form did not arrive in time",
                "Nothing was changed. Send the form again.",
            )
        } else {
            (StatusCode::PAYLOAD_TOO_LARGE, "This form is too large to send.").into_response()
        }
    })?;
    let given = form_urlencoded::parse(&bytes).find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.into_owned());
    if !given.is_some_and(|g| signer.verify(CSRF_PURPOSE, &format!("{session}|{nonce}"), &g)) {
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
        for path in ["/api/orders", "/static/shop.css", "/healthz", "/metrics"] {
            assert!(is_machine_path(path), "{path}");
        }
        assert!(is_machine_path("/compat/wan-pizza/order") && is_machine_path("/compat/serverless-ecommerce/orders"));
        // The dev mailbox may be for admins only, so it needs to know who is asking.
        for path in [
            "/",
            "/admin/orders",
            "/cart/add",
            "/sign-in",
            "/dev/mailbox",
            "/compat/wan-pizza/order/x",
            "/compat/wan-pizza",
        ] {
            assert!(!is_machine_path(path), "{path}");
        }
        assert!(is_unsafe(&Method::POST) && is_unsafe(&Method::DELETE) && !is_unsafe(&Method::GET));
    }
}

#[cfg(test)]
mod binding_tests {
    use super::*;

    #[test]
    fn form_tokens_are_bound_to_the_session_and_the_nonce() {
        let signer = Signer::new(vec![b"k".to_vec()]).unwrap();
        let (nonce, other) = ("a".repeat(64), "b".repeat(64));
        let signed_out = form_token(&signer, "", &nonce);
        assert_eq!(signed_out, form_token(&signer, "", &nonce), "stable for one browser");
        assert_ne!(signed_out, form_token(&signer, "session-1", &nonce), "signing in changes it");
        assert_ne!(form_token(&signer, "session-1", &nonce), form_token(&signer, "session-2", &nonce));
        assert_ne!(signed_out, form_token(&signer, "", &other), "another nonce");
        assert_ne!(signed_out, nonce, "the cookie alone is not the token");
    }
}
