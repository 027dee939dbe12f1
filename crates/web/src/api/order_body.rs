//! The body of `POST /api/orders`, in its full and its flash-sale shorthand forms, and how it
//! becomes a domain `OrderRequest`.

use super::dto::FulfilmentDto;
use crate::Problem;
use serde::{Deserialize, Deserializer};
use stampede_domain::{Customer, LineRequest, OptionSelection, OrderRequest, ValidationError};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Body of `POST /api/orders`. Give `customer` + `items`, or the shorthand `userId` +
/// `productId` + `quantity` for a one-item order. Prices are computed by the server.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaceOrderBody {
    pub customer: Option<CustomerBody>,
    /// 1 to 50 lines. Give either `items` or the shorthand `productId`.
    #[schema(min_items = 1, max_items = 50)]
    pub items: Option<Vec<ItemBody>>,
    /// Shorthand: who is buying: an id of 1 to 64 letters, digits, '-', '_' or '.' (not first),
    /// or an email address.
    #[schema(
        example = "user-42",
        pattern = "^([A-Za-z0-9_-][A-Za-z0-9._-]{0,63}|[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+)$",
        max_length = 254
    )]
    pub user_id: Option<String>,
    /// Shorthand: the one product bought.
    pub product_id: Option<String>,
    /// Shorthand: how many, 1 to 100 (default 1 when left out; `null` is refused).
    #[serde(default, deserialize_with = "not_null")]
    #[schema(minimum = 1, maximum = 100, nullable = false)]
    pub quantity: Option<i64>,
    /// Shorthand: options of the one product.
    #[schema(value_type = Option<Object>)]
    pub options: Option<BTreeMap<String, OptionSelection>>,
    /// Pickup or delivery (optional: older clients leave it out).
    pub fulfilment: Option<FulfilmentDto>,
    /// An admitted ticket from the product's waiting room (or send the `Queue-Ticket`
    /// header): needed for products with a waiting room.
    #[schema(max_length = 2048)]
    pub queue_ticket: Option<String>,
}

/// The customer placing an order.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CustomerBody {
    #[schema(example = "ana@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// Up to 100 characters of plain text: no control characters or bidi overrides.
    #[schema(max_length = 100, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$")]
    pub name: Option<String>,
}

/// One requested line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemBody {
    #[schema(example = "margherita")]
    pub product_id: String,
    /// 1 to 100.
    #[schema(example = 2, minimum = 1, maximum = 100)]
    pub quantity: i64,
    /// Option group id to a choice id, or a list of choice ids for multi-choice groups,
    /// e.g. `{"size": "large", "toppings": ["olives", "basil"]}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub options: BTreeMap<String, OptionSelection>,
}

/// A field that may be left out but not sent as `null`: `"quantity": null` is a client's
/// mistake (JavaScript's `NaN` serialises to it), not a request for the default.
fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(value: D) -> Result<Option<T>, D::Error> {
    T::deserialize(value).map(Some)
}

impl PlaceOrderBody {
    /// Turns the body into a validated domain request.
    pub fn into_request(self) -> Result<OrderRequest, Problem> {
        self.validate().map_err(|e| Problem::invalid_field(&e.field, &e.message))
    }

    fn validate(self) -> Result<OrderRequest, ValidationError> {
        let customer = customer(self.customer.as_ref(), self.user_id.as_deref())?;
        let lines = match (self.items, self.product_id) {
            (Some(_), Some(_)) => {
                return Err(ValidationError::new(
                    "items",
                    "give either `items` or the shorthand `productId`, not both",
                ));
            }
            (Some(items), None) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    LineRequest::new(&item.product_id, item.quantity, item.options)
                        .map_err(|e| e.within(&format!("items[{i}]")))
                })
                .collect::<Result<Vec<_>, _>>()?,
            (None, Some(product_id)) => {
                vec![LineRequest::new(&product_id, self.quantity.unwrap_or(1), self.options.unwrap_or_default())?]
            }
            (None, None) => {
                return Err(ValidationError::new("items", "an order needs `items` (or the shorthand `productId`)"));
            }
        };
        let handover = self.fulfilment.map(FulfilmentDto::into_domain).transpose()?;
        let request = OrderRequest::new(customer, lines)?;
        match handover {
            None => Ok(request),
            Some(h) => request.with_fulfilment(Some(h.fulfilment)).with_contact(h.phone, h.slot),
        }
    }
}

/// The customer of an order or a join: `customer` with an email, or the shorthand `userId`.
pub(crate) fn customer(customer: Option<&CustomerBody>, user_id: Option<&str>) -> Result<Customer, ValidationError> {
    match (customer, user_id) {
        (Some(c), _) => Customer::with_email(&c.email, c.name.as_deref()),
        (None, Some(id)) => Customer::with_user_id(id),
        (None, None) => Err(ValidationError::new("customer", "give `customer` with an email, or `userId`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Any JSON value, nested a few levels deep.
    fn json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            ".{0,12}".prop_map(serde_json::Value::from),
            prop::sample::select(vec!["margherita", "user-1", "a@b.co", "size", "large"])
                .prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            let keys = prop::sample::select(vec![
                "customer",
                "items",
                "userId",
                "productId",
                "quantity",
                "options",
                "email",
                "name",
                "fulfilment",
                "type",
                "address",
            ]);
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map(keys.prop_map(str::to_owned), inner, 0..5)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The order parser never panics: every input is either a valid request or a problem naming a field.
        #[test]
        fn any_json_parses_to_a_request_or_a_clear_problem(value in json()) {
            match serde_json::from_value::<PlaceOrderBody>(value) {
                Err(e) => prop_assert!(!e.to_string().is_empty()),
                Ok(body) => match body.into_request() {
                    Ok(req) => {
                        prop_assert!(!req.lines.is_empty());
                        prop_assert!(req.lines.iter().all(|l| (1..=100).contains(&l.quantity)));
                    }
                    Err(problem) => {
                        prop_assert_eq!(problem.status, 422);
                        prop_assert!(problem.field.is_some());
                    }
                },
            }
        }
    }
}
