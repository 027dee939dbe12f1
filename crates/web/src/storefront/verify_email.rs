//! Confirming a customer account's email. Until its owner opens the link the shop sends to
//! the address, an account sees only the orders placed while signed in to it: signing up
//! with someone else's email must not reveal their guest orders.

use super::link_page::{OpenLinkPage, Token};
use super::page::{PageError, message_page, see_other};
use crate::AppState;
use crate::auth::email_links;
use crate::auth::visitor::Visitor;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use stampede_store::LinkPurpose;
use stampede_store::clock::now_millis;

/// `GET /account/verify?token=`: the button that confirms the email.
pub static LANDING: OpenLinkPage = OpenLinkPage {
    heading: "Confirm your email",
    message: "Press the button to confirm this is your email address. Orders you placed with it as a guest will then show in your account.",
    action: "/account/verify",
    button: "Confirm my email",
};

/// `POST /account/verify`: uses the link up and marks the account's email as verified.
pub async fn open(State(app): State<AppState>, Form(form): Form<Token>) -> Result<Response, PageError> {
    let auth = app.auth.as_ref().ok_or(PageError::NotFound)?;
    match email_links::open(auth, LinkPurpose::VerifyEmail, &form.token, now_millis()).await? {
        Some(_) => Ok(see_other("/account?verified=1", None)),
        None => Ok(message_page(
            StatusCode::GONE,
            "Link expired",
            "This link no longer works",
            "Confirmation links work once, for a day. Sign in and ask for a new one on your account page.",
        )),
    }
}

/// `POST /account/verify/resend`: sends the signed-in customer a new confirmation link.
pub async fn resend(
    State(app): State<AppState>,
    Extension(visitor): Extension<Visitor>,
) -> Result<Response, PageError> {
    let auth = app.auth.as_ref().ok_or(PageError::NotFound)?;
    let Some(user) = visitor.user else { return Ok(see_other("/sign-in?next=%2Faccount", None)) };
    if !user.email_verified {
        email_links::send(auth, LinkPurpose::VerifyEmail, &user.email, now_millis()).await?;
    }
    Ok(see_other("/account?sent=1", None))
}
