//! `/cart`: the cart priced from the catalog, and the forms that change it. Every change is
//! a plain form post answered with a redirect (or the page again with a message), so the
//! cart works without JavaScript.

use super::buyer;
use super::cart_cookie::{Cart, CartFull, CartLine};
use super::catalog_view::Card;
use super::display;
use super::messages::explain;
use super::page::{PageError, Shell, render, see_other};
use super::product_page::builder;
use crate::shop_time::ShopZone;
use crate::{AppState, Problem};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use stampede_domain::is_slug;
use stampede_domain::{LineCheck, LineRequest, Millis, Money, Product, check_line, price_line};
use stampede_store::ProductView;
use stampede_store::clock::now_millis;
use std::collections::BTreeMap;

/// One priced cart line.
pub struct LineView {
    pub key: String,
    pub product_id: String,
    pub name: String,
    pub card: Card,
    /// "Large 35 cm · Thin & crispy · Mushrooms, Fresh basil".
    pub options: String,
    pub quantity: u32,
    pub unit: String,
    pub total: String,
    /// What stands in the way of ordering this product now, if anything.
    pub issue: Option<String>,
    /// What the buyer already bought of a limited product, when nothing stands in the way.
    pub note: Option<String>,
}

/// The cart as the catalog prices it now.
pub struct PricedCart {
    pub lines: Vec<LineView>,
    pub total: Option<String>,
    /// Lines dropped because their product or options left the menu.
    pub dropped: usize,
    /// The cart without the dropped lines: what checkout orders.
    pub cart: Cart,
}

impl PricedCart {
    /// Whether every line can be ordered right now.
    pub fn orderable(&self) -> bool {
        !self.lines.is_empty() && self.lines.iter().all(|l| l.issue.is_none())
    }

    /// The menu name of a product in the cart (its id if it is not there).
    pub fn name_of(&self, id: &str) -> String {
        self.lines.iter().find(|l| l.product_id == id).map_or_else(|| id.to_owned(), |l| l.name.clone())
    }
}

/// Units the visitor already holds of the limited products in `cart` (see `buyer`).
pub async fn bought_in(
    app: &AppState,
    headers: &HeaderMap,
    products: &[ProductView],
    cart: &Cart,
) -> Result<BTreeMap<String, u32>, PageError> {
    let in_cart: Vec<&Product> = products.iter().map(|v| &v.product).filter(|p| cart.units_of(&p.id) > 0).collect();
    Ok(buyer::bought(app, headers, &in_cart).await?)
}

/// Prices `cart` against `products` at `now`: the server's prices, never the client's.
/// `bought` is what the buyer already holds of limited products, when known.
pub fn price_cart(
    products: &[ProductView],
    cart: &Cart,
    bought: &BTreeMap<String, u32>,
    now: Millis,
    zone: &ShopZone,
) -> PricedCart {
    let find = |id: &str| products.iter().find(|v| v.product.id == id && !v.product.archived);
    let mut lines = Vec::new();
    let mut kept = Cart::default();
    let mut total: Option<Money> = None;
    let mut dropped = 0;
    for line in &cart.lines {
        let Some(view) = find(&line.product_id) else {
            dropped += 1;
            continue;
        };
        let Ok(priced) = price_line(&view.product, &line.selections(), line.quantity) else {
            dropped += 1;
            continue;
        };
        let Some(sum) = total.map_or(Some(priced.line_total), |t| t.checked_add(priced.line_total)) else {
            dropped += 1;
            continue;
        };
        total = Some(sum);
        let _ = kept.add(line.clone());
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for o in &priced.options {
            match groups.last_mut() {
                Some((g, names)) if *g == o.group_id => names.push(o.choice_name.clone()),
                _ => groups.push((o.group_id.clone(), vec![o.choice_name.clone()])),
            }
        }
        lines.push(LineView {
            key: line.key(),
            product_id: line.product_id.clone(),
            name: view.product.name.clone(),
            card: Card::new(view, now),
            options: groups.into_iter().map(|(_, names)| names.join(", ")).collect::<Vec<_>>().join(" · "),
            quantity: line.quantity,
            unit: display::price(priced.unit_price),
            total: display::price(priced.line_total),
            issue: None,
            note: None,
        });
    }
    // Stock, sale windows and limits apply per product over all its lines, as at checkout.
    for view in products {
        let requested = kept.units_of(&view.product.id);
        if requested == 0 {
            continue;
        }
        let already_bought = bought.get(&view.product.id).copied().unwrap_or(0);
        let check = LineCheck { product: &view.product, requested, available: view.stock, already_bought, now };
        let Some(line) = lines.iter_mut().find(|l| l.product_id == view.product.id) else { continue };
        match check_line(check) {
            Err(rejection) => {
                line.issue = Some(explain(&Problem::from(rejection), now, zone, |_| view.product.name.clone()));
            }
            Ok(()) => line.note = buyer::limit_note(&view.product, already_bought),
        }
    }
    PricedCart { lines, total: total.map(display::price), dropped, cart: kept }
}

#[derive(Template)]
#[template(path = "storefront/cart.html")]
struct CartPage {
    shell: Shell,
    priced: PricedCart,
    added: Option<String>,
}

/// `?added=<product id>` after an add, for the confirmation line.
#[derive(Deserialize)]
pub struct CartQuery {
    added: Option<String>,
}

/// `GET /cart`.
pub async fn show(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CartQuery>,
) -> Result<Response, PageError> {
    let products = app.store.products().await?;
    let cart = Cart::from_headers(&headers);
    let bought = bought_in(&app, &headers, &products, &cart).await?;
    let priced = price_cart(&products, &cart, &bought, now_millis(), &app.shop.zone);
    let added = query.added.filter(|id| is_slug(id)).map(|id| priced.name_of(&id));
    let shell = Shell::new("Your cart", &priced.cart);
    Ok(render(StatusCode::OK, &CartPage { shell, priced, added }))
}

/// `POST /cart/add`: `product`, `quantity`, and `o.<group>` once per chosen option.
pub async fn add(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim());
    let product_id = field("product").unwrap_or_default();
    let view = app.store.product(product_id).await?.filter(|v| !v.product.archived).ok_or(PageError::NotFound)?;
    let mut cart = Cart::from_headers(&headers);
    let mut selected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in &fields {
        if let Some(group) = name.strip_prefix("o.") {
            selected.entry(group.to_owned()).or_default().push(value.clone());
        }
    }
    let quantity_field = field("quantity").unwrap_or("1");
    let current = cart.clone();
    let already_bought = buyer::bought(&app, &headers, &[&view.product]).await?.remove(&view.product.id).unwrap_or(0);
    let refuse = |message: String, status| {
        builder(&view, &app.shop.zone, &current, already_bought, &selected, 1, Some(message), status)
    };
    let Ok(quantity) = quantity_field.parse::<i64>() else {
        return Ok(refuse(
            format!("Quantity must be a whole number, not “{quantity_field}”."),
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    };
    if !selected.iter().all(|(g, ids)| is_slug(g) && ids.iter().all(|c| is_slug(c))) {
        return Ok(refuse("Those options are not on the menu.".into(), StatusCode::UNPROCESSABLE_ENTITY));
    }
    let selections =
        CartLine { product_id: view.product.id.clone(), options: selected.clone(), quantity: 1 }.selections();
    // The same checks an order gets: the line's shape, its options, then stock, sale window
    // and limits over everything of this product in the cart.
    let line = match LineRequest::new(&view.product.id, quantity, selections) {
        Ok(line) => line,
        Err(e) => return Ok(refuse(format!("Quantity {}.", e.message), StatusCode::UNPROCESSABLE_ENTITY)),
    };
    let priced = match price_line(&view.product, &line.options, line.quantity) {
        Ok(priced) => priced,
        Err(rejection) => {
            let problem = Problem::from(rejection);
            let message = explain(&problem, now_millis(), &app.shop.zone, |_| view.product.name.clone());
            return Ok(refuse(message, StatusCode::UNPROCESSABLE_ENTITY));
        }
    };
    let requested = cart.units_of(&view.product.id).saturating_add(line.quantity);
    let check =
        LineCheck { product: &view.product, requested, available: view.stock, already_bought, now: now_millis() };
    if let Err(rejection) = check_line(check) {
        let problem = Problem::from(rejection);
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::CONFLICT);
        return Ok(refuse(explain(&problem, now_millis(), &app.shop.zone, |_| view.product.name.clone()), status));
    }
    // Stored in catalog order with defaults spelled out, so the same pizza is always one line.
    let mut options: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for o in priced.options {
        options.entry(o.group_id).or_default().push(o.choice_id);
    }
    let added = CartLine { product_id: view.product.id.clone(), options, quantity: line.quantity };
    if let Err(full) = cart.add(added) {
        let message = match full {
            CartFull::TooManyLines => "Your cart is full. Check out or remove something first.",
            CartFull::TooLarge => "Your cart can't hold any more combinations. Check out or remove something first.",
        };
        return Ok(refuse(message.into(), StatusCode::CONFLICT));
    }
    Ok(see_other(&format!("/cart?added={}", view.product.id), Some(cart.set_cookie())))
}

/// `POST /cart/update` and `/cart/remove`: `key` names the line.
#[derive(Deserialize)]
pub struct LineForm {
    key: String,
    quantity: Option<String>,
}

/// `POST /cart/update`: sets a line's quantity (0 removes it).
pub async fn update(headers: HeaderMap, Form(form): Form<LineForm>) -> Response {
    let mut cart = Cart::from_headers(&headers);
    // A quantity that does not parse leaves the line alone rather than guessing.
    if let Some(quantity) = form.quantity.as_deref().and_then(|q| q.trim().parse::<u32>().ok()) {
        cart.set_quantity(&form.key, quantity);
    }
    see_other("/cart", Some(cart.set_cookie()))
}

/// `POST /cart/remove`.
pub async fn remove(headers: HeaderMap, Form(form): Form<LineForm>) -> Response {
    let mut cart = Cart::from_headers(&headers);
    cart.set_quantity(&form.key, 0);
    see_other("/cart", Some(cart.set_cookie()))
}
