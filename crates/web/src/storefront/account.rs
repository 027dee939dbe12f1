//! Signing up, in and out, and the signed-in customer's order history. Staff sign in on the
//! same page and land on the dashboard.

use super::cart_cookie::Cart;
use super::order_page::OrderView;
use super::page::{PageError, Shell, render, see_other};
use crate::AppState;
use crate::auth::email_links;
use crate::auth::login_limits::{Refusal, retry_secs};
use crate::auth::visitor::Visitor;
use crate::auth::{Auth, SignInError, SignUpError};
use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use serde::Deserialize;
use stampede_domain::CustomerKey;
use stampede_store::clock::now_millis;
use stampede_store::{LinkPurpose, Order, PageRequest, Role, User};
use std::net::SocketAddr;
use std::sync::Arc;

/// Orders per page of the account's history.
const PAGE: u32 = 20;

/// The account pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sign-in", get(sign_in_form).post(sign_in))
        .route("/sign-up", get(sign_up_form).post(sign_up))
        .route("/sign-out", post(sign_out))
        .route("/account", get(account))
        .route("/account/verify", get(super::verify_email::LANDING.form()).post(super::verify_email::open))
        .route("/account/verify/resend", post(super::verify_email::resend))
}

#[derive(Template)]
#[template(path = "storefront/sign_in.html")]
struct SignInPage {
    shell: Shell,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "storefront/sign_up.html")]
struct SignUpPage {
    shell: Shell,
    form: SignUpForm,
    errors: SignUpErrors,
}

#[derive(Default)]
struct SignUpErrors {
    email: Option<String>,
    name: Option<String>,
    password: Option<String>,
}

#[derive(Template)]
#[template(path = "storefront/account.html")]
struct AccountPage {
    shell: Shell,
    user: User,
    orders: Vec<OrderView>,
    next_cursor: Option<String>,
    /// A confirmation link was just sent.
    sent: bool,
    /// The email was just confirmed.
    verified: bool,
}

/// `?next=` after sign-in.
#[derive(Deserialize, Default)]
pub struct Next {
    next: Option<String>,
}

/// A path of this shop to return to after sign-in; anything that could leave the site is
/// ignored. It is resolved the way a browser would resolve it (which drops tabs and
/// newlines and reads `\` as `/`, so `/\t/evil.com` means `//evil.com`), and must stay on
/// the shop's origin; control characters are refused outright.
fn local_path(next: Option<&str>) -> Option<String> {
    let next = next?;
    if !next.starts_with('/') || next.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    let shop = url::Url::parse("http://shop.invalid/").ok()?;
    let target = shop.join(next).ok()?;
    if target.origin() != shop.origin() {
        return None;
    }
    let mut path = target.path().to_owned();
    if let Some(query) = target.query() {
        path.push('?');
        path.push_str(query);
    }
    Some(path)
}

fn auth(app: &AppState) -> Result<&Arc<Auth>, PageError> {
    app.auth.as_ref().ok_or(PageError::NotFound)
}

/// `GET /sign-in`.
pub async fn sign_in_form(headers: HeaderMap, Query(q): Query<Next>) -> Response {
    let page = SignInPage {
        shell: Shell::new("Sign in", &Cart::from_headers(&headers)),
        email: String::new(),
        next: local_path(q.next.as_deref()).unwrap_or_default(),
        error: None,
    };
    render(StatusCode::OK, &page)
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// `POST /sign-in`: a session cookie and a redirect, or the form with what went wrong.
pub async fn sign_in(
    State(app): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, PageError> {
    let auth = auth(&app)?;
    let next = local_path(Some(&form.next));
    let again = |error: String, status: StatusCode| {
        let page = SignInPage {
            shell: Shell::new("Sign in", &Cart::from_headers(&headers)),
            email: form.email.trim().to_owned(),
            next: next.clone().unwrap_or_default(),
            error: Some(error),
        };
        render(status, &page)
    };
    if form.email.trim().is_empty() || form.password.is_empty() {
        return Ok(again("Enter your email and password.".into(), StatusCode::UNPROCESSABLE_ENTITY));
    }
    let ip = client.map(|c| c.0.0.ip());
    let user = match auth.sign_in(&form.email, &form.password, ip).await {
        Ok(user) => user,
        Err(SignInError::Wrong { locked_for: None }) => {
            return Ok(again("That email and password do not match an account.".into(), StatusCode::UNAUTHORIZED));
        }
        Err(SignInError::Wrong { locked_for: Some(wait) } | SignInError::Refused(Refusal::LockedOut(wait))) => {
            let minutes = retry_secs(wait).div_ceil(60);
            let message = format!(
                "Too many wrong passwords for this email from your network. Signing in to it from here is paused for {minutes} min."
            );
            return Ok(with_retry_after(again(message, StatusCode::TOO_MANY_REQUESTS), retry_secs(wait)));
        }
        Err(SignInError::Refused(Refusal::RateLimited(wait))) => {
            let secs = retry_secs(wait);
            let message = format!("Too many sign-in attempts from your network. Try again in {secs} s.");
            return Ok(with_retry_after(again(message, StatusCode::TOO_MANY_REQUESTS), secs));
        }
        Err(SignInError::Deactivated) => {
            let message = "This account is deactivated. Ask an admin of the shop to reactivate it.";
            return Ok(again(message.into(), StatusCode::FORBIDDEN));
        }
        Err(SignInError::Store(e)) => return Err(e.into()),
    };
    // Signing in again replaces any session this browser had, rather than leaving it alive.
    auth.close_session(&headers).await?;
    let cookie = auth.open_session(&user).await?;
    let cart = super::saved_cart::merge_on_sign_in(auth, &user, &headers).await;
    let home = if user.role.is_staff() { "/admin" } else { "/account" };
    // A password an admin reset is replaced before anything else (see auth::guard).
    let next = if user.must_change_password { None } else { next };
    let home = if user.must_change_password { crate::auth::guard::CHANGE_PASSWORD } else { home };
    let mut response = see_other(next.as_deref().unwrap_or(home), Some(cookie));
    if let Some(cart) = cart {
        response.headers_mut().append(header::SET_COOKIE, cart);
    }
    Ok(response)
}

fn with_retry_after(mut response: Response, secs: u64) -> Response {
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    response
}

/// The sign-up form's fields.
#[derive(Deserialize, Default)]
pub struct SignUpForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// `GET /sign-up`.
pub async fn sign_up_form(headers: HeaderMap) -> Response {
    let page = SignUpPage {
        shell: Shell::new("Create an account", &Cart::from_headers(&headers)),
        form: SignUpForm::default(),
        errors: SignUpErrors::default(),
    };
    render(StatusCode::OK, &page)
}

/// `POST /sign-up`: creates a customer account and signs it in.
pub async fn sign_up(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(mut form): Form<SignUpForm>,
) -> Result<Response, PageError> {
    let auth = auth(&app)?;
    let name = Some(form.name.as_str()).filter(|n| !n.trim().is_empty());
    let mut errors = SignUpErrors::default();
    let status = match auth.sign_up(&form.email, name, &form.password, Role::Customer).await {
        Ok(user) => {
            // The account is usable at once; guest orders under the email join it once the
            // owner opens the link sent to it.
            if let Err(e) = email_links::send(auth, LinkPurpose::VerifyEmail, &user.email, now_millis()).await {
                tracing::error!(error = %e, "could not queue the email confirmation link");
            }
            let cookie = auth.open_session(&user).await?;
            return Ok(see_other("/account", Some(cookie)));
        }
        Err(refusal) => {
            let status = refusal.status();
            match refusal {
                SignUpError::Email(e) | SignUpError::EmailTaken(e) => errors.email = Some(e),
                SignUpError::Name(e) => errors.name = Some(e),
                SignUpError::Password(e) => errors.password = Some(e),
                SignUpError::Store(e) => return Err(e.into()),
            }
            status
        }
    };
    // Never echo a password back into the page.
    form.password.clear();
    let page = SignUpPage { shell: Shell::new("Create an account", &Cart::from_headers(&headers)), form, errors };
    Ok(render(status, &page))
}

/// `POST /sign-out`: forgets the session and clears its cookie.
pub async fn sign_out(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let cookie = auth(&app)?.close_session(&headers).await?;
    Ok(see_other("/", Some(cookie)))
}

/// `?cursor=` for older orders; `?sent=1` / `?verified=1` after the email links.
#[derive(Deserialize)]
pub struct Older {
    cursor: Option<String>,
    sent: Option<String>,
    verified: Option<String>,
}

/// `GET /account`: the signed-in person's orders, newest first.
pub async fn account(
    State(app): State<AppState>,
    Extension(visitor): Extension<Visitor>,
    headers: HeaderMap,
    Query(older): Query<Older>,
) -> Result<Response, PageError> {
    let Some(user) = visitor.user else {
        return Ok(see_other("/sign-in?next=%2Faccount", None));
    };
    let (orders, next_cursor) = if user.email_verified {
        let page = PageRequest { cursor: older.cursor.as_deref(), limit: PAGE };
        let found = app.store.customer_orders(&CustomerKey(user.email.clone()), page).await?;
        (found.orders, found.next_cursor)
    } else {
        (placed_while_signed_in(&app, &user).await?, None)
    };
    let page = AccountPage {
        shell: Shell::new("Your account", &Cart::from_headers(&headers)),
        user,
        orders: orders.iter().map(OrderView::new).collect(),
        next_cursor,
        sent: older.sent.is_some(),
        verified: older.verified.is_some(),
    };
    Ok(render(StatusCode::OK, &page))
}

/// The orders an account with an unverified email placed while signed in, newest first.
async fn placed_while_signed_in(app: &AppState, user: &User) -> Result<Vec<Order>, PageError> {
    let auth = auth(app)?;
    let mut orders = Vec::new();
    for id in auth.accounts.account_order_ids(&user.id, PAGE).await? {
        if let Some(order) = app.store.order(&id).await? {
            orders.push(order);
        }
    }
    Ok(orders)
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/admin/orders?status=received")).as_deref(), Some("/admin/orders?status=received"));
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "\t//evil.example",
            "/\\/evil.example",
            "///evil.example",
            "/\u{0}/x",
            "admin",
            "",
        ] {
            assert_eq!(local_path(Some(bad)), None, "{bad:?}");
        }
        // Encoded characters stay encoded in a path: the browser does not decode them into
        // an authority, so these stay on the shop.
        assert_eq!(local_path(Some("/%2F%2Fevil.example")).as_deref(), Some("/%2F%2Fevil.example"));
        assert_eq!(local_path(Some("/%09/evil.example")).as_deref(), Some("/%09/evil.example"));
    }
}
