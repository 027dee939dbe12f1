//! Stock, sale-window and purchase-limit rules, checked for each product of an order.

use crate::{Millis, OrderRejection, Product};

/// Everything needed to decide whether `requested` units of one product may be sold now.
#[derive(Debug, Clone, Copy)]
pub struct LineCheck<'a> {
    pub product: &'a Product,
    /// Units of the product in this order, over all its lines.
    pub requested: u32,
    /// Stock remaining before this order.
    pub available: u32,
    /// Units this customer already holds in earlier, uncancelled orders.
    pub already_bought: u32,
    pub now: Millis,
}

/// Applies the rules in the order a customer would want to hear them: is it sold at all,
/// is the sale open, is the order within limits, is there enough stock.
pub fn check_line(c: LineCheck<'_>) -> Result<(), OrderRejection> {
    let product = || c.product.id.clone();
    let sale = &c.product.sale;
    if c.product.archived {
        return Err(OrderRejection::Archived(product()));
    }
    if let Some(starts_at) = sale.starts_at.filter(|s| c.now < *s) {
        return Err(OrderRejection::SaleNotStarted { product: product(), starts_at });
    }
    if let Some(ended_at) = sale.ends_at.filter(|e| c.now >= *e) {
        return Err(OrderRejection::SaleEnded { product: product(), ended_at });
    }
    if let Some(limit) = sale.per_order_max.filter(|l| c.requested > *l) {
        return Err(OrderRejection::OrderLimit { product: product(), limit, requested: c.requested });
    }
    if let Some(limit) = sale.per_customer_max.filter(|l| c.already_bought.saturating_add(c.requested) > *l) {
        return Err(OrderRejection::CustomerLimit {
            product: product(),
            limit,
            already: c.already_bought,
            requested: c.requested,
        });
    }
    if c.requested > c.available {
        return Err(OrderRejection::OutOfStock { product: product(), requested: c.requested, available: c.available });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Currency, Money, SaleRules};
    use proptest::prelude::*;

    fn product(sale: SaleRules) -> Product {
        Product { sale, ..Product::new("deal", "Deal", "flash-sale", Money::new(500, Currency::USD)) }
    }

    fn check(
        p: &Product,
        requested: u32,
        available: u32,
        already_bought: u32,
        now: Millis,
    ) -> Result<(), OrderRejection> {
        check_line(LineCheck { product: p, requested, available, already_bought, now })
    }

    #[test]
    fn sale_window_is_half_open() {
        let p = product(SaleRules { starts_at: Some(100), ends_at: Some(200), ..Default::default() });
        assert!(matches!(check(&p, 1, 5, 0, 99), Err(OrderRejection::SaleNotStarted { starts_at: 100, .. })));
        assert!(check(&p, 1, 5, 0, 100).is_ok());
        assert!(matches!(check(&p, 1, 5, 0, 200), Err(OrderRejection::SaleEnded { .. })));
    }

    #[test]
    fn limits_count_earlier_orders() {
        let p = product(SaleRules { per_customer_max: Some(2), per_order_max: Some(2), ..Default::default() });
        assert!(check(&p, 2, 5, 0, 0).is_ok());
        assert!(matches!(check(&p, 1, 5, 2, 0), Err(OrderRejection::CustomerLimit { already: 2, .. })));
        assert!(matches!(check(&p, 3, 5, 0, 0), Err(OrderRejection::OrderLimit { .. })));
    }

    #[test]
    fn stock_shortfall_says_how_many_are_left() {
        let p = product(SaleRules::default());
        assert_eq!(check(&p, 3, 2, 0, 0).unwrap_err().to_string(), "only 2 of `deal` left, 3 requested");
        let mut archived = p.clone();
        archived.archived = true;
        assert!(matches!(check(&archived, 1, 2, 0, 0), Err(OrderRejection::Archived(_))));
    }

    proptest! {
        /// Selling through `check_line` can never take stock below zero nor lose a unit.
        #[test]
        fn stock_is_conserved(initial in 0u32..500, requests in prop::collection::vec(1u32..10, 0..200)) {
            let p = product(SaleRules::default());
            let mut available = initial;
            let mut sold = 0u32;
            for r in requests {
                if check(&p, r, available, 0, 0).is_ok() {
                    available -= r;
                    sold += r;
                }
            }
            prop_assert_eq!(sold + available, initial);
        }

        /// However a customer splits their orders, they never end up above the per-customer cap.
        #[test]
        fn customer_cap_holds(limit in 1u32..10, requests in prop::collection::vec(1u32..5, 0..50)) {
            let p = product(SaleRules { per_customer_max: Some(limit), ..Default::default() });
            let mut held = 0u32;
            for r in requests {
                if check(&p, r, u32::MAX, held, 0).is_ok() {
                    held += r;
                }
            }
            prop_assert!(held <= limit);
        }
    }
}
