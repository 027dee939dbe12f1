//! Product pictures drawn as inline SVG: no image files to fetch, crisp at any size, and
//! varied per product so the menu is not a wall of identical circles. The templates wrap
//! the drawing in `<svg role="img" aria-label="...">`, which is its alt text.

use stampede_domain::Product;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

/// Topping colours: tomato, basil, olive, pepperoni, mushroom, pineapple, pepper.
const TOPPING_COLOURS: [&str; 7] = ["#c0392b", "#2e7d32", "#263238", "#a93226", "#8d6e63", "#f4d03f", "#e67e22"];

/// Drawings made so far, by kind and seed.
type Drawings = HashMap<(Kind, u32), Arc<str>>;

/// The kinds of drawing.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Pizza,
    Drink,
    Deal,
}

/// The inner SVG drawing (viewBox 0 0 100 100) for a product. Contains no text from the
/// catalog, so it can be written unescaped. A product's drawing never changes, so each is
/// made once and shared: its trigonometry and number formatting were the largest cost of a
/// menu page (a third of its CPU, by `perf`).
pub fn drawing(product: &Product) -> Arc<str> {
    static DRAWN: LazyLock<RwLock<Drawings>> = LazyLock::new(RwLock::default);
    let seed = product.id.bytes().fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let kind = match product.category.as_str() {
        "pizza" => Kind::Pizza,
        "drinks" => Kind::Drink,
        _ => Kind::Deal,
    };
    if let Some(svg) = DRAWN.read().unwrap_or_else(|p| p.into_inner()).get(&(kind, seed)) {
        return svg.clone();
    }
    let svg: Arc<str> = match kind {
        Kind::Pizza => pizza(seed),
        Kind::Drink => drink(seed),
        Kind::Deal => deal(seed),
    }
    .into();
    DRAWN.write().unwrap_or_else(|p| p.into_inner()).insert((kind, seed), svg.clone());
    svg
}

fn pizza(seed: u32) -> String {
    let mut svg = String::from(
        r##"<circle cx="50" cy="50" r="46" fill="#e0a458"/><circle cx="50" cy="50" r="38" fill="#d9481f"/><circle cx="50" cy="50" r="34" fill="#f6d58e"/>"##,
    );
    // Toppings on a sunflower spiral: evenly spread, different per product.
    let (a, b) = (TOPPING_COLOURS[(seed % 7) as usize], TOPPING_COLOURS[((seed / 7) % 7) as usize]);
    for i in 0..14u32 {
        let angle = f64::from(i) * 2.399_963 + f64::from(seed % 10);
        let radius = 28.0 * (f64::from(i) + 0.5).sqrt() / 14f64.sqrt();
        let (x, y) = (50.0 + radius * angle.cos(), 50.0 + radius * angle.sin());
        let colour = if i % 2 == 0 { a } else { b };
        svg.push_str(&format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="4.2" fill="{colour}"/>"#));
    }
    svg.push_str(r##"<path d="M50 50 L96 50 A46 46 0 0 0 82.5 17.5 Z" fill="#fff" opacity=".18"/>"##);
    svg
}

fn drink(seed: u32) -> String {
    let colours = ["#c62828", "#1565c0", "#f9a825", "#2e7d32"];
    let colour = colours[(seed % 4) as usize];
    format!(
        r##"<rect x="30" y="14" width="40" height="74" rx="8" fill="{colour}"/><rect x="34" y="8" width="32" height="10" rx="3" fill="#b0bec5"/><rect x="30" y="38" width="40" height="22" fill="#fff" opacity=".85"/><circle cx="50" cy="49" r="7" fill="{colour}"/><rect x="36" y="20" width="5" height="62" rx="2" fill="#fff" opacity=".25"/>"##
    )
}

fn deal(seed: u32) -> String {
    let colours = ["#6a1b9a", "#00838f", "#ad1457"];
    let colour = colours[(seed % 3) as usize];
    format!(
        r##"<path d="M50 4 61 22 82 16 78 37 96 50 78 63 82 84 61 78 50 96 39 78 18 84 22 63 4 50 22 37 18 16 39 22Z" fill="#ffca28"/><circle cx="50" cy="50" r="27" fill="{colour}"/><path d="M50 33 55 45 68 46 58 54 61 67 50 60 39 67 42 54 32 46 45 45Z" fill="#ffca28"/>"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_domain::{Currency, Money};

    #[test]
    fn every_category_gets_a_drawing_without_catalog_text() {
        for category in ["pizza", "drinks", "flash-sale", "other"] {
            let product = Product::new("x", "<b>Name</b>", category, Money::new(1, Currency::USD));
            let svg = drawing(&product);
            assert!(svg.starts_with('<') && !svg.contains("Name"), "{category}");
        }
    }
}
