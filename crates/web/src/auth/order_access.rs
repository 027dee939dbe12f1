//! Who may see an order's personal details (name, email, address) and cancel it.
//!
//! An order's status and items are public to whoever holds its unguessable id (a UUIDv7
//! with 62 random bits, handed only to the customer), so a confirmation link can be shared.
//! Everything personal, and cancelling, needs one of:
//! - staff: the admin API token, or a kitchen or admin account;
//! - the customer's own account (session cookie or OIDC bearer), once its email is verified;
//! - the order's access token: `Order-Token` header, or `?key=` in the receipt's link;
//! - the browser that placed it: the `orders` cookie set at checkout, signed by the server.
//!
//! Staff see everything, but cancel only as the dashboard lets them: admins (and the admin
//! API token), and the kitchen where the owner allows it (`--kitchen-can-cancel`). A cancel
//! by staff is written to the audit log wherever it is made.

use super::Auth;
use crate::AppState;
use crate::shop::ShopSettings;
use axum::http::HeaderMap;
use stampede_domain::{OrderStatus, Signer};
use stampede_store::{Order, User};

/// Header an API client sends the `accessToken` of an order in.
pub const ORDER_TOKEN_HEADER: &str = "order-token";
/// Cookie that remembers the orders this browser placed.
pub const ORDERS_COOKIE: &str = "orders";
/// How many orders the cookie remembers: the newest, so it stays well under 4 KB.
const COOKIE_ORDERS: usize = 20;
/// The cookie lasts as long as a customer session.
const COOKIE_SECS: u64 = 30 * 24 * 3600;

const TOKEN_PURPOSE: &str = stampede_domain::signing::ORDER_ACCESS;
const COOKIE_PURPOSE: &str = "orders-cookie";

/// How much of an order a request may see and do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OrderViewer {
    /// Status and items only.
    Stranger,
    /// The customer: personal details, and cancelling while it is still `received`.
    Owner,
    /// Staff: everything.
    Staff,
}

impl OrderViewer {
    /// Whether personal details and cancelling are open to this viewer.
    pub fn is_trusted(self) -> bool {
        self >= OrderViewer::Owner
    }
}

/// Who asks to cancel an order, as far as cancelling goes (see [`Credentials::canceller`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canceller {
    /// The customer who placed it.
    Customer,
    /// Staff whose role may cancel in this shop; `actor` is who the audit log names.
    Staff { actor: String },
    /// Staff whose role may not: the kitchen, unless the owner allows it.
    NotAllowed,
    /// Anyone else.
    Stranger,
}

/// The access token of order `id`: proves the holder is its customer.
pub fn token(signer: &Signer, id: &str) -> String {
    signer.sign(TOKEN_PURPOSE, id)
}

/// Whether `given` is the access token of order `id`.
pub fn token_matches(signer: &Signer, id: &str, given: &str) -> bool {
    signer.verify(TOKEN_PURPOSE, id, given)
}

/// The ids the request's `orders` cookie vouches for; none if it is missing or forged.
pub fn cookie_orders<'h>(signer: &Signer, auth: Option<&Auth>, headers: &'h HeaderMap) -> Vec<&'h str> {
    let policy = auth.map(|a| a.cookies).unwrap_or_default();
    let Some(value) = policy.read(headers, ORDERS_COOKIE) else { return Vec::new() };
    let Some((ids, tag)) = value.rsplit_once('~') else { return Vec::new() };
    if !signer.verify(COOKIE_PURPOSE, ids, tag) {
        return Vec::new();
    }
    ids.split('.').filter(|id| !id.is_empty()).collect()
}

/// The `Set-Cookie` value that adds `id` to the request's `orders` cookie.
pub fn cookie_with(signer: &Signer, auth: Option<&Auth>, headers: &HeaderMap, id: &str) -> String {
    let mut ids: Vec<&str> = cookie_orders(signer, auth, headers).into_iter().filter(|known| *known != id).collect();
    ids.push(id);
    let keep = ids.len().saturating_sub(COOKIE_ORDERS);
    let ids = ids[keep..].join(".");
    let value = format!("{ids}~{}", signer.sign(COOKIE_PURPOSE, &ids));
    auth.map(|a| a.cookies).unwrap_or_default().set(ORDERS_COOKIE, &value, Some(COOKIE_SECS))
}

/// What a request proves about itself, gathered once and judged per order.
#[derive(Debug, Default)]
pub struct Credentials {
    /// The admin API's bearer token was given and is right.
    pub admin_token: bool,
    /// The signed-in account, by session cookie or OIDC bearer token.
    pub user: Option<User>,
    /// Access token given for the order (header or `?key=`).
    pub token: Option<String>,
    /// Orders the signed `orders` cookie vouches for.
    pub cookie_orders: Vec<String>,
}

impl Credentials {
    /// How much of `order` these credentials open.
    pub fn viewer(&self, signer: &Signer, order: &Order) -> OrderViewer {
        if self.admin_token || self.user.as_ref().is_some_and(|u| u.role.is_staff()) {
            return OrderViewer::Staff;
        }
        if self.is_customer(signer, order) { OrderViewer::Owner } else { OrderViewer::Stranger }
    }

    /// Who these credentials cancel `order` as, in a shop with `shop`'s settings. The
    /// customer always may; staff as the dashboard would let them.
    pub fn canceller(&self, signer: &Signer, order: &Order, shop: &ShopSettings) -> Canceller {
        if self.is_customer(signer, order) {
            return Canceller::Customer;
        }
        if self.admin_token {
            return Canceller::Staff { actor: super::API_TOKEN_ACTOR.to_owned() };
        }
        match &self.user {
            Some(u) if u.role.is_staff() && shop.may_cancel(u.role) => Canceller::Staff { actor: u.email.clone() },
            Some(u) if u.role.is_staff() => Canceller::NotAllowed,
            _ => Canceller::Stranger,
        }
    }

    /// Whether these credentials are the customer's: their verified account, the order's
    /// access token, or the browser that placed it.
    fn is_customer(&self, signer: &Signer, order: &Order) -> bool {
        let own_account = self.user.as_ref().is_some_and(|u| u.email_verified && order.customer.key.0 == u.email);
        let own_token = self.token.as_deref().is_some_and(|t| token_matches(signer, &order.id, t));
        own_account || own_token || self.cookie_orders.contains(&order.id)
    }
}

/// Writes a cancel by staff (`actor`) of order `id`, which was `from`, to the audit log, as
/// the dashboard's cancel is written.
pub async fn audit_staff_cancel(app: &AppState, actor: &str, id: &str, from: OrderStatus) {
    if let Some(auth) = &app.auth {
        let detail = format!("{} → {}", from.as_str(), OrderStatus::Cancelled.as_str());
        auth.audit_as(actor, "order.status", id, detail).await;
    }
}

/// Gathers what the request proves. `key` is the access token from a link's `?key=`; the
/// `Order-Token` header is read too.
pub async fn credentials(app: &AppState, headers: &HeaderMap, key: Option<&str>) -> Credentials {
    let admin_token = app.admin_token.as_deref().is_some_and(|t| super::bearer_matches(headers, t));
    let user = match &app.auth {
        Some(auth) => auth.session_user(headers).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "could not look up a session");
            None
        }),
        None => None,
    };
    let header = headers.get(ORDER_TOKEN_HEADER).and_then(|v| v.to_str().ok());
    Credentials {
        admin_token,
        user,
        token: key.or(header).map(str::to_owned),
        cookie_orders: cookie_orders(&app.signer, app.auth.as_deref(), headers)
            .into_iter()
            .map(str::to_owned)
            .collect(),
    }
}

/// [`credentials`] for a change made through the JSON API, which takes no CSRF token. A
/// request a page of another site made (`Sec-Fetch-Site: cross-site` or `same-site`, which
/// browsers set and pages cannot) gets no say from this browser's cookies: a form on a
/// sibling subdomain, whose posts `SameSite=Lax` lets through, cannot cancel an order.
pub async fn credentials_for_api_change(app: &AppState, headers: &HeaderMap) -> Credentials {
    let mut who = credentials(app, headers, None).await;
    if from_another_site(headers) {
        who.cookie_orders.clear();
        who.user = app.auth.as_ref().and_then(|auth| auth.bearer_user(headers));
    }
    who
}

/// Whether a browser says a page of another site sent the request.
fn from_another_site(headers: &HeaderMap) -> bool {
    headers.get("sec-fetch-site").is_some_and(|site| site == "cross-site" || site == "same-site")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use axum::http::header::COOKIE;

    fn signer(secret: &[u8]) -> Signer {
        Signer::new(vec![secret.to_vec()]).unwrap()
    }

    fn headers_with(set_cookie: &str) -> HeaderMap {
        let pair = set_cookie.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(pair).unwrap());
        headers
    }

    #[test]
    fn the_orders_cookie_remembers_the_newest_orders_and_refuses_forgeries() {
        let s = signer(b"k");
        let mut headers = HeaderMap::new();
        for i in 0..25 {
            headers = headers_with(&cookie_with(&s, None, &headers, &format!("o-{i}")));
        }
        let ids = cookie_orders(&s, None, &headers);
        assert_eq!(ids.len(), COOKIE_ORDERS);
        assert_eq!((ids[0], ids[19]), ("o-5", "o-24"));
        let value = headers.get(COOKIE).unwrap().to_str().unwrap().to_owned();
        let forged = value.replace("o-5.", "victim.");
        assert!(cookie_orders(&s, None, &headers_with(&forged)).is_empty(), "an edited list is refused");
        assert!(cookie_orders(&signer(b"other"), None, &headers).is_empty(), "another server's cookie");
        assert!(cookie_orders(&s, None, &headers_with("orders=o-1")).is_empty(), "no tag");
    }

    #[test]
    fn access_tokens_open_only_their_own_order() {
        let s = signer(b"k");
        let t = token(&s, "o-1");
        assert!(token_matches(&s, "o-1", &t));
        assert!(!token_matches(&s, "o-2", &t));
    }
}
