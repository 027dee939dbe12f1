//! `GET /admin/analytics`: the sales report for a range, as one server-rendered page with
//! inline SVG charts and a table behind each. A bad query is explained on the page, which
//! then shows the default range; it is never a 500.

use super::chart::{self, Chart, Kind, Point};
use super::format::{self, money, money_tick, thousands};
use super::range::{self, PageQuery, Selection};
use crate::AppState;
use crate::auth::visitor::Visitor;
use crate::dashboard::AdminShell;
use askama::Template;
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use stampede_domain::{Currency, Millis, Money};
use stampede_store::analytics::{FlashSale, Granularity, OptionPopularity, SalesReport};
use stampede_store::clock::now_millis;

/// The orders chart covers at least 0 to 4: one order per tick.
const TICKS_OF_ORDERS: i64 = 4;

/// Products in the best-seller table.
const TOP_N: u32 = 10;

/// No scripts at all; styles only from this origin.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

#[derive(Template)]
#[template(path = "admin/analytics.html")]
struct AnalyticsPage {
    shell: AdminShell,
    css: String,
    /// Why the query was not used, shown above the report.
    error: Option<String>,
    /// Why there is no report at all.
    notice: Option<String>,
    preset: &'static str,
    from_date: String,
    to_date: String,
    range_label: String,
    csv_href: String,
    report: Option<ReportView>,
}

/// One currency's totals.
struct TotalView {
    currency: String,
    orders: String,
    revenue: String,
    average: String,
}

/// A chart with its heading.
struct ChartView {
    heading: String,
    svg: String,
}

/// A row of the per-bucket table.
struct BucketRow {
    name: String,
    orders: u64,
    revenue: Vec<String>,
}

struct ProductRow {
    name: String,
    id: String,
    units: String,
    revenue: String,
}

struct ChoiceRow {
    name: String,
    units: String,
    orders: String,
    /// Width of the bar beside it, 0-100, relative to the group's best seller.
    bar: u64,
}

struct GroupView {
    name: String,
    choices: Vec<ChoiceRow>,
}

struct FlashRow {
    name: String,
    sold: String,
    initial: String,
    left: String,
    sell_through: String,
    started: String,
    sold_out: String,
    time_to_sell_out: String,
}

struct ReportView {
    unit: &'static str,
    totals: Vec<TotalView>,
    cancelled: u64,
    charts: Vec<ChartView>,
    currencies: Vec<String>,
    rows: Vec<BucketRow>,
    products: Vec<ProductRow>,
    groups: Vec<GroupView>,
    flash_sales: Vec<FlashRow>,
}

/// The page for the asked range, or for the default one with a message saying why.
pub async fn show(
    State(app): State<AppState>,
    visitor: Option<Extension<Visitor>>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let now = now_millis();
    let user = visitor.and_then(|Extension(v)| v.user);
    let asked = match &query {
        Ok(Query(q)) => range::select(q, now),
        Err(_) => Err("The address has a malformed query string.".to_owned()),
    };
    let (selection, error) = match asked {
        Ok(s) => (s, None),
        Err(message) => (Selection::default_at(now), Some(format!("{message} Showing the last 7 days instead."))),
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let mut page = AnalyticsPage {
        shell: AdminShell::for_page("Sales analytics", user.as_ref(), "analytics").without_scripts(),
        css: super::assets::href(),
        error,
        notice: None,
        preset: selection.preset.key(),
        from_date: selection.first_day(),
        to_date: selection.last_day(),
        range_label: range_label(&selection),
        csv_href: format!(
            "/admin/orders.csv?from={}&to={}",
            crate::timefmt::rfc3339(selection.range.from),
            crate::timefmt::rfc3339(selection.range.to)
        ),
        report: None,
    };
    let Some(analytics) = app.analytics.clone() else {
        page.notice = Some("Sales figures are not available with this store.".into());
        return render(StatusCode::SERVICE_UNAVAILABLE, &page);
    };
    match analytics.sales_report(selection.report(TOP_N)).await {
        Ok(report) => {
            page.report = Some(view(&report, now));
            render(status, &page)
        }
        Err(e) => {
            tracing::error!(error = %e, "sales report failed");
            page.notice = Some("The figures could not be read just now. Please try again in a moment.".into());
            render(StatusCode::INTERNAL_SERVER_ERROR, &page)
        }
    }
}

fn range_label(s: &Selection) -> String {
    match s.granularity {
        Granularity::Hour => format!(
            "{} to {}, by hour (UTC)",
            format::datetime(s.range.from).trim_end_matches(" UTC"),
            format::datetime(s.range.to).trim_end_matches(" UTC")
        ),
        // Whole days: name the first and the last day shown, not the exclusive end.
        Granularity::Day => format!("{} to {}, by day (UTC)", format::day(s.range.from), format::day(s.range.to - 1)),
    }
}

fn view(report: &SalesReport, now: Millis) -> ReportView {
    let unit = match report.granularity {
        Granularity::Hour => "hour",
        Granularity::Day => "day",
    };
    let names: Vec<(String, String)> =
        report.buckets.iter().map(|b| format::bucket(b.start, report.granularity)).collect();
    // With no sales there is no currency to chart revenue in; show the shop's usual one at zero.
    let currencies: Vec<Currency> = match report.totals.as_slice() {
        [] => vec![Currency::USD],
        totals => totals.iter().map(|t| t.currency).collect(),
    };
    ReportView {
        unit,
        totals: report
            .totals
            .iter()
            .map(|t| TotalView {
                currency: t.currency.to_string(),
                orders: thousands(t.orders),
                revenue: money(t.revenue),
                average: money(t.average_order_value),
            })
            .collect(),
        cancelled: report.cancelled_orders,
        charts: charts(report, unit, &names, &currencies),
        currencies: currencies.iter().map(ToString::to_string).collect(),
        rows: bucket_rows(report, &names),
        products: report
            .top_products
            .iter()
            .map(|p| ProductRow {
                name: p.product_name.clone(),
                id: p.product_id.clone(),
                units: thousands(p.units),
                revenue: money(p.revenue),
            })
            .collect(),
        groups: groups(&report.options),
        flash_sales: report.flash_sales.iter().map(|f| flash_row(f, now)).collect(),
    }
}

/// A revenue chart per currency, then the orders chart, over the buckets named `names`.
fn charts(report: &SalesReport, unit: &str, names: &[(String, String)], currencies: &[Currency]) -> Vec<ChartView> {
    let points = |value: &dyn Fn(usize) -> i64| -> Vec<Point> {
        names
            .iter()
            .enumerate()
            .map(|(i, (label, name))| Point { label: label.clone(), name: name.clone(), value: value(i) })
            .collect()
    };
    let mut charts = Vec::new();
    for (c, currency) in currencies.iter().enumerate() {
        let pts = points(&|i| report.buckets[i].revenue.get(c).map_or(0, |m| m.amount));
        let id = format!("revenue-{}", currency.as_str().to_lowercase());
        let heading = format!("Revenue per {unit} ({currency})");
        let currency = *currency;
        let format = move |v| money_tick(Money::new(v, currency));
        // An empty range still reads in whole units of money: $0 to $20.
        let floor = 2_000;
        let chart = Chart { id: &id, title: &heading, kind: Kind::Bars, points: &pts, format: &format, floor };
        let svg = chart::render(&chart);
        charts.push(ChartView { heading, svg });
    }
    let pts = points(&|i| i64::try_from(report.buckets[i].orders).unwrap_or(i64::MAX));
    let heading = format!("Orders per {unit}");
    let svg = chart::render(&Chart {
        id: "orders",
        title: &heading,
        kind: Kind::Line,
        points: &pts,
        format: &|v| v.to_string(),
        floor: TICKS_OF_ORDERS,
    });
    charts.push(ChartView { heading, svg });
    charts
}

/// The table's rows: one per bucket, its revenue in every currency sold in.
fn bucket_rows(report: &SalesReport, names: &[(String, String)]) -> Vec<BucketRow> {
    report
        .buckets
        .iter()
        .zip(names)
        .map(|(b, (_, name))| BucketRow {
            name: name.clone(),
            orders: b.orders,
            revenue: match b.revenue.as_slice() {
                [] => vec![money(Money::new(0, Currency::USD))],
                r => r.iter().map(|m| money(*m)).collect(),
            },
        })
        .collect()
}

/// Option popularity grouped by option group, best sellers first within each.
fn groups(options: &[OptionPopularity]) -> Vec<GroupView> {
    let mut groups: Vec<GroupView> = Vec::new();
    let mut best = 0;
    for (i, o) in options.iter().enumerate() {
        if i == 0 || options[i - 1].group_id != o.group_id {
            groups.push(GroupView { name: o.group_name.clone(), choices: Vec::new() });
            best = o.units.max(1);
        }
        if let Some(g) = groups.last_mut() {
            g.choices.push(ChoiceRow {
                name: o.choice_name.clone(),
                units: thousands(o.units),
                orders: thousands(o.orders),
                bar: o.units * 100 / best,
            });
        }
    }
    groups
}

fn flash_row(f: &FlashSale, now: Millis) -> FlashRow {
    FlashRow {
        name: f.product_name.clone(),
        sold: thousands(f.units_sold),
        initial: thousands(f.initial_stock),
        left: thousands(u64::from(f.stock_left)),
        sell_through: format::percent(f.sell_through_bp),
        started: match f.started_at {
            None => "no orders yet".into(),
            Some(t) if t > now => format!("opens {}", format::datetime(t)),
            Some(t) => format::datetime(t),
        },
        sold_out: f.sold_out_at.map_or_else(|| "—".into(), format::datetime),
        time_to_sell_out: f.time_to_sell_out().map_or_else(|| "not sold out".into(), format::duration),
    }
}

/// Sales figures are for staff only: `no-store` keeps them out of shared caches, and the
/// page has no script, so its policy forbids scripts outright.
fn render(status: StatusCode, page: &AnalyticsPage) -> Response {
    crate::storefront::render_with_csp(status, page, CSP)
}
