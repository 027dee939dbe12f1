//! Evaluates a whole order against the catalog and stock: prices every line and applies
//! every rule. Both the sold-out fast path and the transactional writer call this, so the
//! answer a customer gets never depends on which path their request took.

use crate::{LineCheck, Millis, Money, OrderLine, OrderRejection, OrderRequest, Product, check_line, price_line};
use std::collections::BTreeMap;

/// What the caller knows about one product at evaluation time.
#[derive(Debug, Clone, Copy)]
pub struct ProductState<'a> {
    pub product: &'a Product,
    pub available: u32,
    /// Units this customer already holds (0 where the caller does not track it).
    pub already_bought: u32,
}

/// An order that passed every rule: priced lines and the total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedOrder {
    pub lines: Vec<OrderLine>,
    pub total: Money,
}

/// Prices `request` and checks it against `state`, which must hold every product the
/// request names that exists. Lines are priced first, so a bad option is reported before stock.
pub fn evaluate(
    request: &OrderRequest,
    state: &BTreeMap<&str, ProductState<'_>>,
    now: Millis,
) -> Result<PricedOrder, OrderRejection> {
    let mut lines = Vec::with_capacity(request.lines.len());
    let mut total: Option<Money> = None;
    for (i, line) in request.lines.iter().enumerate() {
        let s = state
            .get(line.product_id.as_str())
            .ok_or_else(|| OrderRejection::UnknownProduct(line.product_id.clone()))?;
        let priced = price_line(s.product, &line.options, line.quantity).map_err(|e| match e {
            OrderRejection::Invalid(v) => OrderRejection::Invalid(v.within(&format!("items[{i}]"))),
            other => other,
        })?;
        total = Some(match total {
            None => priced.line_total,
            Some(t) if t.currency != priced.line_total.currency => return Err(OrderRejection::MixedCurrencies),
            Some(t) => t.checked_add(priced.line_total).ok_or(OrderRejection::TotalOverflow)?,
        });
        lines.push(OrderLine {
            product_id: s.product.id.clone(),
            product_name: s.product.name.clone(),
            quantity: line.quantity,
            options: priced.options,
            unit_price: priced.unit_price,
            line_total: priced.line_total,
        });
    }
    for (product_id, requested) in request.quantities_by_product() {
        let s = &state[product_id];
        check_line(LineCheck {
            product: s.product,
            requested,
            available: s.available,
            already_bought: s.already_bought,
            now,
        })?;
    }
    let total = total.ok_or_else(|| crate::ValidationError::new("items", "an order needs at least one item"))?;
    Ok(PricedOrder { lines, total })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Currency, Customer, LineRequest};

    fn product(id: &str, cents: i64) -> Product {
        Product::new(id, id.to_uppercase(), "drinks", Money::new(cents, Currency::USD))
    }

    fn request(lines: &[(&str, i64)]) -> OrderRequest {
        let lines = lines.iter().map(|(p, q)| LineRequest::new(p, *q, BTreeMap::new()).unwrap()).collect();
        OrderRequest::new(Customer::with_user_id("u").unwrap(), lines).unwrap()
    }

    #[test]
    fn totals_all_lines_and_checks_summed_quantities() {
        let (cola, water) = (product("cola", 250), product("water", 100));
        let mut state = BTreeMap::new();
        state.insert("cola", ProductState { product: &cola, available: 3, already_bought: 0 });
        state.insert("water", ProductState { product: &water, available: 9, already_bought: 0 });
        let ok = evaluate(&request(&[("cola", 2), ("water", 1)]), &state, 0).unwrap();
        assert_eq!(ok.total, Money::new(600, Currency::USD));
        let short = evaluate(&request(&[("cola", 2), ("cola", 2)]), &state, 0).unwrap_err();
        assert_eq!(short, OrderRejection::OutOfStock { product: "cola".into(), requested: 4, available: 3 });
        let unknown = evaluate(&request(&[("beer", 1)]), &state, 0).unwrap_err();
        assert_eq!(unknown, OrderRejection::UnknownProduct("beer".into()));
    }

    #[test]
    fn refuses_mixed_currencies() {
        let cola = product("cola", 250);
        let mut euro = product("euro", 100);
        euro.base_price.currency = Currency::parse("EUR").unwrap();
        let mut state = BTreeMap::new();
        state.insert("cola", ProductState { product: &cola, available: 3, already_bought: 0 });
        state.insert("euro", ProductState { product: &euro, available: 3, already_bought: 0 });
        assert_eq!(evaluate(&request(&[("cola", 1), ("euro", 1)]), &state, 0), Err(OrderRejection::MixedCurrencies));
    }
}
