//! Sales analytics on fixed data: known orders at known times written into the tables
//! (`History`), and the exact figures they must give, on every engine with analytics.

use super::staff::{History, PastLine as Line, PastOrder, Shop};
use stampede_domain::{Currency, Money, OptionChoice, OptionGroup, Product, SaleRules};
use stampede_store::analytics::{
    DAY, ExportCursor, FlashSale, Granularity, HOUR, OptionPopularity, ReportQuery, TimeRange,
};

/// 2026-11-20T00:00:00Z.
const T0: i64 = 1_795_132_800_000;
const MINUTE: i64 = 60_000;

fn usd(amount: i64) -> Money {
    Money::new(amount, Currency::USD)
}

fn eur(amount: i64) -> Money {
    Money::new(amount, Currency::parse("EUR").unwrap())
}

fn product(id: &str, category: &str, cents: i64, groups: Vec<OptionGroup>, sale: SaleRules) -> Product {
    Product { option_groups: groups, sale, ..Product::new(id, id.to_uppercase(), category, usd(cents)) }
}

fn group(id: &str, min: u32, max: u32, choices: &[&str]) -> OptionGroup {
    OptionGroup {
        id: id.into(),
        name: id.to_uppercase(),
        min_choices: min,
        max_choices: max,
        default_choice: None,
        choices: choices
            .iter()
            .map(|c| OptionChoice { id: (*c).into(), name: c.to_uppercase(), price_delta: 0 })
            .collect(),
    }
}

/// The history every check here starts from: a pizza with size and toppings, a drink, and two flash sales, one sold out.
pub fn history() -> History {
    let pizza_groups = vec![group("size", 1, 1, &["small", "large"]), group("toppings", 0, 2, &["olives", "basil"])];
    let truffle_sale = SaleRules { starts_at: Some(T0 + 12 * HOUR), ..SaleRules::default() };
    let products = vec![
        (product("margherita", "pizza", 900, pizza_groups, SaleRules::default()), 100),
        (product("cola", "drinks", 250, vec![], SaleRules::default()), 100),
        (product("truffle", "flash-sale", 5000, vec![], truffle_sale), 5),
        (product("gold-slice", "flash-sale", 2500, vec![], SaleRules::default()), 8),
    ];
    let large_olives_basil: &[_] = &[("size", "large"), ("toppings", "olives"), ("toppings", "basil")];
    let small: &[_] = &[("size", "small")];
    let large_olives: &[_] = &[("size", "large"), ("toppings", "olives")];
    let at = |day: i64, hour: i64, minute: i64| T0 + day * DAY + hour * HOUR + minute * MINUTE;
    let order = |id, at, status, lines| PastOrder { id, at, status, lines };
    let orders = vec![
        order("o0", T0 - 1, "completed", vec![Line("cola", "Cola", 1, 250, "USD", &[])]),
        order(
            "o1",
            at(0, 10, 15),
            "completed",
            vec![
                Line("margherita", "Margherita", 2, 1500, "USD", large_olives_basil),
                Line("cola", "Cola", 1, 250, "USD", &[]),
            ],
        ),
        order(
            "o2",
            at(0, 10, 45),
            "received",
            vec![
                Line("margherita", "Margherita", 1, 900, "USD", small),
                Line("margherita", "Margherita", 1, 1300, "USD", large_olives),
            ],
        ),
        order("o3", at(0, 12, 5), "preparing", vec![Line("truffle", "Truffle", 2, 5000, "USD", &[])]),
        order(
            "o4",
            at(0, 12, 30),
            "cancelled",
            vec![
                Line("margherita", "Margherita", 5, 1300, "USD", large_olives),
                Line("gold-slice", "Gold", 1, 2500, "USD", &[]),
            ],
        ),
        order("o5", at(1, 9, 0), "completed", vec![Line("truffle", "Truffle", 3, 5000, "USD", &[])]),
        order("o6", at(1, 19, 0) - 1, "received", vec![Line("cola", "Cola Zero", 4, 251, "USD", &[])]),
        // Two orders in the same millisecond: the export must page between them without loss.
        order("o8", at(2, 1, 0), "ready", vec![Line("cola", "Cola", 1, 300, "EUR", &[])]),
        order("o9", at(2, 1, 0), "completed", vec![Line("gold-slice", "Gold", 2, 2500, "USD", &[])]),
        order("o7", at(3, 0, 0), "completed", vec![Line("cola", "Cola", 1, 250, "USD", &[])]),
    ];
    History { products, orders, stock_left: vec![("truffle", 0), ("gold-slice", 6)] }
}

pub async fn daily_report_over_three_days_gives_the_exact_figures(shop: Shop) {
    let store = &shop.analytics;
    let range = TimeRange::new(T0, T0 + 3 * DAY).unwrap();
    let report = store.sales_report(ReportQuery { range, granularity: Granularity::Day, top_n: 10 }).await.unwrap();

    let buckets: Vec<_> = report.buckets.iter().map(|b| (b.start, b.orders, b.revenue.clone())).collect();
    assert_eq!(
        buckets,
        [
            (T0, 3, vec![eur(0), usd(15_450)]),
            (T0 + DAY, 2, vec![eur(0), usd(16_004)]),
            (T0 + 2 * DAY, 2, vec![eur(300), usd(5_000)]),
        ]
    );
    let totals: Vec<_> =
        report.totals.iter().map(|t| (t.currency.to_string(), t.orders, t.revenue, t.average_order_value)).collect();
    // 36,454 / 6 = 6,075.67 rounds to 6,076.
    assert_eq!(totals, [("EUR".to_owned(), 1, eur(300), eur(300)), ("USD".to_owned(), 6, usd(36_454), usd(6_076))]);
    assert_eq!(report.cancelled_orders, 1);

    let top: Vec<_> = report
        .top_products
        .iter()
        .map(|p| (p.product_id.as_str(), p.product_name.as_str(), p.units, p.revenue))
        .collect();
    assert_eq!(
        top,
        [
            ("truffle", "Truffle", 5, usd(25_000)),
            // The newest line's name wins.
            ("cola", "Cola Zero", 5, usd(1_254)),
            ("margherita", "Margherita", 4, usd(5_200)),
            ("gold-slice", "Gold", 2, usd(5_000)),
            ("cola", "Cola", 1, eur(300)),
        ]
    );

    let options: Vec<_> = report
        .options
        .iter()
        .map(|o: &OptionPopularity| (o.group_id.as_str(), o.choice_id.as_str(), o.units, o.orders))
        .collect();
    // The cancelled order's five large pizzas with olives count for nothing.
    assert_eq!(
        options,
        [("size", "large", 3, 2), ("size", "small", 1, 1), ("toppings", "olives", 3, 2), ("toppings", "basil", 2, 1)]
    );
    assert_eq!(report.options[0].group_name, "SIZE");
    assert_eq!(report.options[0].choice_name, "LARGE");
}

pub async fn flash_sales_report_sell_through_and_time_to_sell_out(shop: Shop) {
    let store = &shop.analytics;
    // Flash-sale figures cover the whole sale whatever the range.
    let range = TimeRange::new(T0 + 10 * DAY, T0 + 11 * DAY).unwrap();
    let report = store.sales_report(ReportQuery { range, granularity: Granularity::Day, top_n: 10 }).await.unwrap();
    let truffle = FlashSale {
        product_id: "truffle".into(),
        product_name: "TRUFFLE".into(),
        units_sold: 5,
        stock_left: 0,
        initial_stock: 5,
        sell_through_bp: Some(10_000),
        started_at: Some(T0 + 12 * HOUR),
        sold_out_at: Some(T0 + DAY + 9 * HOUR),
    };
    // No window: the sale starts with its first uncancelled order (the cancelled o4 came earlier).
    let gold = FlashSale {
        product_id: "gold-slice".into(),
        product_name: "GOLD-SLICE".into(),
        units_sold: 2,
        stock_left: 6,
        initial_stock: 8,
        sell_through_bp: Some(2_500),
        started_at: Some(T0 + 2 * DAY + HOUR),
        sold_out_at: None,
    };
    assert_eq!(report.flash_sales, [truffle, gold]);
    assert_eq!(report.flash_sales[0].time_to_sell_out(), Some(21 * HOUR));
    assert_eq!(report.flash_sales[1].time_to_sell_out(), None);
}

pub async fn hourly_buckets_include_empty_hours_and_exclude_the_end(shop: Shop) {
    let store = &shop.analytics;
    let range = TimeRange::new(T0 + 10 * HOUR, T0 + 13 * HOUR).unwrap();
    let report = store.sales_report(ReportQuery { range, granularity: Granularity::Hour, top_n: 2 }).await.unwrap();
    let buckets: Vec<_> = report.buckets.iter().map(|b| (b.start, b.orders, b.revenue.clone())).collect();
    assert_eq!(
        buckets,
        [
            (T0 + 10 * HOUR, 2, vec![usd(5_450)]),
            (T0 + 11 * HOUR, 0, vec![usd(0)]),
            (T0 + 12 * HOUR, 1, vec![usd(10_000)])
        ]
    );
    assert_eq!(report.cancelled_orders, 1);
    let top: Vec<_> = report.top_products.iter().map(|p| (p.product_id.as_str(), p.units)).collect();
    assert_eq!(top, [("margherita", 4), ("truffle", 2)], "limited to top_n");

    // The range's end is exclusive and its start inclusive: o6 sits 1 ms before 19:00.
    let range = TimeRange::new(T0 + DAY + 19 * HOUR - 1, T0 + DAY + 19 * HOUR).unwrap();
    let report = store.sales_report(ReportQuery { range, granularity: Granularity::Hour, top_n: 10 }).await.unwrap();
    assert_eq!(report.buckets.len(), 1);
    assert_eq!((report.buckets[0].start, report.buckets[0].orders), (T0 + DAY + 18 * HOUR, 1));
}

pub async fn a_range_without_orders_is_all_zero_buckets(shop: Shop) {
    let store = &shop.analytics;
    let range = TimeRange::new(T0 + 5 * DAY, T0 + 7 * DAY).unwrap();
    let report = store.sales_report(ReportQuery { range, granularity: Granularity::Day, top_n: 10 }).await.unwrap();
    assert_eq!(
        report.buckets.iter().map(|b| (b.start, b.orders)).collect::<Vec<_>>(),
        [(T0 + 5 * DAY, 0), (T0 + 6 * DAY, 0)]
    );
    assert!(report.buckets.iter().all(|b| b.revenue.is_empty()));
    assert!(report.totals.is_empty() && report.top_products.is_empty() && report.options.is_empty());
    assert_eq!(report.cancelled_orders, 0);
}

pub async fn export_pages_through_every_order_in_the_range_once(shop: Shop) {
    let store = &shop.analytics;
    let range = TimeRange::new(T0, T0 + 3 * DAY).unwrap();
    for limit in [1, 3, 7, 100] {
        let mut seen = Vec::new();
        let mut after: Option<ExportCursor> = None;
        loop {
            let page = store.export_orders(range, after.clone(), limit).await.unwrap();
            assert!(page.orders.len() <= limit as usize);
            seen.extend(page.orders.iter().map(|o| o.id.clone()));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        // Cancelled orders are exported too (with their status); o0 and o7 lie outside.
        assert_eq!(seen, ["o1", "o2", "o3", "o4", "o5", "o6", "o8", "o9"], "limit {limit}");
    }
    let first = store.export_orders(range, None, 2).await.unwrap();
    assert_eq!(first.orders[0].lines.len(), 2);
    assert_eq!(first.orders[0].total, usd(3_250));
    assert_eq!(first.orders[0].customer.name.as_deref(), Some("Ana"));
}

pub async fn orders_placed_through_the_store_show_up_and_cancelling_removes_them(shop: Shop) {
    let (store, analytics) = (&shop.store, &shop.analytics);
    let customer = stampede_domain::Customer::with_email("bo@example.com", None).unwrap();
    let line = stampede_domain::LineRequest::new("cola", 2, Default::default()).unwrap();
    let request = stampede_domain::OrderRequest::new(customer, vec![line]).unwrap();
    let placed = store.place_order(stampede_store::PlaceOrder { request, idempotency_key: None }).await.unwrap().order;
    let range = TimeRange::new(placed.created_at - HOUR, placed.created_at + HOUR).unwrap();
    let report =
        analytics.sales_report(ReportQuery { range, granularity: Granularity::Hour, top_n: 10 }).await.unwrap();
    assert_eq!(report.totals[0].revenue, usd(500));
    store.cancel_order(&placed.id).await.unwrap();
    let report =
        analytics.sales_report(ReportQuery { range, granularity: Granularity::Hour, top_n: 10 }).await.unwrap();
    assert!(report.totals.is_empty());
    assert_eq!(report.cancelled_orders, 1);
}
