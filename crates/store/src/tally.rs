//! The sales report's figures counted in memory from whole orders, for an engine without a
//! query language (DynamoDB reads the range's orders and hands them here). Each figure
//! follows the SQL in `sqlite/analytics_rows.rs` and goes through the same shared arithmetic
//! (`analytics::series`, `analytics::flash_sale`), so every engine reports the same numbers.

use crate::analytics::{
    Granularity, OptionPopularity, SalesReport, TimeRange, TopProduct, currency, flash_sale, is_flash_sale, series,
};
use crate::{Order, ProductView, StoreError};
use stampede_domain::{Millis, Money, OrderStatus};
use std::collections::{BTreeMap, BTreeSet};

/// The report over `range` from `orders` (at least every order placed in the range), with
/// flash-sale figures from `views` (the catalog, in menu order) and `lifetime` (at least every
/// order of those products' lives).
pub(crate) fn report(
    orders: &[Order],
    range: TimeRange,
    granularity: Granularity,
    top_n: u32,
    views: Vec<ProductView>,
    lifetime: &[Order],
) -> Result<SalesReport, StoreError> {
    let in_range: Vec<&Order> = orders.iter().filter(|o| (range.from..range.to).contains(&o.created_at)).collect();
    let sold: Vec<&Order> = in_range.iter().copied().filter(|o| o.status != OrderStatus::Cancelled).collect();
    let (buckets, totals) = series(cells(&sold, granularity), range, granularity)?;
    Ok(SalesReport {
        range,
        granularity,
        buckets,
        totals,
        cancelled_orders: (in_range.len() - sold.len()) as u64,
        top_products: top_products(&sold, top_n)?,
        options: options(&sold),
        flash_sales: views
            .into_iter()
            .filter(is_flash_sale)
            .map(|view| {
                let (units, first, last) = product_sales(lifetime, &view.product.id);
                flash_sale(view, units, first, last)
            })
            .collect(),
    })
}

/// Orders and revenue per bucket and currency, as `SERIES_SQL` groups them.
fn cells(sold: &[&Order], granularity: Granularity) -> Vec<(Millis, String, i64, i64)> {
    let mut cells: BTreeMap<(Millis, String), (i64, i64)> = BTreeMap::new();
    for o in sold {
        let cell = cells.entry((granularity.floor(o.created_at), o.total.currency.as_str().to_owned())).or_default();
        cell.0 += 1;
        cell.1 = cell.1.saturating_add(o.total.amount);
    }
    cells.into_iter().map(|((bucket, cur), (n, revenue))| (bucket, cur, n, revenue)).collect()
}

/// Best sellers per product and currency: most units, then most revenue, then by id; the name
/// on the newest line, as `TOP_PRODUCTS_SQL`.
fn top_products(sold: &[&Order], top_n: u32) -> Result<Vec<TopProduct>, StoreError> {
    // (product, currency) -> (units, revenue, (newest order's time, id), its name)
    type Sales<'a> = (i64, i64, (Millis, &'a str), &'a str);
    let mut by_product: BTreeMap<(&str, &str), Sales<'_>> = BTreeMap::new();
    for o in sold {
        for l in &o.lines {
            let key = (l.product_id.as_str(), l.line_total.currency.as_str());
            let entry = by_product.entry(key).or_insert((0, 0, (Millis::MIN, ""), ""));
            entry.0 += i64::from(l.quantity);
            entry.1 = entry.1.saturating_add(l.line_total.amount);
            if (o.created_at, o.id.as_str()) >= entry.2 {
                (entry.2, entry.3) = ((o.created_at, o.id.as_str()), l.product_name.as_str());
            }
        }
    }
    let mut top: Vec<_> = by_product.into_iter().collect();
    top.sort_by(|((id_a, cur_a), a), ((id_b, cur_b), b)| {
        (b.0, b.1).cmp(&(a.0, a.1)).then_with(|| (id_a, cur_a).cmp(&(id_b, cur_b)))
    });
    top.into_iter()
        .take(top_n as usize)
        .map(|((id, cur), (units, revenue, _, name))| {
            Ok(TopProduct {
                product_id: id.to_owned(),
                product_name: name.to_owned(),
                units: crate::analytics::count(units),
                revenue: Money::new(revenue, currency(cur)?),
            })
        })
        .collect()
}

/// How often each option choice sold, by group, then most units, then choice id, as
/// `OPTIONS_SQL` (names: the greatest seen, as its `MAX`).
fn options(sold: &[&Order]) -> Vec<OptionPopularity> {
    // (group name, choice name, units, orders)
    type Choice<'a> = (&'a str, &'a str, u64, BTreeSet<&'a str>);
    let mut by_choice: BTreeMap<(&str, &str), Choice<'_>> = BTreeMap::new();
    for o in sold {
        for l in &o.lines {
            for opt in &l.options {
                let key = (opt.group_id.as_str(), opt.choice_id.as_str());
                let entry = by_choice.entry(key).or_insert(("", "", 0, BTreeSet::new()));
                entry.0 = entry.0.max(opt.group_name.as_str());
                entry.1 = entry.1.max(opt.choice_name.as_str());
                entry.2 += u64::from(l.quantity);
                entry.3.insert(o.id.as_str());
            }
        }
    }
    let mut options: Vec<OptionPopularity> = by_choice
        .into_iter()
        .map(|((group, choice), (group_name, choice_name, units, orders))| OptionPopularity {
            group_id: group.to_owned(),
            group_name: group_name.to_owned(),
            choice_id: choice.to_owned(),
            choice_name: choice_name.to_owned(),
            units,
            orders: orders.len() as u64,
        })
        .collect();
    options.sort_by(|a, b| {
        a.group_id.cmp(&b.group_id).then(b.units.cmp(&a.units)).then_with(|| a.choice_id.cmp(&b.choice_id))
    });
    options
}

/// A product's units on uncancelled orders, and the first and last such order's time, as
/// `FLASH_SALE_SQL`.
fn product_sales(orders: &[Order], id: &str) -> (i64, Option<Millis>, Option<Millis>) {
    let (mut units, mut first, mut last) = (0i64, None::<Millis>, None::<Millis>);
    for o in orders.iter().filter(|o| o.status != OrderStatus::Cancelled) {
        let qty: i64 = o.lines.iter().filter(|l| l.product_id == id).map(|l| i64::from(l.quantity)).sum();
        if o.lines.iter().any(|l| l.product_id == id) {
            units += qty;
            first = Some(first.map_or(o.created_at, |f| f.min(o.created_at)));
            last = Some(last.map_or(o.created_at, |l| l.max(o.created_at)));
        }
    }
    (units, first, last)
}
