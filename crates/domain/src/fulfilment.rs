//! How an order reaches the customer: collected at the counter, or delivered to an address.

use crate::ValidationError;
use crate::plain_text::is_plain_text;
use serde::{Deserialize, Serialize};

/// Pickup at the shop, or delivery to an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Fulfilment {
    Pickup,
    Delivery(DeliveryAddress),
}

/// A validated delivery address: street line, city and postcode, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAddress {
    pub address: String,
    pub city: String,
    pub postcode: String,
}

const MAX_ADDRESS_LEN: usize = 200;
const MAX_CITY_LEN: usize = 100;
const MAX_POSTCODE_LEN: usize = 12;

impl DeliveryAddress {
    /// Checks every field and reports each one at fault, so a form can mark them all at once.
    pub fn new(address: &str, city: &str, postcode: &str) -> Result<DeliveryAddress, Vec<ValidationError>> {
        let mut errors = Vec::new();
        let address = text("fulfilment.address", "the street and number", address, MAX_ADDRESS_LEN, &mut errors);
        let city = text("fulfilment.city", "the city", city, MAX_CITY_LEN, &mut errors);
        let postcode = postcode.trim().to_ascii_uppercase();
        let postcode_ok = (2..=MAX_POSTCODE_LEN).contains(&postcode.len())
            && postcode.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
            && postcode.chars().any(|c| c.is_ascii_alphanumeric());
        if !postcode_ok {
            errors.push(ValidationError::new(
                "fulfilment.postcode",
                format!("enter a postcode of 2 to {MAX_POSTCODE_LEN} letters, digits, spaces or '-'"),
            ));
        }
        if errors.is_empty() { Ok(DeliveryAddress { address, city, postcode }) } else { Err(errors) }
    }
}

/// A phone number the shop can call about an order: digits with the usual separators
/// (spaces, `-`, `(`, `)`), optionally led by `+`, kept as the customer typed it, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

/// Fewest and most digits a phone number may have (E.164 allows 15).
const MIN_PHONE_DIGITS: usize = 6;
const MAX_PHONE_DIGITS: usize = 15;
/// Most characters with separators.
const MAX_PHONE_LEN: usize = 25;

impl Phone {
    /// Checks a typed phone number; the error names the field `fulfilment.phone`.
    pub fn new(raw: &str) -> Result<Phone, ValidationError> {
        let value = raw.trim();
        let digits = value.chars().filter(char::is_ascii_digit).count();
        let shape_ok = value
            .chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')') || (c == '+' && i == 0));
        if value.is_empty() {
            return Err(ValidationError::new("fulfilment.phone", "enter a phone number"));
        }
        if !shape_ok || value.len() > MAX_PHONE_LEN || !(MIN_PHONE_DIGITS..=MAX_PHONE_DIGITS).contains(&digits) {
            return Err(ValidationError::new(
                "fulfilment.phone",
                format!(
                    "enter a phone number of {MIN_PHONE_DIGITS} to {MAX_PHONE_DIGITS} digits; spaces, '-', '(', ')' and a leading '+' may separate them"
                ),
            ));
        }
        Ok(Phone(value.to_owned()))
    }

    /// A number read back from storage, which checked it when the order was placed.
    pub fn stored(number: String) -> Phone {
        Phone(number)
    }

    /// The number as typed (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number for a `tel:` link: its digits and a leading `+`.
    pub fn dial(&self) -> String {
        self.0.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect()
    }
}

/// A trimmed single-line text field that must not be empty.
fn text(field: &str, what: &str, raw: &str, max: usize, errors: &mut Vec<ValidationError>) -> String {
    let value = raw.trim();
    if value.is_empty() {
        errors.push(ValidationError::new(field, format!("enter {what}")));
    } else if value.chars().count() > max {
        errors.push(ValidationError::new(field, format!("must be at most {max} characters")));
    } else if !is_plain_text(value) {
        errors.push(ValidationError::new(
            field,
            "must be one line of plain text, without control characters or direction overrides",
        ));
    }
    value.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_address_is_trimmed_and_normalised() {
        let a = DeliveryAddress::new(" 1 Main St ", " Springfield ", " ab1 2cd ").unwrap();
        assert_eq!((a.address.as_str(), a.city.as_str(), a.postcode.as_str()), ("1 Main St", "Springfield", "AB1 2CD"));
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = DeliveryAddress::new("", "  ", "#").unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["fulfilment.address", "fulfilment.city", "fulfilment.postcode"]);
        assert!(DeliveryAddress::new("a\nb", "c", "12345").is_err());
        assert!(DeliveryAddress::new("a\0b", "c", "12345").is_err());
        assert!(DeliveryAddress::new("1 Main St", "Spring\u{202E}field", "12345").is_err());
        assert!(DeliveryAddress::new(&"x".repeat(201), "c", "12345").is_err());
        assert!(DeliveryAddress::new("a", "c", "1234567890123").is_err());
        assert!(DeliveryAddress::new("a", "c", " - ").is_err());
    }

    #[test]
    fn phone_numbers_take_digits_and_separators() {
        assert_eq!(Phone::new(" +44 (20) 7946-0958 ").unwrap().as_str(), "+44 (20) 7946-0958");
        assert_eq!(Phone::new("+44 (20) 7946-0958").unwrap().dial(), "+442079460958");
        assert_eq!(Phone::new("555 0123").unwrap().as_str(), "555 0123");
        for bad in ["", "  ", "12345", "555-0123x", "0800 CALL ME", "12+345678", "1234567890123456", "555\n0123"] {
            let e = Phone::new(bad).unwrap_err();
            assert_eq!(e.field, "fulfilment.phone", "{bad:?}");
        }
        assert!(Phone::new("").unwrap_err().message.starts_with("enter a phone number"));
        assert!(Phone::new(&format!("1{}", " ".repeat(30))).is_err());
    }

    #[test]
    fn json_is_tagged_by_type() {
        let d = Fulfilment::Delivery(DeliveryAddress::new("1 Main St", "Springfield", "12345").unwrap());
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["type"], "delivery");
        assert_eq!(json["postcode"], "12345");
        assert_eq!(serde_json::from_value::<Fulfilment>(json).unwrap(), d);
        assert_eq!(serde_json::to_string(&Fulfilment::Pickup).unwrap(), r#"{"type":"pickup"}"#);
    }
}
