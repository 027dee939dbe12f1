//! How money, stock and times read on the storefront. The script formats live values with
//! the same rules (see `static/shop.js`), so a number never changes shape when it updates.

use stampede_domain::{ForPeople, Millis, Money};
use std::fmt;
use time::OffsetDateTime;
use time::macros::format_description;

/// Stock at or below this is shown as a count ("12 left"); above it, just "In stock".
pub const LOW_STOCK: u32 = 50;

/// An amount for people: `$12.99` (the domain's rule, shared with email).
pub fn price(money: Money) -> String {
    money.for_people()
}

/// A price difference for an option: `+$1.50`, `-$3.00`, or nothing when it costs nothing
/// extra. Written into the page as it renders: a product page shows one per choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delta(pub Money);

impl fmt::Display for Delta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.amount {
            0 => Ok(()),
            a if a > 0 => write!(f, "+{}", ForPeople(self.0)),
            _ => ForPeople(self.0).fmt(f),
        }
    }
}

/// The stock badge: "Sold out", "12 left" or "In stock".
pub fn stock_label(stock: u32) -> String {
    match stock {
        0 => "Sold out".to_owned(),
        n if n <= LOW_STOCK => format!("{n} left"),
        _ => "In stock".to_owned(),
    }
}

/// A UTC time for pages rendered without knowing the reader's zone; the script rewrites it
/// in local time: `Wed 25 Nov 2026, 19:00 UTC`.
pub fn utc_label(ms: Millis) -> String {
    let format =
        format_description!("[weekday repr:short] [day padding:none] [month repr:short] [year], [hour]:[minute] UTC");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// "in 2 h 5 min" style wait until `then`, for pages read without the live countdown.
pub fn wait_label(now: Millis, then: Millis) -> String {
    // Rounded up: "in 0 min" would read as already open.
    let minutes = ((then - now).max(0) + 59_999) / 60_000;
    match (minutes / (24 * 60), (minutes / 60) % 24, minutes % 60) {
        (0, 0, m) => format!("in {m} min"),
        (0, h, m) => format!("in {h} h {m} min"),
        (d, h, _) => format!("in {d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_domain::Currency;

    #[test]
    fn prices_read_like_prices() {
        assert_eq!(price(Money::new(1299, Currency::USD)), "$12.99");
        assert_eq!(price(Money::new(5, Currency::parse("CHF").unwrap())), "CHF 0.05");
        assert_eq!(price(Money::new(-300, Currency::parse("EUR").unwrap())), "-€3.00");
        let delta = |amount| Delta(Money::new(amount, Currency::USD)).to_string();
        assert_eq!(delta(150), "+$1.50");
        assert_eq!(delta(-300), "-$3.00");
        assert_eq!(delta(0), "");
    }

    #[test]
    fn stock_and_waits_read_plainly() {
        assert_eq!(stock_label(0), "Sold out");
        assert_eq!(stock_label(12), "12 left");
        assert_eq!(stock_label(500), "In stock");
        assert_eq!(wait_label(0, 59 * 60_000 + 1), "in 1 h 0 min");
        assert_eq!(wait_label(0, 90_000), "in 2 min");
        assert_eq!(wait_label(0, 50 * 3_600_000), "in 2 d 2 h");
        assert_eq!(utc_label(0), "Thu 1 Jan 1970, 00:00 UTC");
    }
}
