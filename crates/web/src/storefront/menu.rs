//! `GET /`: the menu, by section, each product with picture, price and live stock.

use super::cart_cookie::Cart;
use super::catalog_view::Card;
use super::page::{PageError, Shell, render};
use super::page_cache::{TOKEN_MARK, with_token};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use stampede_domain::Millis;
use stampede_store::clock::now_millis;

/// Sections in menu order, with their headings; unknown categories follow in catalog order.
const SECTIONS: [(&str, &str, &str); 3] = [
    ("flash-sale", "Flash-sale deals", "Limited runs at limited prices: when they're gone, they're gone."),
    ("pizza", "Pizzas", "Stone-baked, built the way you like them."),
    ("drinks", "Drinks", "Cold ones to go with it."),
];

struct Section {
    id: String,
    title: String,
    blurb: String,
    cards: Vec<Card>,
}

#[derive(Template)]
#[template(path = "storefront/menu.html")]
struct MenuPage {
    shell: Shell,
    /// The sections' HTML, with the visitor's token in.
    sections: String,
}

#[derive(Template)]
#[template(path = "storefront/menu_sections.html")]
struct MenuSections<'a> {
    sections: Vec<Section>,
    csrf: &'a str,
}

/// The menu.
pub async fn show(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let now = now_millis();
    let version = *app.store.stock_changes().borrow();
    let (pieces, next_change) = match app.menu.get(&(), version, now) {
        Some(cached) => cached,
        None => {
            let (html, next_change) = sections(&app, now).await?;
            (app.menu.put((), version, next_change, &html), next_change)
        }
    };
    let shell = Shell::new("Menu", &Cart::from_headers(&headers)).reload_at(now, next_change);
    let sections = with_token(&pieces, &shell.csrf);
    Ok(render(StatusCode::OK, &MenuPage { shell, sections }))
}

/// The sections' HTML at `now`, with [`TOKEN_MARK`] for the visitor's token, and the next
/// moment a sale on it opens or closes.
async fn sections(app: &AppState, now: Millis) -> Result<(String, Option<Millis>), PageError> {
    let products = app.store.products().await?;
    let mut sections: Vec<Section> = SECTIONS
        .iter()
        .map(|(id, title, blurb)| Section {
            id: (*id).to_owned(),
            title: (*title).to_owned(),
            blurb: (*blurb).to_owned(),
            cards: vec![],
        })
        .collect();
    for view in products.iter().filter(|v| !v.product.archived) {
        let card = Card::new(view, now);
        match sections.iter_mut().find(|s| s.id == card.category) {
            Some(section) => section.cards.push(card),
            None => sections.push(Section {
                id: card.category.clone(),
                title: heading(&card.category),
                blurb: String::new(),
                cards: vec![card],
            }),
        }
    }
    sections.retain(|s| !s.cards.is_empty());
    let next_change =
        products.iter().filter(|v| !v.product.archived).filter_map(|v| v.product.sale.next_change(now)).min();
    let html = MenuSections { sections, csrf: TOKEN_MARK }.render().map_err(PageError::render)?;
    Ok((html, next_change))
}

/// "side-dishes" reads as "Side dishes".
fn heading(category: &str) -> String {
    let words = category.replace('-', " ");
    let mut chars = words.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}
