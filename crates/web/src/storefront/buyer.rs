//! Who is buying, as far as per-customer limits go, before checkout: the signed-in customer,
//! or the email this browser last checked out with (the `buyer` cookie, signed by the server
//! so no one can read another address's purchases by writing it in). Pages use it to say
//! "You already bought 2 of 2" on the product page and in the cart.

use crate::AppState;
use axum::http::HeaderMap;
use stampede_domain::{Customer, Product};
use stampede_store::{Role, StoreError, User};
use std::collections::BTreeMap;

/// Cookie that remembers the email of this browser's last checkout.
pub const BUYER_COOKIE: &str = "buyer";
const PURPOSE: &str = "buyer-cookie";
/// As long as the `orders` cookie.
const COOKIE_SECS: u64 = 30 * 24 * 3600;

/// The signed-in customer, whose orders are tied to their account's email.
pub fn signed_in_customer() -> Option<User> {
    crate::auth::visitor::current()?.user.filter(|u| u.role == Role::Customer)
}

/// The `Set-Cookie` value remembering `email` as this browser's buyer.
pub fn cookie(app: &AppState, email: &str) -> String {
    let value = hex::encode(email);
    let value = format!("{value}~{}", app.signer.sign(PURPOSE, &value));
    app.auth.as_deref().map(|a| a.cookies).unwrap_or_default().set(BUYER_COOKIE, &value, Some(COOKIE_SECS))
}

/// The email limits are looked up under: the signed-in customer's, else the remembered one.
fn email(app: &AppState, headers: &HeaderMap) -> Option<String> {
    if let Some(user) = signed_in_customer() {
        return Some(user.email);
    }
    let policy = app.auth.as_deref().map(|a| a.cookies).unwrap_or_default();
    let (value, tag) = policy.read(headers, BUYER_COOKIE)?.rsplit_once('~')?;
    if !app.signer.verify(PURPOSE, value, tag) {
        return None;
    }
    String::from_utf8(hex::decode(value).ok()?).ok()
}

/// Units the known buyer already holds of each limited product in `products`; empty when the
/// buyer is unknown or nothing is limited.
pub async fn bought(
    app: &AppState,
    headers: &HeaderMap,
    products: &[&Product],
) -> Result<BTreeMap<String, u32>, StoreError> {
    if !products.iter().any(|p| p.sale.per_customer_max.is_some()) {
        return Ok(BTreeMap::new());
    }
    let Some(customer) = email(app, headers).and_then(|e| Customer::with_email(&e, None).ok()) else {
        return Ok(BTreeMap::new());
    };
    let customer = customer.with_limit_key(app.shop.limit_keys);
    app.store.holdings(customer.limit_key(), products).await
}

/// What the page says about a per-customer limit, given what the buyer already bought:
/// "You already bought 2 of 2." or "You already bought 1 of 2: you can buy 1 more."
pub fn limit_note(product: &Product, bought: u32) -> Option<String> {
    let max = product.sale.per_customer_max?;
    match bought {
        0 => None,
        b if b >= max => Some(format!("You already bought {b} of {max}, the most per customer.")),
        b => Some(format!("You already bought {b} of {max}: you can buy {} more.", max - b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_domain::{Currency, Money};

    #[test]
    fn the_note_says_what_is_left() {
        let mut p = Product::new("deal", "Deal", "deals", Money::new(100, Currency::USD));
        assert_eq!(limit_note(&p, 3), None, "no limit, nothing to say");
        p.sale.per_customer_max = Some(2);
        assert_eq!(limit_note(&p, 0), None);
        assert_eq!(limit_note(&p, 1).as_deref(), Some("You already bought 1 of 2: you can buy 1 more."));
        assert_eq!(limit_note(&p, 2).as_deref(), Some("You already bought 2 of 2, the most per customer."));
    }
}
