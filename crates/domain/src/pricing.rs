//! Prices an order line on the server from the catalog and the chosen options.
//! The client's idea of the price is never consulted.

use crate::{Money, OptionSelection, OrderRejection, Product, SelectedOption, ValidationError};
use std::collections::BTreeMap;

/// A priced line: the options resolved against the catalog, the unit price and the line total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub options: Vec<SelectedOption>,
    pub unit_price: Money,
    pub line_total: Money,
}

/// Resolves `selections` against `product`'s option groups and prices `quantity` units.
///
/// Options come back in catalog order whatever order the client sent them in, so the same
/// pizza always prices, prints and fingerprints the same way.
pub fn price_line(
    product: &Product,
    selections: &BTreeMap<String, OptionSelection>,
    quantity: u32,
) -> Result<PricedLine, OrderRejection> {
    if let Some(unknown) = selections.keys().find(|k| product.group(k).is_none()) {
        let known: Vec<&str> = product.option_groups.iter().map(|g| g.id.as_str()).collect();
        let hint =
            if known.is_empty() { "it has no options".to_owned() } else { format!("choose from {}", known.join(", ")) };
        return Err(ValidationError::new(
            format!("options.{unknown}"),
            format!("`{}` has no option `{unknown}`; {hint}", product.name),
        )
        .into());
    }

    let mut chosen = Vec::new();
    let mut delta_sum: i64 = 0;
    for group in &product.option_groups {
        let field = format!("options.{}", group.id);
        let mut ids: Vec<&str> =
            selections.get(&group.id).map(|s| s.ids().iter().map(String::as_str).collect()).unwrap_or_default();
        if ids.is_empty()
            && group.min_choices > 0
            && let Some(default) = &group.default_choice
        {
            ids.push(default);
        }
        let count = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        if count < group.min_choices || count > group.max_choices {
            let rule = match (group.min_choices, group.max_choices) {
                (1, 1) => "choose exactly one".to_owned(),
                (0, max) => format!("choose at most {max}"),
                (min, max) if min == max => format!("choose exactly {min}"),
                (min, max) => format!("choose between {min} and {max}"),
            };
            return Err(ValidationError::new(field, format!("{}: {rule}, got {count}", group.name)).into());
        }
        for (i, id) in ids.iter().enumerate() {
            if ids[..i].contains(id) {
                return Err(ValidationError::new(field, format!("`{id}` is chosen twice")).into());
            }
        }
        for choice in group.choices.iter().filter(|c| ids.contains(&c.id.as_str())) {
            delta_sum = delta_sum.checked_add(choice.price_delta).ok_or(OrderRejection::TotalOverflow)?;
            chosen.push(SelectedOption {
                group_id: group.id.clone(),
                group_name: group.name.clone(),
                choice_id: choice.id.clone(),
                choice_name: choice.name.clone(),
                price_delta: choice.price_delta,
            });
        }
        if let Some(unknown) = ids.iter().find(|id| group.choice(id).is_none()) {
            let known: Vec<&str> = group.choices.iter().map(|c| c.id.as_str()).collect();
            return Err(ValidationError::new(
                field,
                format!("`{unknown}` is not a {} option; choose from {}", group.name, known.join(", ")),
            )
            .into());
        }
    }

    let unit_amount = product.base_price.amount.checked_add(delta_sum).ok_or(OrderRejection::TotalOverflow)?;
    if unit_amount < 0 {
        return Err(OrderRejection::TotalOverflow);
    }
    let unit_price = Money::new(unit_amount, product.base_price.currency);
    let line_total = unit_price.checked_mul(quantity).ok_or(OrderRejection::TotalOverflow)?;
    Ok(PricedLine { options: chosen, unit_price, line_total })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Currency, OptionChoice, OptionGroup};
    use proptest::prelude::*;

    pub(crate) fn pizza() -> Product {
        let choice = |id: &str, delta| OptionChoice { id: id.into(), name: id.to_uppercase(), price_delta: delta };
        Product {
            option_groups: vec![
                OptionGroup::one_of(
                    "size",
                    "Size",
                    "medium",
                    vec![choice("small", -200), choice("medium", 0), choice("large", 300)],
                ),
                OptionGroup::up_to(
                    "toppings",
                    "Toppings",
                    3,
                    vec![choice("olives", 100), choice("basil", 50), choice("ham", 150), choice("chili", 25)],
                ),
            ],
            ..Product::new("margherita", "Margherita", "pizza", Money::new(900, Currency::USD))
        }
    }

    fn sel(pairs: &[(&str, OptionSelection)]) -> BTreeMap<String, OptionSelection> {
        pairs.iter().cloned().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    fn many(ids: &[&str]) -> OptionSelection {
        OptionSelection::Many(ids.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn defaults_apply_and_deltas_add_up() {
        let p = pizza();
        let plain = price_line(&p, &BTreeMap::new(), 2).unwrap();
        assert_eq!(plain.unit_price.amount, 900);
        assert_eq!(plain.options[0].choice_id, "medium");
        let loaded = price_line(
            &p,
            &sel(&[("size", OptionSelection::One("large".into())), ("toppings", many(&["ham", "olives"]))]),
            3,
        )
        .unwrap();
        assert_eq!(loaded.unit_price.amount, 900 + 300 + 150 + 100);
        assert_eq!(loaded.line_total.amount, 3 * 1450);
        let ids: Vec<_> = loaded.options.iter().map(|o| o.choice_id.as_str()).collect();
        assert_eq!(ids, ["large", "olives", "ham"], "catalog order, not request order");
    }

    #[test]
    fn bad_selections_say_what_is_wrong() {
        let p = pizza();
        let err = |s| price_line(&p, &s, 1).unwrap_err().to_string();
        assert!(err(sel(&[("sauce", many(&["x"]))])).contains("choose from size, toppings"));
        assert!(
            err(sel(&[("size", OptionSelection::One("huge".into()))])).contains("choose from small, medium, large")
        );
        assert!(err(sel(&[("size", many(&["small", "large"]))])).contains("choose exactly one"));
        assert!(err(sel(&[("toppings", many(&["ham", "basil", "olives", "chili"]))])).contains("at most 3"));
        assert!(err(sel(&[("toppings", many(&["ham", "ham"]))])).contains("chosen twice"));
    }

    #[test]
    fn negative_unit_price_is_refused() {
        let mut p = pizza();
        p.base_price.amount = 100;
        assert_eq!(
            price_line(&p, &sel(&[("size", OptionSelection::One("small".into()))]), 1),
            Err(OrderRejection::TotalOverflow)
        );
    }

    proptest! {
        #[test]
        fn total_is_unit_times_quantity_and_order_independent(
            picks in proptest::sample::subsequence(vec!["olives", "basil", "ham", "chili"], 0..=3),
            qty in 1u32..=100,
            size in prop::sample::select(vec!["small", "medium", "large"]),
        ) {
            let p = pizza();
            let forward = sel(&[("size", OptionSelection::One(size.into())), ("toppings", many(&picks))]);
            let mut reversed_picks = picks.clone();
            reversed_picks.reverse();
            let backward = sel(&[("size", OptionSelection::One(size.into())), ("toppings", many(&reversed_picks))]);
            let a = price_line(&p, &forward, qty).unwrap();
            let b = price_line(&p, &backward, qty).unwrap();
            prop_assert_eq!(&a, &b);
            let expected_unit = 900 + a.options.iter().map(|o| o.price_delta).sum::<i64>();
            prop_assert_eq!(a.unit_price.amount, expected_unit);
            prop_assert_eq!(a.line_total.amount, expected_unit * i64::from(qty));
        }

        #[test]
        fn extreme_prices_never_panic(base in any::<i64>(), delta in any::<i64>(), qty in any::<u32>()) {
            let mut p = pizza();
            p.base_price.amount = base;
            p.option_groups[0].choices[2].price_delta = delta;
            let result = price_line(&p, &sel(&[("size", OptionSelection::One("large".into()))]), qty);
            if let Ok(line) = result {
                prop_assert!(line.unit_price.amount >= 0);
                prop_assert_eq!(i128::from(line.line_total.amount), i128::from(line.unit_price.amount) * i128::from(qty));
            }
        }
    }
}
