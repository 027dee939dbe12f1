//! How a product looks on the storefront: picture, price, stock badge and whether it can be
//! bought now. The menu, the builder and the cart all show products through this one view.

use super::display;
use super::illustration;
use crate::timefmt::rfc3339;
use stampede_domain::{MAX_LINE_QUANTITY, Millis, Product};
use stampede_store::ProductView;

/// A sale that has not opened yet.
pub struct Opening {
    /// Unix milliseconds, for the script that opens the sale on time.
    pub at: Millis,
    /// RFC 3339, for `<time datetime>`.
    pub iso: String,
    /// "in 59 min".
    pub wait: String,
}

/// A product as a card.
pub struct Card {
    pub id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub price: String,
    pub stock: u32,
    pub stock_label: String,
    /// Inner SVG drawing.
    pub art: std::sync::Arc<str>,
    pub has_options: bool,
    pub opening: Option<Opening>,
    /// When an open (or not yet open) sale closes, if it closes later than now.
    pub closes_at: Option<Millis>,
    pub ended: bool,
    pub per_customer_max: Option<u32>,
    /// Most units one order may hold, by stock and sale limits.
    pub max_quantity: u32,
    /// Sold through a waiting room: the page offers the line instead of the cart.
    pub waiting_room: bool,
}

impl Card {
    /// The card for `view` at time `now`.
    pub fn new(view: &ProductView, now: Millis) -> Card {
        let p: &Product = &view.product;
        let opening = p.sale.starts_at.filter(|s| now < *s).map(|s| Opening {
            at: s,
            iso: rfc3339(s),
            wait: display::wait_label(now, s),
        });
        let max_quantity = [Some(view.stock), p.sale.per_order_max, p.sale.per_customer_max, Some(MAX_LINE_QUANTITY)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(0);
        Card {
            id: p.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            category: p.category.clone(),
            price: display::price(p.base_price),
            stock: view.stock,
            stock_label: display::stock_label(view.stock),
            art: illustration::drawing(p),
            has_options: !p.option_groups.is_empty(),
            opening,
            closes_at: p.sale.ends_at.filter(|e| now < *e),
            ended: p.sale.ends_at.is_some_and(|e| now >= e),
            per_customer_max: p.sale.per_customer_max,
            max_quantity,
            waiting_room: p.sale.waiting_room.is_some(),
        }
    }

    /// Whether the buy button works right now.
    pub fn buyable(&self) -> bool {
        self.stock > 0 && self.opening.is_none() && !self.ended
    }

    /// The sale window's state for the script (`data-sale-state`): `soon`, `open` or `ended`.
    pub fn sale_state(&self) -> &'static str {
        match (&self.opening, self.ended) {
            (_, true) => "ended",
            (Some(_), false) => "soon",
            (None, false) => "open",
        }
    }

    /// Whether the page carries a sale window the script must follow.
    pub fn timed(&self) -> bool {
        self.opening.is_some() || self.closes_at.is_some()
    }

    /// Badge class: `out`, `low` or `ok`.
    pub fn stock_class(&self) -> &'static str {
        match self.stock {
            0 => "out",
            n if n <= display::LOW_STOCK => "low",
            _ => "ok",
        }
    }
}
