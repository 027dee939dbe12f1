//! What every storefront page shares: the layout's data, the response headers, and the
//! layer's one error type, which renders as a friendly page instead of problem+json.

use super::assets::{CSS, JS};
use super::cart_cookie::Cart;
use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use stampede_domain::Millis;
use stampede_store::StoreError;
use stampede_store::clock::now_millis;

/// Scripts and styles come only from this origin; product pictures are inline SVG.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The furthest a no-JS page waits to reload for a sale's opening or closing. Beyond it a
/// visitor is unlikely to sit on the page, and the reload would only cost a request.
const REFRESH_HORIZON_MS: Millis = 15 * 60 * 1000;

/// The layout's data: title, cart size, asset URLs, and who is signed in.
pub struct Shell {
    pub title: String,
    /// Units in the cart; `None` where the page could not read the cart (error pages).
    pub cart_units: Option<u32>,
    pub css: String,
    pub js: String,
    /// The token every form on the page carries (see `auth::visitor`).
    pub csrf: String,
    /// Whether accounts are on, so the header offers sign-in.
    pub accounts: bool,
    /// The signed-in person's email, if any.
    pub signed_in: Option<String>,
    /// Whether the signed-in person is staff, so the header links the dashboard.
    pub staff: bool,
    /// The shop's name, address and phone.
    pub shop: std::sync::Arc<crate::shop::ShopSettings>,
    /// The server's clock as the page was made (Unix ms): the script measures the visitor's
    /// clock against it, so sales open by the server's time, not the visitor's.
    pub server_now: Millis,
    /// Seconds until a sale on the page opens or closes, for a no-JS `<meta refresh>`.
    pub refresh_in: Option<i64>,
}

impl Shell {
    /// The layout for a page titled `title`, showing `cart`'s size.
    pub fn new(title: impl Into<String>, cart: &Cart) -> Shell {
        Shell::with_cart(title.into(), Some(cart.units()))
    }

    pub(crate) fn without_cart(title: &str) -> Shell {
        Shell::with_cart(title.to_owned(), None)
    }

    fn with_cart(title: String, cart_units: Option<u32>) -> Shell {
        let visitor = crate::auth::visitor::current().unwrap_or_default();
        let user = visitor.user.as_ref();
        Shell {
            title,
            cart_units,
            css: CSS.href(),
            js: JS.href(),
            csrf: visitor.csrf.clone(),
            accounts: visitor.accounts,
            signed_in: user.map(|u| u.email.clone()),
            staff: user.is_some_and(|u| u.role.is_staff()),
            shop: visitor.shop.clone(),
            server_now: now_millis(),
            refresh_in: None,
        }
    }

    /// Reloads the page without JavaScript at `next` (a sale opening or closing) when that is
    /// near enough to be worth waiting on the page for.
    pub fn reload_at(mut self, now: Millis, next: Option<Millis>) -> Shell {
        self.refresh_in = next
            .map(|t| t - now)
            .filter(|ms| (1..=REFRESH_HORIZON_MS).contains(ms))
            // Rounded up: reloading a moment early would show the sale still closed.
            .map(|ms| (ms + 999) / 1000);
        self
    }
}

/// Renders a page with the storefront's headers. Pages show live stock and per-visitor
/// carts and checkout keys, so none of them may be cached.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    render_with_csp(status, page, CSP)
}

/// `render` under another Content-Security-Policy (a page without scripts can forbid them).
pub fn render_with_csp(status: StatusCode, page: &impl Template, csp: &'static str) -> Response {
    match page.render() {
        Ok(body) => {
            let mut response = (status, Html(body)).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
            headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "storefront page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "Sorry, this page could not be shown. Please try again.")
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "storefront/error.html")]
struct ErrorPage {
    shell: Shell,
    heading: String,
    message: String,
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// Nothing at this address.
    NotFound,
    /// The store failed; nothing was changed.
    Store(StoreError),
    /// A template could not be rendered (a bug: templates are checked at compile time).
    Render(askama::Error),
}

impl PageError {
    pub fn render(e: askama::Error) -> PageError {
        PageError::Render(e)
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        PageError::Store(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::NotFound => not_found(),
            PageError::Store(e) => {
                tracing::error!(error = %e, "storefront page failed");
                server_error()
            }
            PageError::Render(e) => {
                tracing::error!(error = %e, "storefront page failed to render");
                server_error()
            }
        }
    }
}

fn server_error() -> Response {
    let page = ErrorPage {
        shell: Shell::without_cart("Something went wrong"),
        heading: "Something went wrong on our side".into(),
        message: "Nothing was charged or changed. Please try again in a moment.".into(),
    };
    render(StatusCode::INTERNAL_SERVER_ERROR, &page)
}

fn not_found() -> Response {
    let page = ErrorPage {
        shell: Shell::without_cart("Page not found"),
        heading: "We couldn't find that page".into(),
        message: "It may have moved, or the link may be mistyped. The menu is a good place to start.".into(),
    };
    render(StatusCode::NOT_FOUND, &page)
}

/// A page with just a heading and a sentence, e.g. a refusal.
pub fn message_page(status: StatusCode, title: &str, heading: &str, message: &str) -> Response {
    let page =
        ErrorPage { shell: Shell::without_cart(title), heading: heading.to_owned(), message: message.to_owned() };
    render(status, &page)
}

/// The friendly 404 page, with the visitor's cart in the header.
pub fn not_found_page(headers: &HeaderMap) -> Response {
    let page = ErrorPage {
        shell: Shell::new("Page not found", &Cart::from_headers(headers)),
        heading: "We couldn't find that page".into(),
        message: "It may have moved, or the link may be mistyped. The menu is a good place to start.".into(),
    };
    render(StatusCode::NOT_FOUND, &page)
}

/// The router's fallback: browsers asking for a page get the HTML 404; the API, probes and
/// anything not asking for HTML keep getting problem+json.
pub async fn fallback(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let machine_path = ["/api/", "/dev/", "/static/"].iter().any(|p| path.starts_with(p))
        || ["/healthz", "/readyz", "/metrics"].contains(&path);
    let wants_html =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"));
    if wants_html && !machine_path {
        not_found_page(&headers)
    } else {
        crate::problem::not_found(uri).await.into_response()
    }
}

/// A 303 to `location`, the answer to a successful form post.
pub fn see_other(location: &str, set_cookie: Option<String>) -> Response {
    let mut response = crate::respond::with_location(StatusCode::SEE_OTHER.into_response(), location);
    if let Some(value) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_js_pages_reload_for_a_sale_change_only_when_it_is_near() {
        let shell = || Shell::with_cart("Menu".into(), None);
        assert_eq!(shell().reload_at(0, Some(1)).refresh_in, Some(1), "rounded up, never early");
        assert_eq!(shell().reload_at(0, Some(90_500)).refresh_in, Some(91));
        assert_eq!(shell().reload_at(0, Some(REFRESH_HORIZON_MS + 1)).refresh_in, None, "too far off");
        assert_eq!(shell().reload_at(5, Some(5)).refresh_in, None, "already past");
        assert_eq!(shell().reload_at(0, None).refresh_in, None);
    }
}
