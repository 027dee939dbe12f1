//! `/checkout`: who is ordering and how it reaches them, then the order. Each form view
//! carries a fresh idempotency key, so a double click, a re-submit or a retry after a lost
//! answer all land on the one order; the order goes through the same validation, pricing
//! and placement as `POST /api/orders`.

use super::buyer::{self, signed_in_customer};
use super::cart_cookie::Cart;
use super::cart_page::{PricedCart, price_cart};
use super::messages::explain;
use super::page::{PageError, Shell, render, see_other};
use crate::api::orders::place_checked;
use crate::auth::order_access;
use crate::shop_time::ShopZone;
use crate::timefmt::{parse_rfc3339, rfc3339};
use crate::{AppState, Problem};
use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use stampede_domain::{
    Customer, DeliveryAddress, Fulfilment, LineRequest, Millis, OrderRequest, Phone, ValidationError,
};
use stampede_store::clock::now_millis;
use stampede_store::{IdempotencyKey, Order, PlaceOrder};
use std::net::SocketAddr;

/// What the customer typed, echoed back when something needs fixing.
#[derive(Debug, Default, Deserialize)]
pub struct CheckoutForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    fulfilment: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    postcode: String,
    #[serde(default)]
    phone: String,
    /// The chosen slot as RFC 3339, or empty for as soon as possible.
    #[serde(default)]
    slot: String,
}

/// A message per form field.
#[derive(Default)]
struct FieldErrors {
    name: Option<String>,
    email: Option<String>,
    fulfilment: Option<String>,
    address: Option<String>,
    city: Option<String>,
    postcode: Option<String>,
    phone: Option<String>,
    slot: Option<String>,
}

impl FieldErrors {
    fn any(&self) -> bool {
        [&self.name, &self.email, &self.fulfilment, &self.address, &self.city, &self.postcode, &self.phone, &self.slot]
            .iter()
            .any(|e| e.is_some())
    }
}

#[derive(Template)]
#[template(path = "storefront/checkout.html")]
struct CheckoutPage {
    shell: Shell,
    priced: PricedCart,
    form: CheckoutForm,
    errors: FieldErrors,
    /// A refusal of the whole order (stock, sale window, busy...), shown above the form.
    alert: Option<String>,
    /// The times on offer besides "as soon as possible": RFC 3339 value and label.
    slots: Vec<(String, String)>,
}

impl CheckoutPage {
    fn new(shell: Shell, priced: PricedCart, form: CheckoutForm, errors: FieldErrors, alert: Option<String>) -> Self {
        let shop = &shell.shop;
        let mut slots: Vec<(String, String)> =
            shop.slots(now_millis()).into_iter().map(|at| (rfc3339(at), shop.zone.slot_label(at))).collect();
        // A slot chosen a moment ago that has just gone stays selectable, so its error shows against it.
        if !form.slot.is_empty() && !slots.iter().any(|(v, _)| *v == form.slot) {
            let label = parse_rfc3339(&form.slot).map_or_else(|| form.slot.clone(), |at| shop.zone.slot_label(at));
            slots.insert(0, (form.slot.clone(), label));
        }
        CheckoutPage { shell, priced, form, errors, alert, slots }
    }

    fn delivery(&self) -> bool {
        self.form.fulfilment == "delivery"
    }
}

fn fresh_key() -> String {
    stampede_store::ids::v7().to_string()
}

/// `GET /checkout`: the form, with a new idempotency key for this checkout.
pub async fn show(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let priced = priced_for(&app, &headers, now_millis()).await?;
    let mut form = CheckoutForm { key: fresh_key(), fulfilment: "pickup".into(), ..CheckoutForm::default() };
    if let Some(user) = signed_in_customer() {
        form.email = user.email;
        form.name = user.name.unwrap_or_default();
    }
    let page = CheckoutPage::new(Shell::new("Checkout", &priced.cart), priced, form, FieldErrors::default(), None);
    Ok(render(StatusCode::OK, &page))
}

/// `POST /checkout`: places the order and sends the customer to its page, or shows the
/// form again with what to fix (keeping the key, so a retry cannot order twice).
pub async fn submit(
    State(app): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(mut form): Form<CheckoutForm>,
) -> Result<Response, PageError> {
    let now = now_millis();
    let priced = priced_for(&app, &headers, now).await?;
    // A signed-in customer's orders go under their account, whatever the field says.
    if let Some(user) = signed_in_customer() {
        form.email = user.email;
    }
    renew_key_unless_valid(&mut form);
    let again = |priced, form, errors, alert: Option<String>, status| {
        let page =
            CheckoutPage::new(Shell::new("Checkout", &Cart::from_headers(&headers)), priced, form, errors, alert);
        render(status, &page)
    };
    if priced.cart.lines.is_empty() {
        let alert =
            "Your cart is empty, so there is nothing to order. If you just placed an order, find it under My orders.";
        return Ok(again(priced, form, FieldErrors::default(), Some(alert.into()), StatusCode::CONFLICT));
    }
    let (customer, fulfilment, mut errors) = validate(&form);
    let (phone, slot) = contact(&form, &mut errors);
    if let Err(e) = app.shop.check_slot(slot, now) {
        errors.slot = Some(sentence("", &e.message));
    }
    let (false, Some(customer), Some(fulfilment)) = (errors.any(), customer, fulfilment) else {
        return Ok(again(priced, form, errors, None, StatusCode::UNPROCESSABLE_ENTITY));
    };
    let request = match order_request(&priced, customer, fulfilment, phone, slot) {
        Ok(request) => request,
        Err(e) => {
            let alert = format!("Your cart can't be ordered: {}.", e.message);
            return Ok(again(priced, form, errors, Some(alert), StatusCode::UNPROCESSABLE_ENTITY));
        }
    };
    let placed = match app.order_limits.check_ip(client.map(|c| c.0.0.ip())) {
        Ok(()) => place_checked(&app, PlaceOrder { request, idempotency_key: Some(form.key.clone()) }).await,
        Err(problem) => Err(problem),
    };
    match placed {
        Ok(placed) => Ok(to_order_page(&app, &headers, &placed.order).await),
        Err(problem) => Ok(refused(problem, priced, form, &headers, now, &app.shop.zone)),
    }
}

/// A key that is missing, too long or not printable ASCII is replaced by a fresh one.
fn renew_key_unless_valid(form: &mut CheckoutForm) {
    let key_ok = !form.key.is_empty()
        && form.key.len() <= IdempotencyKey::MAX_LEN
        && form.key.bytes().all(|b| b.is_ascii_graphic());
    if !key_ok {
        form.key = fresh_key();
    }
}

/// The order the priced cart and the checked form make.
fn order_request(
    priced: &PricedCart,
    customer: Customer,
    fulfilment: Fulfilment,
    phone: Option<Phone>,
    slot: Option<Millis>,
) -> Result<OrderRequest, ValidationError> {
    priced
        .cart
        .lines
        .iter()
        .map(|l| LineRequest::new(&l.product_id, i64::from(l.quantity), l.selections()))
        .collect::<Result<Vec<_>, ValidationError>>()
        .and_then(|lines| OrderRequest::new(customer, lines))
        .and_then(|r| r.with_fulfilment(Some(fulfilment)).with_contact(phone, slot))
}

/// After an order went through: linked to the signed-in account, the cart emptied, and the
/// browser sent to the order's page with the cookies that let it see and cancel it.
async fn to_order_page(app: &AppState, headers: &HeaderMap, order: &Order) -> Response {
    let id = &order.id;
    if let (Some(user), Some(auth)) = (signed_in_customer(), &app.auth) {
        // Lets an account whose email is not verified yet still see what it ordered.
        if let Err(e) = auth.accounts.link_order(&user.id, id).await {
            tracing::warn!(error = %e, order_id = %id, "could not link the order to its account");
        }
    }
    let cleared = Cart::default().set_cookie();
    let mut response = see_other(&format!("/orders/{id}?placed=1"), Some(cleared));
    // Product pages and the cart can then say what this buyer may still buy.
    if let Some(email) = &order.customer.email
        && let Ok(value) = HeaderValue::from_str(&buyer::cookie(app, email))
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    // This browser may see the order's details and cancel it (see auth::order_access).
    let access = order_access::cookie_with(&app.signer, app.auth.as_deref(), headers, id);
    if let Ok(value) = HeaderValue::from_str(&access) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The cart priced for this visitor, counting what they already bought of limited products.
async fn priced_for(app: &AppState, headers: &HeaderMap, now: Millis) -> Result<PricedCart, PageError> {
    let products = app.store.products().await?;
    let cart = Cart::from_headers(headers);
    let bought = super::cart_page::bought_in(app, headers, &products, &cart).await?;
    Ok(price_cart(&products, &cart, &bought, now, &app.shop.zone))
}

/// The form again after the order was refused, with the reason in words and, for a busy
/// shop or a rate limit, a `Retry-After`.
fn refused(
    problem: Problem,
    priced: PricedCart,
    mut form: CheckoutForm,
    headers: &HeaderMap,
    now: i64,
    zone: &ShopZone,
) -> Response {
    let alert = if problem.kind == "/problems/idempotency-key-reused" {
        // The key already placed a different order (the cart changed after a submit that
        // went through): this is a new checkout, so it gets a new key.
        form.key = fresh_key();
        "Your cart changed after this form was sent. Please check the order and submit again.".to_owned()
    } else {
        explain(&problem, now, zone, |id| priced.name_of(id))
    };
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::CONFLICT);
    let shell = Shell::new("Checkout", &Cart::from_headers(headers));
    let page = CheckoutPage::new(shell, priced, form, FieldErrors::default(), Some(alert));
    let mut response = render(status, &page);
    if let Some(secs) = problem.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Checks every field, so the customer sees all that needs fixing at once. The rules are
/// the domain's (email, name length, address); only "a name is required" is the form's own.
fn validate(form: &CheckoutForm) -> (Option<Customer>, Option<Fulfilment>, FieldErrors) {
    let mut errors = FieldErrors::default();
    if form.name.trim().is_empty() {
        errors.name = Some("Enter your name, so we know who the order is for.".into());
    }
    let customer = match Customer::with_email(&form.email, Some(&form.name)) {
        Ok(c) => Some(c),
        Err(e) if e.field == "customer.name" => {
            errors.name = Some(sentence("Your name", &e.message));
            None
        }
        Err(_) if form.email.trim().is_empty() => {
            errors.email = Some("Enter your email address, for the receipt.".into());
            None
        }
        Err(_) => {
            errors.email = Some("Enter an email address like name@example.com.".into());
            None
        }
    };
    let fulfilment = match form.fulfilment.as_str() {
        "pickup" => Some(Fulfilment::Pickup),
        "delivery" => match DeliveryAddress::new(&form.address, &form.city, &form.postcode) {
            Ok(address) => Some(Fulfilment::Delivery(address)),
            Err(faults) => {
                for fault in faults {
                    match fault.field.as_str() {
                        "fulfilment.address" => errors.address = Some(sentence("Address", &fault.message)),
                        "fulfilment.city" => errors.city = Some(sentence("City", &fault.message)),
                        _ => errors.postcode = Some(sentence("Postcode", &fault.message)),
                    }
                }
                None
            }
        },
        _ => {
            errors.fulfilment = Some("Choose delivery or pickup.".into());
            None
        }
    };
    (customer.filter(|_| errors.name.is_none()), fulfilment, errors)
}

/// The phone number (required for delivery) and the chosen time, each checked on its own.
fn contact(form: &CheckoutForm, errors: &mut FieldErrors) -> (Option<Phone>, Option<Millis>) {
    let phone = match (form.phone.trim().is_empty(), form.fulfilment == "delivery") {
        (true, true) => {
            errors.phone = Some("Enter a phone number, so the driver can call you.".into());
            None
        }
        (true, false) => None,
        (false, _) => match Phone::new(&form.phone) {
            Ok(phone) => Some(phone),
            Err(e) => {
                errors.phone = Some(sentence("Phone", &e.message));
                None
            }
        },
    };
    let slot = match form.slot.trim() {
        "" => None,
        text => {
            let parsed = parse_rfc3339(text);
            if parsed.is_none() {
                errors.slot = Some("Choose a time from the list.".into());
            }
            parsed
        }
    };
    (phone, slot)
}

/// "Address: enter the street and number" reads as "Enter the street and number." with the
/// field name only where the message does not start with a verb of its own (or no field is given).
fn sentence(field: &str, message: &str) -> String {
    let text = if message.starts_with("enter") || field.is_empty() {
        message.to_owned()
    } else {
        format!("{field} {message}")
    };
    let mut chars = text.chars();
    let mut out: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    out.push_str(chars.as_str());
    out.push('.');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, email: &str, fulfilment: &str, address: &str) -> CheckoutForm {
        CheckoutForm {
            name: name.into(),
            email: email.into(),
            fulfilment: fulfilment.into(),
            address: address.into(),
            city: "Springfield".into(),
            postcode: "12345".into(),
            ..CheckoutForm::default()
        }
    }

    #[test]
    fn every_field_gets_its_own_message() {
        let (c, f, e) = validate(&form("", "nope", "delivery", ""));
        assert!(c.is_none() && f.is_none());
        assert!(e.name.is_some() && e.email.is_some() && e.address.is_some() && e.city.is_none());
        assert_eq!(e.address.as_deref(), Some("Enter the street and number."));
        let (_, f, e) = validate(&form("Ana", "ana@example.com", "", ""));
        assert!(f.is_none() && e.fulfilment.is_some() && e.any());
        let (c, f, e) = validate(&form("Ana", "ana@example.com", "pickup", ""));
        assert!(c.is_some() && f == Some(Fulfilment::Pickup) && !e.any());
    }

    #[test]
    fn delivery_needs_a_phone_and_a_typed_one_is_checked() {
        let mut e = FieldErrors::default();
        let (phone, slot) = contact(&form("Ana", "ana@example.com", "delivery", "1 Main St"), &mut e);
        assert!(phone.is_none() && slot.is_none());
        assert_eq!(e.phone.as_deref(), Some("Enter a phone number, so the driver can call you."));
        let mut e = FieldErrors::default();
        assert_eq!(contact(&form("Ana", "a@example.com", "pickup", ""), &mut e), (None, None));
        assert!(!e.any());
        let mut bad = form("Ana", "a@example.com", "pickup", "");
        bad.phone = "call me".into();
        bad.slot = "soon".into();
        let mut e = FieldErrors::default();
        contact(&bad, &mut e);
        assert!(e.phone.as_deref().is_some_and(|m| m.starts_with("Enter a phone number of 6 to 15 digits")));
        assert_eq!(e.slot.as_deref(), Some("Choose a time from the list."));
        bad.phone = "+1 (555) 010-0123".into();
        bad.slot = "2026-11-30T18:15:00Z".into();
        let mut e = FieldErrors::default();
        let (phone, slot) = contact(&bad, &mut e);
        assert_eq!(phone.map(|p| p.dial()).as_deref(), Some("+15550100123"));
        assert_eq!(slot, Some(1_796_062_500_000));
    }
}
