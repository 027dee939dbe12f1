//! `GET /products/{id}`: the builder. Options are plain radio buttons and checkboxes in one
//! form that posts to the cart, so it works without JavaScript; the script adds the live
//! price and stops extra toppings at the limit.

use super::cart_cookie::Cart;
use super::catalog_view::Card;
use super::display;
use super::page::{PageError, Shell, render};
use super::page_cache::{TOKEN_MARK, with_token};
use crate::AppState;
use crate::shop_time::ShopZone;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use stampede_domain::{Millis, Money, OptionSelection, price_line};
use stampede_store::ProductView;
use stampede_store::clock::now_millis;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A choice as the page shows it, borrowed from the product: a page lists every choice.
struct ChoiceView<'a> {
    id: &'a str,
    name: &'a str,
    delta: i64,
    delta_label: display::Delta,
    checked: bool,
}

struct GroupView<'a> {
    id: &'a str,
    name: &'a str,
    /// Checkboxes when more than one may be chosen, radio buttons otherwise.
    multi: bool,
    max: u32,
    hint: Cow<'static, str>,
    choices: Vec<ChoiceView<'a>>,
}

/// The page: the header, and the builder rendered apart (see [`page_cache`](super::page_cache)).
#[derive(Template)]
#[template(path = "storefront/product.html")]
struct ProductPage {
    shell: Shell,
    body: String,
}

#[derive(Template)]
#[template(path = "storefront/product_builder.html")]
struct Builder<'a> {
    card: Card,
    groups: Vec<GroupView<'a>>,
    base_amount: i64,
    currency_prefix: Cow<'static, str>,
    unit_price: String,
    quantity: u32,
    /// Units this visitor may still add, by stock, limits and what the cart already holds.
    can_add: u32,
    in_cart: u32,
    /// When the sale opens, in the shop's zone, named; the script shows the visitor's.
    opens_label: String,
    /// "You already bought 2 of 2", for a buyer known to have bought some.
    limit_note: Option<String>,
    error: Option<&'a str>,
    /// The visitor's CSRF token (hex: written unescaped), or [`TOKEN_MARK`] in a rendering
    /// for every visitor.
    csrf: &'a str,
}

/// What the builder shows beyond the product: the visitor's cart and purchases, and what
/// they chose when an add to cart was refused.
struct Visit<'a> {
    in_cart: u32,
    /// What the buyer already holds of the product (see `buyer`).
    bought: u32,
    selected: &'a BTreeMap<String, Vec<String>>,
    quantity: u32,
    error: Option<String>,
}

/// The builder with every option at its default. A visitor with none of the product in the
/// cart and none bought gets the builder every such visitor gets, rendered once per stock
/// change (see [`page_cache`](super::page_cache)).
pub async fn show(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    // Read before the product, so a rendering is never filed under a newer stock than it shows.
    let version = *app.store.stock_changes().borrow();
    let view = app.store.product(&id).await?.filter(|v| !v.product.archived).ok_or(PageError::NotFound)?;
    let bought = super::buyer::bought(&app, &headers, &[&view.product]).await?.remove(&id).unwrap_or(0);
    let cart = Cart::from_headers(&headers);
    let none_selected = BTreeMap::new();
    if bought > 0 || cart.units_of(&view.product.id) > 0 {
        return Ok(builder(&view, &app.shop.zone, &cart, bought, &none_selected, 1, None, StatusCode::OK));
    }
    let now = now_millis();
    let (pieces, next_change) = match app.product_pages.get(view.product.id.as_str(), version, now) {
        Some(cached) => cached,
        None => {
            let visit = Visit { in_cart: 0, bought: 0, selected: &none_selected, quantity: 1, error: None };
            let html = builder_html(&view, &app.shop.zone, &visit, TOKEN_MARK, now).map_err(PageError::render)?;
            let next_change = view.product.sale.next_change(now);
            (app.product_pages.put(view.product.id.clone(), version, next_change, &html), next_change)
        }
    };
    let shell = Shell::new(view.product.name.clone(), &cart).reload_at(now, next_change);
    let body = with_token(&pieces, &shell.csrf);
    Ok(render(StatusCode::OK, &ProductPage { shell, body }))
}

/// The builder showing `selected` options and `quantity`, with `error` above the form when
/// an add to cart was refused, so the customer's choices are kept. Times read in `zone`;
/// `bought` is what the buyer already holds of it (see `buyer`).
#[expect(clippy::too_many_arguments, reason = "one page, each argument a different thing it shows")]
pub fn builder(
    view: &ProductView,
    zone: &ShopZone,
    cart: &Cart,
    bought: u32,
    selected: &BTreeMap<String, Vec<String>>,
    quantity: u32,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let now = now_millis();
    let shell = Shell::new(view.product.name.clone(), cart).reload_at(now, view.product.sale.next_change(now));
    let visit = Visit { in_cart: cart.units_of(&view.product.id), bought, selected, quantity, error };
    match builder_html(view, zone, &visit, &shell.csrf, now) {
        Ok(body) => render(status, &ProductPage { shell, body }),
        Err(e) => PageError::render(e).into_response(),
    }
}

/// The builder's HTML at `now`, its forms carrying `csrf`.
fn builder_html<'a>(
    view: &'a ProductView,
    zone: &ShopZone,
    visit: &'a Visit<'_>,
    csrf: &'a str,
    now: Millis,
) -> Result<String, askama::Error> {
    let product = &view.product;
    let currency = product.base_price.currency;
    let groups = product
        .option_groups
        .iter()
        .map(|g| {
            let picked = visit.selected.get(&g.id);
            let checked = |id: &str| match picked {
                Some(ids) => ids.iter().any(|p| p == id),
                None => g.min_choices > 0 && g.default_choice.as_deref() == Some(id),
            };
            let hint = match (g.min_choices, g.max_choices) {
                (1, 1) => Cow::Borrowed("Choose one"),
                (0, max) => format!("Choose up to {max}").into(),
                (min, max) if min == max => format!("Choose {min}").into(),
                (min, max) => format!("Choose {min} to {max}").into(),
            };
            GroupView {
                id: &g.id,
                name: &g.name,
                multi: g.max_choices > 1,
                max: g.max_choices,
                hint,
                choices: g
                    .choices
                    .iter()
                    .map(|c| ChoiceView {
                        id: &c.id,
                        name: &c.name,
                        delta: c.price_delta,
                        delta_label: display::Delta(Money::new(c.price_delta, currency)),
                        checked: checked(&c.id),
                    })
                    .collect(),
            }
        })
        .collect();
    // The price of what is ticked; a selection the rules refuse shows the base price (the
    // error message says what to change).
    let selections: BTreeMap<String, OptionSelection> =
        visit.selected.iter().map(|(g, c)| (g.clone(), OptionSelection::Many(c.clone()))).collect();
    let unit = price_line(product, &selections, 1).map_or(product.base_price, |l| l.unit_price);
    let card = Card::new(view, now);
    let left_to_buy = product.sale.per_customer_max.map_or(u32::MAX, |max| max.saturating_sub(visit.bought));
    let can_add = card.max_quantity.min(left_to_buy).saturating_sub(visit.in_cart);
    let opens_label = card.opening.as_ref().map(|o| zone.label(o.at)).unwrap_or_default();
    Builder {
        groups,
        base_amount: product.base_price.amount,
        currency_prefix: currency.prefix(),
        unit_price: display::price(unit),
        quantity: visit.quantity.clamp(1, can_add.max(1)),
        can_add,
        in_cart: visit.in_cart,
        opens_label,
        limit_note: super::buyer::limit_note(product, visit.bought),
        error: visit.error.as_deref(),
        card,
        csrf,
    }
    .render()
}
