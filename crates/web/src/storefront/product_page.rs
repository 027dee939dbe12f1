//! `GET /products/{id}`: the builder. Options are plain radio buttons and checkboxes in one
//! form that posts to the cart, so it works without JavaScript; the script adds the live
//! price and stops extra toppings at the limit.

use super::cart_cookie::Cart;
use super::catalog_view::Card;
use super::display;
use super::page::{PageError, Shell, render};
use crate::AppState;
use crate::shop_time::ShopZone;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use stampede_domain::{Money, OptionSelection, price_line};
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

#[derive(Template)]
#[template(path = "storefront/product.html")]
struct BuilderPage<'a> {
    shell: Shell,
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
    error: Option<String>,
}

/// The builder with every option at its default.
pub async fn show(
    State(app): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let view = app.store.product(&id).await?.filter(|v| !v.product.archived).ok_or(PageError::NotFound)?;
    let bought = super::buyer::bought(&app, &headers, &[&view.product]).await?.remove(&id).unwrap_or(0);
    let cart = Cart::from_headers(&headers);
    Ok(builder(&view, &app.shop.zone, &cart, bought, &BTreeMap::new(), 1, None, StatusCode::OK))
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
    let product = &view.product;
    let currency = product.base_price.currency;
    let groups = product
        .option_groups
        .iter()
        .map(|g| {
            let picked = selected.get(&g.id);
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
        selected.iter().map(|(g, c)| (g.clone(), OptionSelection::Many(c.clone()))).collect();
    let unit = price_line(product, &selections, 1).map_or(product.base_price, |l| l.unit_price);
    let now = now_millis();
    let card = Card::new(view, now);
    let in_cart = cart.units_of(&product.id);
    let left_to_buy = product.sale.per_customer_max.map_or(u32::MAX, |max| max.saturating_sub(bought));
    let can_add = card.max_quantity.min(left_to_buy).saturating_sub(in_cart);
    let opens_label = card.opening.as_ref().map(|o| zone.label(o.at)).unwrap_or_default();
    let page = BuilderPage {
        shell: Shell::new(product.name.clone(), cart).reload_at(now, product.sale.next_change(now)),
        groups,
        base_amount: product.base_price.amount,
        currency_prefix: currency.prefix(),
        unit_price: display::price(unit),
        quantity: quantity.clamp(1, can_add.max(1)),
        can_add,
        in_cart,
        opens_label,
        limit_note: super::buyer::limit_note(product, bought),
        error,
        card,
    };
    render(status, &page)
}
