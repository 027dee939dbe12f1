//! Carts follow a signed-in customer: every change to the cart cookie of a signed-in
//! customer is saved on their account ([`keep`]), and signing in merges the account's cart
//! into the browser's ([`merge_on_sign_in`]), so another browser signing in to the same
//! account sees it. The cookie stays the cart of the page (it works without accounts and
//! without JavaScript); the account keeps the newest copy. Two browsers changing the cart at
//! once each save their own: the last change wins until the next sign-in merges again.

use super::buyer::signed_in_customer;
use super::cart_cookie::{COOKIE_NAME, Cart};
use crate::AppState;
use crate::auth::Auth;
use axum::extract::{Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use stampede_store::{Role, User};

/// Saves the cart a response sets for a signed-in customer on their account.
pub async fn keep(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let (Some(user), Some(auth)) = (signed_in_customer(), app.auth.as_deref()) else { return response };
    let prefix = format!("{COOKIE_NAME}=");
    let set = response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok());
    if let Some(value) = set.filter_map(|v| v.strip_prefix(prefix.as_str())).next_back() {
        let encoded = value.split(';').next().unwrap_or_default();
        // What is saved is what the cookie decodes to: never a value the cart would not read.
        let cart = Cart::decode(encoded).unwrap_or_default().encode();
        if let Err(e) = auth.accounts.save_cart(&user.id, &cart).await {
            tracing::warn!(error = %e, "could not save the cart on the account");
        }
    }
    response
}

/// At a customer's sign-in: merges the account's cart and this browser's, saves the result,
/// and returns the `Set-Cookie` that gives it to this browser (`None` for staff, or nothing
/// to change).
pub async fn merge_on_sign_in(auth: &Auth, user: &User, headers: &HeaderMap) -> Option<HeaderValue> {
    if user.role != Role::Customer {
        return None;
    }
    let saved = match auth.accounts.saved_cart(&user.id).await {
        Ok(saved) => saved.and_then(|s| Cart::decode(&s)).unwrap_or_default(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the account's cart");
            return None;
        }
    };
    let here = Cart::from_headers(headers);
    let mut merged = here.clone();
    merged.merge(&saved);
    if merged.encode() != saved.encode()
        && let Err(e) = auth.accounts.save_cart(&user.id, &merged.encode()).await
    {
        tracing::warn!(error = %e, "could not save the cart on the account");
    }
    (merged != here).then(|| HeaderValue::from_str(&merged.set_cookie()).ok()).flatten()
}
