//! Orders: the validated request, and the priced lines an accepted order is made of.

use crate::{Customer, Fulfilment, Money, Phone, ValidationError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most lines one order may have.
pub const MAX_LINES: usize = 50;
/// Most units on one line: a sane cap that keeps a typo from buying the warehouse.
pub const MAX_LINE_QUANTITY: u32 = 100;

/// The short order number people see and say (`#B2C3D4E5`): the random tail of the UUIDv7
/// id, upper-cased. Pages, receipts and the kitchen all show this one.
pub fn short_number(id: &str) -> String {
    let hex: String = id.chars().filter(char::is_ascii_hexdigit).collect();
    hex[hex.len().saturating_sub(8)..].to_ascii_uppercase()
}

/// One requested line before pricing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRequest {
    pub product_id: String,
    pub quantity: u32,
    pub options: BTreeMap<String, OptionSelection>,
}

impl LineRequest {
    /// Checks a raw line; `quantity` is signed so negatives get a clear message rather than a type error.
    pub fn new(
        product_id: &str,
        quantity: i64,
        options: BTreeMap<String, OptionSelection>,
    ) -> Result<Self, ValidationError> {
        let product_id = product_id.trim();
        if product_id.is_empty() {
            return Err(ValidationError::new("productId", "must not be empty"));
        }
        if quantity < 1 {
            return Err(ValidationError::new("quantity", format!("must be at least 1, got {quantity}")));
        }
        let quantity = u32::try_from(quantity).ok().filter(|q| *q <= MAX_LINE_QUANTITY).ok_or_else(|| {
            ValidationError::new("quantity", format!("must be at most {MAX_LINE_QUANTITY}, got {quantity}"))
        })?;
        Ok(LineRequest { product_id: product_id.to_owned(), quantity, options })
    }
}

/// A validated order request: who orders what. Prices and stock are checked by the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub customer: Customer,
    pub lines: Vec<LineRequest>,
    /// Pickup or delivery; `None` where the client did not say (the API's older clients).
    /// Left out of the JSON when absent, so idempotency fingerprints of such orders stay as they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfilment: Option<Fulfilment>,
    /// A number the shop can call about the order: required for delivery, optional for pickup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    /// The chosen pickup or delivery time; `None` is as soon as possible. Whether the shop
    /// offers it is checked against its opening hours before placing (see `OpeningHours::check`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<crate::Millis>,
}

impl OrderRequest {
    /// Checks the shape of the whole order.
    pub fn new(customer: Customer, lines: Vec<LineRequest>) -> Result<Self, ValidationError> {
        if lines.is_empty() {
            return Err(ValidationError::new("items", "an order needs at least one item"));
        }
        if lines.len() > MAX_LINES {
            return Err(ValidationError::new(
                "items",
                format!("at most {MAX_LINES} items per order, got {}", lines.len()),
            ));
        }
        Ok(OrderRequest { customer, lines, fulfilment: None, phone: None, slot: None })
    }

    /// Says how the order reaches the customer.
    pub fn with_fulfilment(mut self, fulfilment: Option<Fulfilment>) -> Self {
        self.fulfilment = fulfilment;
        self
    }

    /// Adds the phone number and the time, after [`with_fulfilment`](Self::with_fulfilment):
    /// a delivery needs a number to call.
    pub fn with_contact(mut self, phone: Option<Phone>, slot: Option<crate::Millis>) -> Result<Self, ValidationError> {
        if phone.is_none() && matches!(self.fulfilment, Some(Fulfilment::Delivery(_))) {
            return Err(ValidationError::new("fulfilment.phone", "enter a phone number, so the driver can call you"));
        }
        self.phone = phone;
        self.slot = slot;
        Ok(self)
    }

    /// Units requested per product, summed over lines (the same pizza may appear with different options).
    pub fn quantities_by_product(&self) -> BTreeMap<&str, u32> {
        let mut totals = BTreeMap::new();
        for line in &self.lines {
            *totals.entry(line.product_id.as_str()).or_insert(0u32) += line.quantity;
        }
        totals
    }
}

/// What the customer picked in one option group: one choice id, or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OptionSelection {
    One(String),
    Many(Vec<String>),
}

impl OptionSelection {
    pub(crate) fn ids(&self) -> &[String] {
        match self {
            OptionSelection::One(id) => std::slice::from_ref(id),
            OptionSelection::Many(ids) => ids,
        }
    }
}

/// An option as it was chosen and priced when the order was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectedOption {
    pub group_id: String,
    pub group_name: String,
    pub choice_id: String,
    pub choice_name: String,
    pub price_delta: i64,
}

/// An accepted, priced order line. Names and prices are copied so old orders read as they were sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub product_id: String,
    pub product_name: String,
    pub quantity: u32,
    pub options: Vec<SelectedOption>,
    pub unit_price: Money,
    pub line_total: Money,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_bounded() {
        let opts = BTreeMap::new;
        assert!(LineRequest::new("p", 0, opts()).unwrap_err().message.contains("at least 1"));
        assert!(LineRequest::new("p", -3, opts()).unwrap_err().message.contains("got -3"));
        assert!(LineRequest::new("p", 101, opts()).unwrap_err().message.contains("at most 100"));
        assert!(LineRequest::new("p", i64::MAX, opts()).is_err());
        assert!(LineRequest::new("  ", 1, opts()).is_err());
        assert_eq!(LineRequest::new(" p ", 100, opts()).unwrap().product_id, "p");
    }

    #[test]
    fn orders_need_lines_and_sum_per_product() {
        let c = Customer::with_user_id("u1").unwrap();
        assert!(OrderRequest::new(c.clone(), vec![]).is_err());
        let line = |p: &str, q| LineRequest::new(p, q, BTreeMap::new()).unwrap();
        let order = OrderRequest::new(c, vec![line("a", 2), line("b", 1), line("a", 3)]).unwrap();
        assert_eq!(order.quantities_by_product().into_iter().collect::<Vec<_>>(), [("a", 5), ("b", 1)]);
    }

    #[test]
    fn fulfilment_stays_out_of_the_json_when_absent() {
        let c = Customer::with_user_id("u1").unwrap();
        let order = OrderRequest::new(c, vec![LineRequest::new("a", 1, BTreeMap::new()).unwrap()]).unwrap();
        assert!(!serde_json::to_string(&order).unwrap().contains("fulfilment"));
        let pickup = order.with_fulfilment(Some(Fulfilment::Pickup));
        assert!(serde_json::to_string(&pickup).unwrap().contains(r#""fulfilment":{"type":"pickup"}"#));
        assert!(!serde_json::to_string(&pickup).unwrap().contains("phone"));
    }

    #[test]
    fn delivery_needs_a_phone_and_pickup_does_not() {
        let c = Customer::with_user_id("u1").unwrap();
        let order = OrderRequest::new(c, vec![LineRequest::new("a", 1, BTreeMap::new()).unwrap()]).unwrap();
        let address = crate::DeliveryAddress::new("1 Main St", "Springfield", "12345").unwrap();
        let delivery = order.clone().with_fulfilment(Some(Fulfilment::Delivery(address)));
        assert_eq!(delivery.clone().with_contact(None, None).unwrap_err().field, "fulfilment.phone");
        let phone = Phone::new("555 0123").unwrap();
        let ok = delivery.with_contact(Some(phone.clone()), Some(5)).unwrap();
        assert_eq!((ok.phone, ok.slot), (Some(phone), Some(5)));
        assert!(order.with_fulfilment(Some(Fulfilment::Pickup)).with_contact(None, None).is_ok());
    }
}
