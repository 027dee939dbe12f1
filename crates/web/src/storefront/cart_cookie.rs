//! The cart, kept in a cookie so it survives reloads and works without JavaScript. The
//! cookie holds only product ids, option choices and quantities; prices are always worked
//! out again from the catalog, so a customer who edits the cookie changes nothing but their
//! own cart. Anything that does not decode is an empty cart, never an error.

use crate::auth::cookies::cookie;
use axum::http::HeaderMap;
use stampede_domain::{MAX_LINE_QUANTITY, OptionSelection, is_slug};
use std::collections::BTreeMap;

/// Name of the cart cookie.
pub const COOKIE_NAME: &str = "cart";
/// Most distinct lines a cart holds.
pub const MAX_LINES: usize = 20;
/// Longest cookie value written or read; browsers keep at least 4 KiB per cookie.
const MAX_COOKIE_BYTES: usize = 3000;
/// Thirty days.
const MAX_AGE_SECS: u32 = 30 * 24 * 3600;

/// One line: a product with its options, and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub product_id: String,
    pub options: BTreeMap<String, Vec<String>>,
    pub quantity: u32,
}

impl CartLine {
    /// Identifies the line by product and options, so adding the same pizza twice adds up.
    /// Made of slugs and `.=+` only, so it is safe in a form field and in the cookie.
    pub fn key(&self) -> String {
        let mut key = self.product_id.clone();
        for (group, choices) in self.options.iter().filter(|(_, c)| !c.is_empty()) {
            key.push('.');
            key.push_str(group);
            key.push('=');
            key.push_str(&choices.join("+"));
        }
        key
    }

    /// The options as the domain's order request takes them.
    pub fn selections(&self) -> BTreeMap<String, OptionSelection> {
        self.options
            .iter()
            .filter(|(_, c)| !c.is_empty())
            .map(|(g, c)| (g.clone(), OptionSelection::Many(c.clone())))
            .collect()
    }
}

/// The customer's cart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cart {
    pub lines: Vec<CartLine>,
}

/// Why a line could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartFull {
    TooManyLines,
    TooLarge,
}

impl Cart {
    /// The cart in the request's cookie; missing or corrupt is empty.
    pub fn from_headers(headers: &HeaderMap) -> Cart {
        cookie(headers, COOKIE_NAME).and_then(Cart::decode).unwrap_or_default()
    }

    /// Units over all lines.
    pub fn units(&self) -> u32 {
        self.lines.iter().map(|l| l.quantity).sum()
    }

    /// Units of one product over all its lines.
    pub fn units_of(&self, product_id: &str) -> u32 {
        self.lines.iter().filter(|l| l.product_id == product_id).map(|l| l.quantity).sum()
    }

    /// Adds a line, merging with an identical one (quantity capped at the per-line maximum).
    pub fn add(&mut self, line: CartLine) -> Result<(), CartFull> {
        let mut next = self.clone();
        let key = line.key();
        let lines = next.lines.len();
        match next.lines.iter_mut().find(|l| l.key() == key) {
            Some(existing) => existing.quantity = (existing.quantity + line.quantity).min(MAX_LINE_QUANTITY),
            None if lines >= MAX_LINES => return Err(CartFull::TooManyLines),
            None => next.lines.push(line),
        }
        if next.encode().len() > MAX_COOKIE_BYTES {
            return Err(CartFull::TooLarge);
        }
        *self = next;
        Ok(())
    }

    /// Adds the lines of `other` that this cart lacks; a line in both keeps the larger
    /// quantity, so merging the same cart twice changes nothing. Lines beyond the cart's
    /// bounds are left out.
    pub fn merge(&mut self, other: &Cart) {
        for line in &other.lines {
            let key = line.key();
            match self.lines.iter_mut().find(|l| l.key() == key) {
                Some(mine) => mine.quantity = mine.quantity.max(line.quantity),
                None => {
                    // A line that does not fit is dropped, as `add` would refuse it.
                    let _ = self.add(line.clone());
                }
            }
        }
    }

    /// Sets a line's quantity; 0 removes it. Unknown keys change nothing.
    pub fn set_quantity(&mut self, key: &str, quantity: u32) {
        if quantity == 0 {
            self.lines.retain(|l| l.key() != key);
        } else if let Some(line) = self.lines.iter_mut().find(|l| l.key() == key) {
            line.quantity = quantity.min(MAX_LINE_QUANTITY);
        }
    }

    /// `key*quantity` lines joined by `|`: only cookie-safe characters, no quoting needed.
    pub fn encode(&self) -> String {
        self.lines.iter().map(|l| format!("{}*{}", l.key(), l.quantity)).collect::<Vec<_>>().join("|")
    }

    /// Parses `encode`'s format strictly; `None` on anything unexpected.
    pub fn decode(value: &str) -> Option<Cart> {
        if value.is_empty() {
            return Some(Cart::default());
        }
        if value.len() > MAX_COOKIE_BYTES {
            return None;
        }
        let mut cart = Cart::default();
        for raw in value.split('|') {
            let (key, quantity) = raw.rsplit_once('*')?;
            let quantity: u32 = quantity.parse().ok().filter(|q| (1..=MAX_LINE_QUANTITY).contains(q))?;
            let mut parts = key.split('.');
            let product_id = parts.next().filter(|p| is_slug(p))?.to_owned();
            let mut options = BTreeMap::new();
            for part in parts {
                let (group, choices) = part.split_once('=')?;
                let choices: Vec<String> = choices.split('+').map(str::to_owned).collect();
                if !is_slug(group) || !choices.iter().all(|c| is_slug(c)) || options.contains_key(group) {
                    return None;
                }
                options.insert(group.to_owned(), choices);
            }
            cart.add(CartLine { product_id, options, quantity }).ok()?;
        }
        Some(cart)
    }

    /// The `Set-Cookie` value that stores this cart (or deletes the cookie when empty).
    pub fn set_cookie(&self) -> String {
        if self.lines.is_empty() {
            return format!("{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
        }
        format!("{COOKIE_NAME}={}; Path=/; Max-Age={MAX_AGE_SECS}; HttpOnly; SameSite=Lax", self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use axum::http::header::COOKIE;
    use proptest::prelude::*;

    fn line(product: &str, opts: &[(&str, &[&str])], quantity: u32) -> CartLine {
        let options = opts.iter().map(|(g, c)| (g.to_string(), c.iter().map(|s| s.to_string()).collect())).collect();
        CartLine { product_id: product.into(), options, quantity }
    }

    #[test]
    fn round_trips_and_merges_identical_lines() {
        let mut cart = Cart::default();
        cart.add(line("margherita", &[("size", &["large"]), ("toppings", &["olives", "basil"])], 2)).unwrap();
        cart.add(line("cola", &[], 1)).unwrap();
        cart.add(line("margherita", &[("toppings", &["olives", "basil"]), ("size", &["large"])], 1)).unwrap();
        assert_eq!(cart.lines.len(), 2);
        assert_eq!(cart.units_of("margherita"), 3);
        assert_eq!(cart.encode(), "margherita.size=large.toppings=olives+basil*3|cola*1");
        assert_eq!(Cart::decode(&cart.encode()), Some(cart.clone()));
        cart.set_quantity("cola", 0);
        assert_eq!(cart.units(), 3);
    }

    #[test]
    fn merging_adds_missing_lines_and_keeps_the_larger_quantity() {
        let mut here = Cart { lines: vec![line("cola", &[], 1), line("margherita", &[("size", &["large"])], 2)] };
        let saved = Cart { lines: vec![line("margherita", &[("size", &["large"])], 1), line("water", &[], 3)] };
        here.merge(&saved);
        assert_eq!(here.encode(), "cola*1|margherita.size=large*2|water*3");
        let once = here.clone();
        here.merge(&saved);
        assert_eq!(here, once, "merging again changes nothing");
    }

    #[test]
    fn corrupt_cookies_are_empty_carts() {
        for bad in ["x", "a*0", "a*101", "A*1", "a.b*1", "a.b=*1", "a.b=c.b=d*1", "a*1|", "%3Cscript%3E*1", "a*-1"] {
            assert_eq!(Cart::decode(bad), None, "{bad}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("theme=dark; cart=<script>"));
        assert_eq!(Cart::from_headers(&headers), Cart::default());
        headers.insert(COOKIE, HeaderValue::from_static("theme=dark; cart=cola*2"));
        assert_eq!(Cart::from_headers(&headers).units(), 2);
    }

    #[test]
    fn the_cart_is_bounded() {
        let mut cart = Cart::default();
        for i in 0..MAX_LINES {
            cart.add(line(&format!("p{i}"), &[], 1)).unwrap();
        }
        assert_eq!(cart.add(line("one-more", &[], 1)), Err(CartFull::TooManyLines));
        let long = "x".repeat(60);
        let mut big = Cart::default();
        let mut refused = false;
        for i in 0..MAX_LINES {
            refused |= big.add(line(&format!("p{i}-{long}"), &[("g", &[&long, &long, &long])], 1)).is_err();
        }
        assert!(refused && big.encode().len() <= MAX_COOKIE_BYTES);
    }

    proptest! {
        /// Whatever a client puts in the cookie, decoding never panics and what decodes re-encodes to itself.
        #[test]
        fn decoding_never_panics(value in "[a-z0-9.=+*|-]{0,200}") {
            if let Some(cart) = Cart::decode(&value) {
                prop_assert_eq!(Cart::decode(&cart.encode()), Some(cart));
            }
        }
    }
}
