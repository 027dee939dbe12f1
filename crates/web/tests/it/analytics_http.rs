//! The analytics routes over HTTP: the real router with `analytics_routes()` merged in (the
//! way the lead mounts them behind the staff guard), on a loopback port, over a real SQLite
//! file, with orders placed through the store.

use futures_util::future::join_all;
use stampede_domain::{
    Currency, Customer, DeliveryAddress, Fulfilment, LineRequest, Money, OptionChoice, OptionGroup, OptionSelection,
    OrderRequest, Product,
};
use stampede_store::{PlaceOrder, SqliteConfig, SqliteStore, Store};
use stampede_web::AppState;
use std::collections::BTreeMap;
use std::sync::Arc;

struct App {
    base: String,
    client: reqwest::Client,
    store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

impl App {
    /// The public router plus the analytics routes; `with_analytics` as the lead would wire it.
    async fn start(with_analytics: bool) -> App {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(SqliteConfig::in_dir(dir.path())).unwrap());
        let mut state = AppState::new(store.clone(), None);
        if with_analytics {
            state = state.with_analytics(store.clone());
        }
        let app = stampede_web::router(state.clone()).merge(stampede_web::analytics_routes().with_state(state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        App { base, client: reqwest::Client::new(), store, _dir: dir }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base)).send().await.unwrap()
    }
}

fn product(id: &str, name: &str, category: &str, cents: i64, groups: Vec<OptionGroup>) -> Product {
    Product { option_groups: groups, ..Product::new(id, name, category, Money::new(cents, Currency::USD)) }
}

fn toppings() -> OptionGroup {
    let choice = |id: &str, name: &str| OptionChoice { id: id.into(), name: name.into(), price_delta: 150 };
    OptionGroup {
        id: "toppings".into(),
        name: "Toppings".into(),
        min_choices: 0,
        max_choices: 2,
        default_choice: None,
        choices: vec![choice("olives", "Olives"), choice("basil", "Basil")],
    }
}

async fn place(
    store: &SqliteStore,
    email: &str,
    name: Option<&str>,
    lines: Vec<LineRequest>,
    f: Option<Fulfilment>,
) -> String {
    let customer = Customer::with_email(email, name).unwrap();
    let request = OrderRequest::new(customer, lines).unwrap().with_fulfilment(f);
    store.place_order(PlaceOrder { request, idempotency_key: None }).await.unwrap().order.id
}

fn line(product: &str, quantity: i64, toppings: &[&str]) -> LineRequest {
    let mut options = BTreeMap::new();
    if !toppings.is_empty() {
        options.insert("toppings".into(), OptionSelection::Many(toppings.iter().map(|t| (*t).into()).collect()));
    }
    LineRequest::new(product, quantity, options).unwrap()
}

/// A pizza shop with a day of orders: two pizza orders (one delivered to an address that
/// needs quoting), a sold-out flash sale, and a cancelled order.
async fn shop() -> App {
    let app = App::start(true).await;
    let s = app.store.as_ref();
    s.create_product(product("margherita", "Margherita", "pizza", 1000, vec![toppings()]), 100).await.unwrap();
    s.create_product(product("golden", "Golden Slice", "flash-sale", 2500, vec![]), 3).await.unwrap();
    // 2100-01-01T00:00:00Z: a sale that has not opened.
    let mut later = product("later", "Later Deal", "flash-sale", 900, vec![]);
    later.sale.starts_at = Some(4_102_444_800_000);
    s.create_product(later, 10).await.unwrap();
    s.create_product(product("quiet", "Quiet Deal", "flash-sale", 900, vec![]), 10).await.unwrap();
    let address = DeliveryAddress::new("1 Main St, Flat \"B\"", "Springfield", "12345").unwrap();
    place(
        s,
        "ana@example.com",
        Some("O'Brien, \"Ana\""),
        vec![line("margherita", 2, &["olives", "basil"])],
        Some(Fulfilment::Delivery(address)),
    )
    .await;
    place(
        s,
        "bo@example.com",
        None,
        vec![line("margherita", 1, &["olives"]), line("golden", 1, &[])],
        Some(Fulfilment::Pickup),
    )
    .await;
    place(s, "cy@example.com", Some("Cy"), vec![line("golden", 2, &[])], None).await;
    let cancelled = place(s, "dee@example.com", None, vec![line("margherita", 5, &["basil"])], None).await;
    s.cancel_order(&cancelled).await.unwrap();
    app
}

#[tokio::test]
async fn the_page_shows_the_days_figures_charts_and_tables() {
    let app = shop().await;
    let resp = app.get("/admin/analytics?range=24h").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    assert!(resp.headers()["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"));
    let html = resp.text().await.unwrap();
    // Revenue: 2 x (10.00 + 3.00) + (11.50 + 25.00) + 50.00 = 112.50 over 3 orders; AOV 37.50.
    assert!(html.contains("$112.50"), "revenue");
    assert!(html.contains("$37.50"), "average order value");
    assert!(html.contains(r#"<p class="big">1</p><p class="sub">orders, not counted above</p>"#), "cancelled");
    assert_eq!(html.matches(r#"<svg class="chart""#).count(), 2, "revenue and orders charts");
    assert!(html.contains(r#"<title id="revenue-usd-title">Revenue per hour (USD)</title>"#));
    assert!(html.contains(r#"<title id="orders-title">Orders per hour</title>"#));
    assert_eq!(html.matches(r#"<rect class="bar""#).count(), 24, "one bar per hour");
    // Top products: the flash sale's three units beat the pizzas' three by revenue.
    let golden = html.find("Golden Slice <span").unwrap();
    let margherita = html.find("Margherita <span").unwrap();
    assert!(golden < margherita, "top products order");
    // Toppings: olives on 3 pizzas, basil on 2 (the cancelled five with basil do not count).
    assert!(html.contains("<h3>Toppings</h3>"));
    let olives = html.find(r#"<th scope="row">Olives</th><td class="num">3</td><td class="num">2</td>"#);
    let basil = html.find(r#"<th scope="row">Basil</th><td class="num">2</td><td class="num">1</td>"#);
    assert!(olives.is_some() && basil.is_some() && olives < basil, "option popularity");
    // The flash sale sold all 3: 100 % and a time to sell out.
    assert!(
        html.contains(
            r#"<td class="num">3</td><td class="num">3</td><td class="num">0</td><td class="num">100.0 %</td>"#
        )
    );
    assert!(html.contains("<td>opens 1 Jan 2100 00:00 UTC</td><td>—</td><td>not sold out</td>"), "sale not open");
    assert!(html.contains("<td>no orders yet</td>"), "sale without window or orders");
    assert_eq!(html.matches("not sold out").count(), 2, "only the unsold sales");
    assert!(html.contains(r#"href="/admin""#), "link back to the dashboard");
    assert!(html.contains(r#"href="/admin/orders.csv?from="#));
    assert!(html.contains(r#"aria-current="page">Last 24 hours"#));
    let css = html.split(r#"rel="stylesheet" href=""#).nth(1).unwrap().split('"').next().unwrap().to_owned();
    let resp = app.get(&css).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/css; charset=utf-8");
    let start = html.find("/admin/analytics.css?v=").expect("the page links its own stylesheet");
    let css = html[start..].split('"').next().unwrap().to_owned();
    let resp = app.get(&css).await;
    assert_eq!(resp.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(resp.headers()["cache-control"], "private, max-age=86400");
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert!(css.ends_with(etag.trim_matches('"')), "{css} is versioned by content");
    let url = format!("{}{css}", app.base);
    let gzipped = app.client.get(&url).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let gzip_etag = gzipped.headers()["etag"].to_str().unwrap().to_owned();
    let again = app.client.get(&url).header("accept-encoding", "gzip").header("if-none-match", gzip_etag).send();
    assert_eq!(again.await.unwrap().status(), 304);
}

#[tokio::test]
async fn bad_page_queries_are_explained_on_the_page() {
    let app = shop().await;
    for (query, message) in [
        ("?range=forever", "Unknown range “forever”"),
        ("?from=2026-13-01&to=2026-11-20", "From date “2026-13-01” is not a date"),
        ("?from=2026-11-20", "To date is missing"),
        ("?from=2026-11-21&to=2026-11-20", "before the “from” date"),
        ("?from=2000-01-01&to=2026-11-20", "too long"),
        ("?range=%ZZ&range=2", "malformed query string"),
    ] {
        let resp = app.get(&format!("/admin/analytics{query}")).await;
        assert_eq!(resp.status(), 400, "{query}");
        let html = resp.text().await.unwrap();
        assert!(html.contains(message), "{query}: {message}");
        assert!(html.contains("Showing the last 7 days instead") && html.contains("<svg class=\"chart\""), "{query}");
    }
    let resp = app.get("/admin/analytics?from=2020-01-01&to=2020-01-03").await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("No orders in this range") && html.contains("Revenue per day (USD)"));
    assert_eq!(html.matches(r#"<rect class="bar""#).count(), 3);
}

/// `from=<yesterday>&to=<today>`: whole UTC days around now, so a test run that crosses
/// midnight still finds the orders it just placed.
fn around_today() -> String {
    let today = time::OffsetDateTime::now_utc().date();
    format!("from={}&to={today}", today.previous_day().unwrap())
}

/// A minimal RFC 4180 reader, to check the file the way a spreadsheet reads it.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CRLF line ends");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && row.is_empty(), "the file ends with CRLF");
    rows
}

#[tokio::test]
async fn the_csv_has_one_quoted_row_per_order_line() {
    let app = shop().await;
    let resp = app.get(&format!("/admin/orders.csv?{}", around_today())).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = resp.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"orders-") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let rows = parse_csv(&resp.text().await.unwrap());
    assert_eq!(rows[0][..3], ["order_id", "placed_at", "status"]);
    assert_eq!(rows.len(), 1 + 5, "header and five order lines");
    assert!(rows.iter().all(|r| r.len() == 19));
    let ana = &rows[1];
    assert_eq!(ana[4], "O'Brien, \"Ana\"");
    assert_eq!(
        (ana[6].as_str(), ana[7].as_str(), ana[8].as_str()),
        ("delivery", "1 Main St, Flat \"B\"", "Springfield")
    );
    assert_eq!(ana[13], "Toppings: Olives, Basil");
    assert_eq!(
        (ana[14].as_str(), ana[15].as_str(), ana[16].as_str(), ana[17].as_str()),
        ("2", "13.00", "26.00", "26.00")
    );
    assert!(
        ana[1].ends_with('Z')
            && time::OffsetDateTime::parse(&ana[1], &time::format_description::well_known::Rfc3339).is_ok()
    );
    assert_eq!(rows[2][6], "pickup");
    assert_eq!(rows[3][10..13], ["2", "golden", "Golden Slice"]);
    assert_eq!(rows[5][2], "cancelled", "cancelled orders are listed with their status");
}

#[tokio::test]
async fn a_large_csv_streams_every_order_across_pages() {
    let app = App::start(true).await;
    app.store.create_product(product("cola", "Cola", "drinks", 250, vec![]), 5_000).await.unwrap();
    let store = app.store.clone();
    let orders = (0..1_234).map(|i| {
        let store = store.clone();
        async move { place(&store, &format!("c{i}@example.com"), None, vec![line("cola", 1, &[])], None).await }
    });
    let ids = join_all(orders).await;
    let resp = app.get("/admin/orders.csv?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z").await;
    assert_eq!(resp.status(), 400, "more than 400 days");
    let resp = app.get(&format!("/admin/orders.csv?{}", around_today())).await;
    assert_eq!(resp.status(), 200);
    let rows = parse_csv(&resp.text().await.unwrap());
    let mut seen: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(seen.len(), 1_234);
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 1_234, "no order twice");
    assert!(ids.iter().all(|id| seen.binary_search(&id.as_str()).is_ok()));
}

#[tokio::test]
async fn bad_csv_queries_get_problem_json() {
    let app = shop().await;
    for query in ["", "?from=2026-11-20", "?from=yesterday&to=2026-11-20", "?from=2026-11-21&to=2026-11-20T00:00:00Z"] {
        let resp = app.get(&format!("/admin/orders.csv{query}")).await;
        assert_eq!(resp.status(), 400, "{query}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["type"], "/problems/invalid-query", "{query}");
        assert!(body["detail"].as_str().unwrap().contains("`"), "{body}");
    }
}

#[tokio::test]
async fn without_analytics_in_the_state_the_routes_say_so_and_the_public_router_lacks_them() {
    let app = App::start(false).await;
    let resp = app.get("/admin/analytics").await;
    assert_eq!(resp.status(), 503);
    assert!(resp.text().await.unwrap().contains("not available with this store"));
    assert_eq!(app.get("/admin/orders.csv?from=2026-11-20&to=2026-11-20").await.status(), 503);

    // The public router alone does not serve them: mounting is the caller's choice.
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(SqliteConfig::in_dir(dir.path())).unwrap());
    let state = AppState::new(store.clone(), None).with_analytics(store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, stampede_web::router(state)).await.unwrap() });
    for path in ["/admin/analytics", "/admin/orders.csv?from=2026-11-20&to=2026-11-20"] {
        assert_eq!(reqwest::get(format!("{base}{path}")).await.unwrap().status(), 404, "{path}");
    }
}
