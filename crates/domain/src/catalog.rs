//! The catalog: products, their option groups, and flash-sale rules.

use crate::{Millis, Money};
use serde::{Deserialize, Serialize};

/// Something the shop sells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Stable, URL-safe id such as `margherita`.
    pub id: String,
    pub name: String,
    pub description: String,
    /// Menu section, e.g. `pizza`, `drinks`, `flash-sale`.
    pub category: String,
    /// Price of the product with every option at its default.
    pub base_price: Money,
    pub option_groups: Vec<OptionGroup>,
    pub sale: SaleRules,
    /// Picture or illustration shown on the menu (a path or URL).
    pub image: Option<String>,
    /// Archived products stay on old orders but cannot be bought.
    pub archived: bool,
    /// Counters the stock is split over, so a hot product's sale is not limited by what one
    /// counter can take (DynamoDB: about 500 transactional orders/s per item; PostgreSQL: one
    /// row lock that every instance's orders queue on). 1 for most products;
    /// engines with one writer (SQLite) keep it but need no split.
    #[serde(default = "one_shard")]
    pub stock_shards: u32,
}

/// Most counters one product's stock may be split over. Each takes about 500 orders/s on
/// DynamoDB (a transactional write costs 2 of an item's 1,000 write units/s), so 16 allow
/// ~8,000/s; one order may touch several counters, and a transaction holds 100 writes. The
/// DynamoDB store handles up to 64; the admin API's schema (`maximum`) must follow a raise.
pub const MAX_STOCK_SHARDS: u32 = 64;

fn one_shard() -> u32 {
    1
}

impl Product {
    /// A product with only what every product needs: no description, options, image or
    /// sale rules, on the menu, with one stock counter. Set the rest with `..Product::new(..)`.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        category: impl Into<String>,
        base_price: Money,
    ) -> Product {
        Product {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            category: category.into(),
            base_price,
            option_groups: Vec::new(),
            sale: SaleRules::default(),
            image: None,
            archived: false,
            stock_shards: 1,
        }
    }

    /// The option group with this id.
    pub fn group(&self, id: &str) -> Option<&OptionGroup> {
        self.option_groups.iter().find(|g| g.id == id)
    }
}

/// A choice the customer makes for a product, e.g. size or toppings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionGroup {
    pub id: String,
    pub name: String,
    /// Fewest choices allowed; 1 makes the group required.
    pub min_choices: u32,
    /// Most choices allowed; 1 makes it a single choice.
    pub max_choices: u32,
    /// Applied when a required group is left out.
    pub default_choice: Option<String>,
    pub choices: Vec<OptionChoice>,
}

impl OptionGroup {
    /// A required single choice out of `choices`: `default` when the customer leaves it out.
    pub fn one_of(id: &str, name: &str, default: &str, choices: Vec<OptionChoice>) -> OptionGroup {
        let default_choice = Some(default.into());
        OptionGroup { id: id.into(), name: name.into(), min_choices: 1, max_choices: 1, default_choice, choices }
    }

    /// Up to `max` extras out of `choices`, none required.
    pub fn up_to(id: &str, name: &str, max: u32, choices: Vec<OptionChoice>) -> OptionGroup {
        OptionGroup {
            id: id.into(),
            name: name.into(),
            min_choices: 0,
            max_choices: max,
            default_choice: None,
            choices,
        }
    }

    /// The choice with this id.
    pub fn choice(&self, id: &str) -> Option<&OptionChoice> {
        self.choices.iter().find(|c| c.id == id)
    }
}

/// One selectable value in an option group, with what it adds to the unit price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionChoice {
    pub id: String,
    pub name: String,
    /// Minor units added to (or, if negative, taken off) the unit price.
    pub price_delta: i64,
}

/// Flash-sale rules: when the product can be bought and how much of it one customer may have.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleRules {
    pub starts_at: Option<Millis>,
    pub ends_at: Option<Millis>,
    /// Most units one customer may buy across all their orders.
    pub per_customer_max: Option<u32>,
    /// Most units in a single order.
    pub per_order_max: Option<u32>,
    /// A waiting room in front of the sale: ordering needs an admission (`None`: off).
    #[serde(default)]
    pub waiting_room: Option<crate::WaitingRoomRules>,
}

impl SaleRules {
    /// The next moment after `now` at which the sale opens or closes, so pages can change
    /// state (or reload) right then.
    pub fn next_change(&self, now: Millis) -> Option<Millis> {
        [self.starts_at, self.ends_at].into_iter().flatten().filter(|t| *t > now).min()
    }
}

/// Whether `s` is a catalog id (of a product, category, option group or choice): 1 to 64
/// lower-case ASCII letters, digits or '-'. Safe in URLs, cookies and store keys as it is.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Product {
    /// Checks that a product definition is coherent before it is stored.
    pub fn validate(&self) -> Result<(), crate::ValidationError> {
        use crate::ValidationError as E;
        if !is_slug(&self.id) {
            return Err(E::new("id", "must be 1 to 64 lower-case letters, digits or '-'"));
        }
        if self.name.trim().is_empty() {
            return Err(E::new("name", "must not be empty"));
        }
        if !(1..=MAX_STOCK_SHARDS).contains(&self.stock_shards) {
            return Err(E::new("stockShards", format!("must be 1 to {MAX_STOCK_SHARDS}")));
        }
        if self.base_price.amount < 0 {
            return Err(E::new("price", "must not be negative"));
        }
        if let (Some(s), Some(e)) = (self.sale.starts_at, self.sale.ends_at)
            && e <= s
        {
            return Err(E::new("sale.endsAt", "must be after the sale starts"));
        }
        if let Some(room) = &self.sale.waiting_room {
            room.validate()?;
        }
        for (i, g) in self.option_groups.iter().enumerate() {
            let field = |f: &str| format!("optionGroups[{i}].{f}");
            if !is_slug(&g.id) || self.option_groups[..i].iter().any(|o| o.id == g.id) {
                return Err(E::new(field("id"), "must be a unique slug"));
            }
            if g.min_choices > g.max_choices || g.max_choices == 0 || g.max_choices as usize > g.choices.len() {
                return Err(E::new(field("maxChoices"), "need min <= max, max >= 1 and at least max choices"));
            }
            if g.default_choice.as_deref().is_some_and(|d| g.choice(d).is_none()) {
                return Err(E::new(field("defaultChoice"), "must be one of the group's choices"));
            }
            for (j, c) in g.choices.iter().enumerate() {
                if !is_slug(&c.id) || g.choices[..j].iter().any(|o| o.id == c.id) {
                    return Err(E::new(field(&format!("choices[{j}].id")), "must be a unique slug"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    #[test]
    fn the_next_change_is_the_nearest_future_edge_of_the_window() {
        let sale = SaleRules { starts_at: Some(100), ends_at: Some(200), ..Default::default() };
        assert_eq!(sale.next_change(0), Some(100));
        assert_eq!(sale.next_change(100), Some(200), "opening now: the close is next");
        assert_eq!(sale.next_change(200), None);
        assert_eq!(SaleRules::default().next_change(0), None);
    }

    fn product(stock_shards: u32) -> Product {
        Product {
            id: "hot".into(),
            name: "Hot".into(),
            description: String::new(),
            category: "flash-sale".into(),
            base_price: Money::new(100, Currency::USD),
            option_groups: vec![],
            sale: SaleRules::default(),
            image: None,
            archived: false,
            stock_shards,
        }
    }

    #[test]
    fn stock_shards_must_be_between_one_and_the_maximum() {
        assert!(product(1).validate().is_ok());
        assert!(product(MAX_STOCK_SHARDS).validate().is_ok());
        for bad in [0, MAX_STOCK_SHARDS + 1] {
            assert_eq!(product(bad).validate().unwrap_err().field, "stockShards");
        }
    }

    #[test]
    fn definitions_stored_before_shards_existed_read_as_one_shard() {
        let mut old = serde_json::to_value(product(4)).unwrap();
        old.as_object_mut().unwrap().remove("stock_shards");
        assert_eq!(serde_json::from_value::<Product>(old).unwrap().stock_shards, 1);
    }
}
