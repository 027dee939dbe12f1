//! The product form: what staff type (prices as `12.50`, sale times in the shop's zone, option groups
//! with one choice per line) read into a domain `Product`, with a sentence for each field
//! that is wrong. Plain HTML forms, so editing works without JavaScript.

use super::form_values::{amount_text, parse_amount, parse_limit, parse_time};
use crate::shop_time::ShopZone;
use stampede_domain::is_slug;
use stampede_domain::{
    Currency, MAX_STOCK_SHARDS, Money, OptionChoice, OptionGroup, Product, SaleRules, WaitingRoomRules,
};
use std::collections::BTreeMap;

/// Messages by field name (the form's `name` attributes).
pub type FieldErrors = BTreeMap<String, String>;

/// Most option groups one product form handles.
pub const MAX_GROUPS: usize = 12;

/// Blank option-group slots the form offers for adding groups.
const SPARE_GROUPS: usize = 1;

/// One option group as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupForm {
    pub id: String,
    pub name: String,
    pub min: String,
    pub max: String,
    pub default: String,
    /// One choice per line: `id | Name | +1.50`.
    pub choices: String,
    pub remove: bool,
}

/// The whole form as typed, kept so a refused form comes back as it was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductForm {
    pub id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub price: String,
    pub currency: String,
    pub image: String,
    /// Initial stock (new products only; later changes go through stock adjustments).
    pub stock: String,
    /// Stock counters on DynamoDB (new products only: the counters are laid out at creation).
    pub stock_shards: String,
    pub sale_starts: String,
    pub sale_ends: String,
    pub per_customer_max: String,
    pub per_order_max: String,
    /// The waiting room: on or off, and its settings as typed.
    pub waiting_room: bool,
    pub admission_minutes: String,
    pub pre_queue_minutes: String,
    pub admissions_per_minute: String,
    pub groups: Vec<GroupForm>,
}

impl ProductForm {
    /// An empty form for a new product.
    pub fn blank() -> ProductForm {
        ProductForm {
            currency: "USD".into(),
            category: "pizza".into(),
            stock: "0".into(),
            stock_shards: "1".into(),
            admission_minutes: WaitingRoomRules::default().admission_minutes.to_string(),
            pre_queue_minutes: "0".into(),
            groups: vec![GroupForm::default(); SPARE_GROUPS],
            ..ProductForm::default()
        }
    }

    /// The form filled from a stored product, its sale window in `zone`.
    pub fn from_product(p: &Product, zone: &ShopZone) -> ProductForm {
        let mut groups: Vec<GroupForm> = p
            .option_groups
            .iter()
            .map(|g| GroupForm {
                id: g.id.clone(),
                name: g.name.clone(),
                min: g.min_choices.to_string(),
                max: g.max_choices.to_string(),
                default: g.default_choice.clone().unwrap_or_default(),
                choices: g
                    .choices
                    .iter()
                    .map(|c| format!("{} | {} | {}", c.id, c.name, amount_text(c.price_delta, true)))
                    .collect::<Vec<_>>()
                    .join("\n"),
                remove: false,
            })
            .collect();
        groups.extend(std::iter::repeat_n(GroupForm::default(), SPARE_GROUPS));
        let room = p.sale.waiting_room.as_ref();
        let rules = room.cloned().unwrap_or_default();
        ProductForm {
            id: p.id.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            category: p.category.clone(),
            price: amount_text(p.base_price.amount, false),
            currency: p.base_price.currency.as_str().to_owned(),
            image: p.image.clone().unwrap_or_default(),
            stock: String::new(),
            stock_shards: p.stock_shards.to_string(),
            sale_starts: p.sale.starts_at.map(|t| zone.input_text(t)).unwrap_or_default(),
            sale_ends: p.sale.ends_at.map(|t| zone.input_text(t)).unwrap_or_default(),
            per_customer_max: p.sale.per_customer_max.map(|n| n.to_string()).unwrap_or_default(),
            per_order_max: p.sale.per_order_max.map(|n| n.to_string()).unwrap_or_default(),
            waiting_room: room.is_some(),
            admission_minutes: rules.admission_minutes.to_string(),
            pre_queue_minutes: rules.pre_queue_minutes.to_string(),
            admissions_per_minute: rules.admissions_per_minute.map(|n| n.to_string()).unwrap_or_default(),
            groups,
        }
    }

    /// The form from posted fields (`g0.name`, `g0.choices`, ... for groups).
    pub fn from_fields(fields: &[(String, String)]) -> ProductForm {
        let get =
            |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
        let mut groups = Vec::new();
        for i in 0..MAX_GROUPS {
            let key = |f: &str| format!("g{i}.{f}");
            if !fields.iter().any(|(k, _)| k.starts_with(&format!("g{i}."))) {
                break;
            }
            groups.push(GroupForm {
                id: get(&key("id")),
                name: get(&key("name")),
                min: get(&key("min")),
                max: get(&key("max")),
                default: get(&key("default")),
                choices: get(&key("choices")),
                remove: fields.iter().any(|(k, _)| *k == key("remove")),
            });
        }
        ProductForm {
            id: get("id"),
            name: get("name"),
            description: get("description"),
            category: get("category"),
            price: get("price"),
            currency: get("currency").to_uppercase(),
            image: get("image"),
            stock: get("stock"),
            sale_starts: get("sale_starts"),
            sale_ends: get("sale_ends"),
            per_customer_max: get("per_customer_max"),
            per_order_max: get("per_order_max"),
            stock_shards: get("stock_shards"),
            waiting_room: fields.iter().any(|(k, _)| k == "waiting_room"),
            admission_minutes: get("admission_minutes"),
            pre_queue_minutes: get("pre_queue_minutes"),
            admissions_per_minute: get("admissions_per_minute"),
            groups,
        }
    }

    /// Adds blank group slots so the form always offers one more.
    pub fn with_spare_group(mut self) -> ProductForm {
        if self.groups.iter().all(|g| !g.is_blank()) {
            self.groups.push(GroupForm::default());
        }
        self
    }

    /// The product the form describes, its sale window read in `zone`, or what to fix.
    /// `archived` carries over unchanged.
    pub fn to_product(&self, archived: bool, zone: &ShopZone) -> Result<Product, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut error = |field: &str, message: String| {
            errors.entry(field.to_owned()).or_insert(message);
        };
        if self.name.is_empty() {
            error("name", "Enter a name customers will see.".into());
        }
        if self.category.is_empty() || !is_slug(&self.category) {
            error("category", "Use lower-case letters, digits and '-', e.g. pizza or flash-sale.".into());
        }
        let currency = Currency::parse(&self.currency);
        if currency.is_none() {
            error("currency", "Use a three-letter code such as USD.".into());
        }
        let price = parse_amount(&self.price, false).map_err(|e| error("price", e)).ok();
        let starts_at = parse_time(&self.sale_starts, zone).map_err(|e| error("sale_starts", e)).ok().flatten();
        let ends_at = parse_time(&self.sale_ends, zone).map_err(|e| error("sale_ends", e)).ok().flatten();
        if let (Some(s), Some(e)) = (starts_at, ends_at)
            && e <= s
        {
            error("sale_ends", "The sale must end after it starts.".into());
        }
        let per_customer_max =
            parse_limit(&self.per_customer_max).map_err(|e| error("per_customer_max", e)).ok().flatten();
        let per_order_max = parse_limit(&self.per_order_max).map_err(|e| error("per_order_max", e)).ok().flatten();
        let stock_shards = match self.stock_shards.as_str() {
            "" => 1,
            text => text.parse::<u32>().ok().filter(|n| (1..=MAX_STOCK_SHARDS).contains(n)).unwrap_or_else(|| {
                error("stock_shards", format!("Enter a whole number from 1 to {MAX_STOCK_SHARDS}."));
                1
            }),
        };
        let mut minutes = |field: &str, text: &str, default: u32, most: u32| match text {
            "" => default,
            text => text.parse::<u32>().ok().filter(|n| (default.min(1)..=most).contains(n)).unwrap_or_else(|| {
                error(field, format!("Enter a whole number from {} to {most}.", default.min(1)));
                default
            }),
        };
        let admission_minutes = minutes("admission_minutes", &self.admission_minutes, 5, 60);
        let pre_queue_minutes = minutes("pre_queue_minutes", &self.pre_queue_minutes, 0, 10_080);
        let admissions_per_minute =
            parse_limit(&self.admissions_per_minute).map_err(|e| error("admissions_per_minute", e)).ok().flatten();
        let waiting_room = self.waiting_room.then_some(WaitingRoomRules {
            admission_minutes,
            pre_queue_minutes,
            admissions_per_minute,
        });
        let mut option_groups = Vec::new();
        for (i, g) in self.groups.iter().enumerate() {
            if g.remove || g.is_blank() {
                continue;
            }
            match g.to_group(i, &option_groups) {
                Ok(group) => option_groups.push(group),
                Err((field, message)) => error(&field, message),
            }
        }
        let (Some(price), Some(currency)) = (price, currency) else { return Err(errors) };
        if !errors.is_empty() {
            return Err(errors);
        }
        let product = Product {
            id: self.id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            category: self.category.clone(),
            base_price: Money::new(price, currency),
            option_groups,
            sale: SaleRules { starts_at, ends_at, per_customer_max, per_order_max, waiting_room },
            image: Some(self.image.clone()).filter(|i| !i.is_empty()),
            archived,
            stock_shards,
        };
        // The domain's own checks catch anything the fields above could not see alone.
        product.validate().map_err(|e| FieldErrors::from([(domain_field(&e.field), sentence(&e.message))]))?;
        Ok(product)
    }

    /// The initial stock, or what is wrong with it.
    pub fn initial_stock(&self) -> Result<u32, String> {
        self.stock.parse::<u32>().map_err(|_| "Enter a whole number of units, 0 or more.".to_owned())
    }
}

impl GroupForm {
    /// Rows the choices box needs to show every choice without scrolling.
    pub fn rows(&self) -> usize {
        (self.choices.lines().count() + 1).max(3)
    }

    fn is_blank(&self) -> bool {
        self.id.is_empty() && self.name.is_empty() && self.choices.is_empty()
    }

    fn to_group(&self, i: usize, earlier: &[OptionGroup]) -> Result<OptionGroup, (String, String)> {
        let field = |f: &str| format!("g{i}.{f}");
        if !is_slug(&self.id) || earlier.iter().any(|g| g.id == self.id) {
            return Err((field("id"), "Give each group its own id: lower-case letters, digits and '-'.".into()));
        }
        if self.name.is_empty() {
            return Err((field("name"), "Enter the name customers see, e.g. Size.".into()));
        }
        let count = |s: &str, default: u32| if s.is_empty() { Ok(default) } else { s.parse::<u32>() };
        let min = count(&self.min, 0).map_err(|_| (field("min"), "Enter a whole number, 0 or more.".into()))?;
        let max = count(&self.max, 1).map_err(|_| (field("max"), "Enter a whole number, 1 or more.".into()))?;
        let mut choices: Vec<OptionChoice> = Vec::new();
        for (n, line) in self.choices.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate() {
            let parts: Vec<&str> = line.split('|').map(str::trim).collect();
            let bad = |why: &str| (field("choices"), format!("Line {}: {why}", n + 1));
            let (id, name, delta) = match parts.as_slice() {
                [id, name] => (*id, *name, "0"),
                [id, name, delta] => (*id, *name, *delta),
                _ => return Err(bad("write it as id | Name | +1.50.")),
            };
            if !is_slug(id) || choices.iter().any(|c| c.id == id) {
                return Err(bad("give each choice its own id: lower-case letters, digits and '-'."));
            }
            if name.is_empty() {
                return Err(bad("the choice needs a name."));
            }
            let price_delta = parse_amount(delta, true).map_err(|e| bad(&e))?;
            choices.push(OptionChoice { id: id.to_owned(), name: name.to_owned(), price_delta });
        }
        if choices.is_empty() {
            return Err((field("choices"), "Add at least one choice, one per line.".into()));
        }
        if min > max || max == 0 || max as usize > choices.len() {
            return Err((
                field("max"),
                format!("Choose between min and max, with max from 1 to the number of choices ({}).", choices.len()),
            ));
        }
        let default_choice = Some(self.default.clone()).filter(|d| !d.is_empty());
        if default_choice.as_deref().is_some_and(|d| !choices.iter().any(|c| c.id == d)) {
            return Err((field("default"), "The default must be the id of one of the choices.".into()));
        }
        Ok(OptionGroup {
            id: self.id.clone(),
            name: self.name.clone(),
            min_choices: min,
            max_choices: max,
            default_choice,
            choices,
        })
    }
}

/// Maps the domain's field names (`sale.endsAt`, `optionGroups[0].id`) to the form's.
fn domain_field(field: &str) -> String {
    match field {
        "sale.endsAt" => "sale_ends".into(),
        "stockShards" => "stock_shards".into(),
        "sale.waitingRoom.admissionMinutes" => "admission_minutes".into(),
        "sale.waitingRoom.preQueueMinutes" => "pre_queue_minutes".into(),
        "sale.waitingRoom.admissionsPerMinute" => "admissions_per_minute".into(),
        "price" | "id" | "name" => field.into(),
        f => match f.strip_prefix("optionGroups[").and_then(|r| r.split_once("].")) {
            Some((i, rest)) => format!("g{i}.{}", if rest.starts_with("choices") { "choices" } else { "max" }),
            None => "name".into(),
        },
    }
}

fn sentence(message: &str) -> String {
    let mut s = message.to_owned();
    if let Some(first) = s.get(..1) {
        s.replace_range(..1, &first.to_uppercase());
    }
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_full_form_becomes_a_product_and_back() {
        let form = ProductForm::from_fields(&fields(&[
            ("id", "calzone"),
            ("name", "Calzone"),
            ("category", "pizza"),
            ("price", "11.00"),
            ("currency", "usd"),
            ("sale_starts", "2026-11-27T09:00"),
            ("sale_ends", "2026-11-27T10:00"),
            ("per_customer_max", "2"),
            ("g0.id", "size"),
            ("g0.name", "Size"),
            ("g0.min", "1"),
            ("g0.max", "1"),
            ("g0.default", "regular"),
            ("g0.choices", "regular | Regular\nlarge | Large | +3.00"),
            ("g1.id", ""),
            ("g1.name", ""),
            ("g1.choices", ""),
        ]));
        let utc = ShopZone::default();
        let product = form.to_product(false, &utc).unwrap();
        assert_eq!(product.base_price, Money::new(1100, Currency::USD));
        assert_eq!(product.sale.per_customer_max, Some(2));
        assert_eq!(product.option_groups.len(), 1, "the blank slot is ignored");
        assert_eq!(product.option_groups[0].choices[1].price_delta, 300);
        let again = ProductForm::from_product(&product, &utc);
        assert_eq!(again.to_product(false, &utc).unwrap(), product);
        assert_eq!(again.groups.len(), 2, "one spare slot");
    }

    #[test]
    fn each_bad_field_gets_its_own_message() {
        let form = ProductForm::from_fields(&fields(&[
            ("id", "x"),
            ("name", ""),
            ("category", "Pizza!"),
            ("price", "cheap"),
            ("currency", "dollars"),
            ("sale_starts", "2026-11-27T10:00"),
            ("sale_ends", "2026-11-27T09:00"),
            ("per_order_max", "0"),
            ("g0.id", "size"),
            ("g0.name", "Size"),
            ("g0.max", "3"),
            ("g0.choices", "small | Small\nlarge | Large | 3 euros"),
        ]));
        let errors = form.to_product(false, &ShopZone::default()).unwrap_err();
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            ["category", "currency", "g0.choices", "name", "per_order_max", "price", "sale_ends"],
            "{errors:?}"
        );
        assert!(errors["g0.choices"].starts_with("Line 2:"), "{errors:?}");
    }

    #[test]
    fn removed_groups_are_dropped() {
        let form = ProductForm::from_fields(&fields(&[
            ("id", "x"),
            ("name", "X"),
            ("category", "pizza"),
            ("price", "1"),
            ("currency", "USD"),
            ("g0.id", "size"),
            ("g0.name", "Size"),
            ("g0.choices", "s | S"),
            ("g0.remove", "on"),
        ]));
        assert!(form.to_product(true, &ShopZone::default()).unwrap().option_groups.is_empty());
    }

    #[test]
    fn sale_windows_are_typed_in_the_shop_zone_and_a_skipped_time_is_refused_at_its_field() {
        let berlin = ShopZone::named("Europe/Berlin").unwrap();
        let base = [("id", "x"), ("name", "X"), ("category", "pizza"), ("price", "1"), ("currency", "USD")];
        let form = |starts: &'static str| {
            let mut f = base.to_vec();
            f.push(("sale_starts", starts));
            ProductForm::from_fields(&fields(&f))
        };
        let product = form("2026-11-27T09:00").to_product(false, &berlin).unwrap();
        assert_eq!(crate::timefmt::rfc3339(product.sale.starts_at.unwrap()), "2026-11-27T08:00:00Z");
        assert_eq!(ProductForm::from_product(&product, &berlin).sale_starts, "2026-11-27T09:00");
        let errors = form("2026-03-29T02:30").to_product(false, &berlin).unwrap_err();
        assert!(errors["sale_starts"].contains("does not exist in Europe/Berlin"), "{errors:?}");
    }
}
