//! Money as integer minor units with an ISO 4217 currency: never floats.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// A three-letter upper-case ISO 4217 currency code such as `USD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// What is written before an amount: the symbol of the common currencies, else the code
    /// and a space.
    pub fn prefix(&self) -> Cow<'static, str> {
        match self.as_str() {
            "USD" => Cow::Borrowed("$"),
            "EUR" => Cow::Borrowed("€"),
            "GBP" => Cow::Borrowed("£"),
            code => Cow::Owned(format!("{code} ")),
        }
    }

    /// US dollars, the demo shop's currency.
    pub const USD: Currency = Currency(*b"USD");

    /// Parses a code, accepting only three ASCII upper-case letters.
    pub fn parse(code: &str) -> Option<Currency> {
        let bytes: [u8; 3] = code.as_bytes().try_into().ok()?;
        bytes.iter().all(u8::is_ascii_uppercase).then_some(Currency(bytes))
    }

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        // Construction guarantees ASCII.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Currency::parse(&value).ok_or_else(|| format!("`{value}` is not a three-letter currency code"))
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount in minor units (cents) of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// Minor units, e.g. 1299 for 12.99.
    pub amount: i64,
    pub currency: Currency,
}

impl Money {
    /// The amount as the shop shows it to people, in pages and email alike: `$12.99`,
    /// `€3.50`, `CHF 4.00`.
    pub fn for_people(&self) -> String {
        ForPeople(*self).to_string()
    }

    /// Builds an amount in minor units.
    pub const fn new(amount: i64, currency: Currency) -> Money {
        Money { amount, currency }
    }

    /// Multiplies by a quantity, `None` on overflow.
    pub fn checked_mul(self, quantity: u32) -> Option<Money> {
        Some(Money::new(self.amount.checked_mul(i64::from(quantity))?, self.currency))
    }

    /// Adds another amount of the same currency, `None` on overflow or currency mismatch.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        (self.currency == other.currency)
            .then(|| self.amount.checked_add(other.amount))
            .flatten()
            .map(|amount| Money::new(amount, self.currency))
    }
}

/// An amount as [`Money::for_people`] writes it, for writing straight into a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForPeople(pub Money);

impl fmt::Display for ForPeople {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Money { amount, currency } = self.0;
        if amount < 0 {
            f.write_str("-")?;
        }
        f.write_str(&currency.prefix())?;
        let abs = amount.unsigned_abs();
        write!(f, "{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Display for Money {
    /// Formats with two decimals, which fits every currency the demo uses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        write!(f, "{sign}{}.{:02} {}", abs / 100, abs % 100, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_for_people_use_the_symbol() {
        assert_eq!(Money::new(1950, Currency::USD).for_people(), "$19.50");
        assert_eq!(Money::new(-300, Currency::parse("EUR").unwrap()).for_people(), "-€3.00");
        assert_eq!(Money::new(400, Currency::parse("CHF").unwrap()).for_people(), "CHF 4.00");
    }

    #[test]
    fn currency_accepts_only_three_upper_case_letters() {
        assert_eq!(Currency::parse("EUR").map(|c| c.to_string()), Some("EUR".into()));
        for bad in ["eur", "EU", "EURO", "E1R", ""] {
            assert_eq!(Currency::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn arithmetic_refuses_overflow_and_mixed_currencies() {
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(Money::new(i64::MAX, Currency::USD).checked_mul(2), None);
        assert_eq!(Money::new(1, Currency::USD).checked_add(Money::new(1, eur)), None);
        assert_eq!(Money::new(250, Currency::USD).checked_mul(3), Some(Money::new(750, Currency::USD)));
    }

    #[test]
    fn display_uses_two_decimals() {
        assert_eq!(Money::new(1299, Currency::USD).to_string(), "12.99 USD");
        assert_eq!(Money::new(-5, Currency::USD).to_string(), "-0.05 USD");
    }
}
