//! The page an emailed one-time link lands on: one button that uses the link up. A GET
//! never does, so a mail scanner fetching every link in an inbox cannot spend one.

use super::cart_cookie::Cart;
use super::page::{Shell, render};
use askama::Template;
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use std::future::{Ready, ready};

/// A link's `?token=`, and the button form's field of the same name.
#[derive(Deserialize)]
pub struct Token {
    #[serde(default)]
    pub token: String,
}

/// What the landing page says and where its button posts.
pub struct OpenLinkPage {
    pub heading: &'static str,
    pub message: &'static str,
    pub action: &'static str,
    pub button: &'static str,
}

#[derive(Template)]
#[template(path = "storefront/open_link.html")]
struct Rendered<'a> {
    shell: Shell,
    page: &'a OpenLinkPage,
    token: String,
}

impl OpenLinkPage {
    /// The `GET` handler of the link's address: this page, carrying the link's `?token=`
    /// into its form.
    pub fn form(&'static self) -> impl Fn(HeaderMap, Query<Token>) -> Ready<Response> + Clone + Send + Sync + 'static {
        move |headers, Query(Token { token })| {
            let shell = Shell::new(self.heading, &Cart::from_headers(&headers));
            ready(render(StatusCode::OK, &Rendered { shell, page: self, token }))
        }
    }
}
