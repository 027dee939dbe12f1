//! A test-only server for looking at `/admin/analytics` in a browser: the public router with
//! `analytics_routes()` merged in, over a throw-away SQLite file holding a week of demo
//! orders. Never part of the `stampede` binary, so the unguarded routes are not exposed.
//!
//! `cargo run -p stampede-web --example analytics_preview [PORT]` prints its URL on stdout.

use stampede_domain::{
    Currency, Customer, LineRequest, Money, OptionChoice, OptionGroup, OptionSelection, OrderRequest, Product,
};
use stampede_store::clock::now_millis;
use stampede_store::{PlaceOrder, SqliteConfig, SqliteStore, Store};
use stampede_web::AppState;
use std::collections::BTreeMap;
use std::sync::Arc;

const DAY: i64 = 86_400_000;

fn group(
    id: &str,
    name: &str,
    min: u32,
    max: u32,
    default: Option<&str>,
    choices: &[(&str, &str, i64)],
) -> OptionGroup {
    OptionGroup {
        id: id.into(),
        name: name.into(),
        min_choices: min,
        max_choices: max,
        default_choice: default.map(Into::into),
        choices: choices
            .iter()
            .map(|(id, name, delta)| OptionChoice { id: (*id).into(), name: (*name).into(), price_delta: *delta })
            .collect(),
    }
}

fn product(id: &str, name: &str, category: &str, cents: i64, groups: Vec<OptionGroup>) -> Product {
    Product { option_groups: groups, ..Product::new(id, name, category, Money::new(cents, Currency::USD)) }
}

/// A small deterministic generator, so every run draws the same week.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = SqliteConfig::in_dir(dir.path());
    let db = config.path.clone();
    {
        let store = SqliteStore::open(config.clone()).expect("open store");
        seed(&store).await;
    }
    spread_over_a_week(&db);
    let store = Arc::new(SqliteStore::open(config).expect("reopen store"));
    let state = AppState::new(store.clone(), None).with_analytics(store);
    let app = stampede_web::router(state.clone()).merge(stampede_web::analytics_routes().with_state(state));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    println!("http://{}/admin/analytics", listener.local_addr().expect("address"));
    axum::serve(listener, app).await.expect("serve");
}

async fn seed(store: &SqliteStore) {
    let pizza = vec![
        group(
            "size",
            "Size",
            1,
            1,
            Some("medium"),
            &[("small", "Small", -200), ("medium", "Medium", 0), ("large", "Large", 300)],
        ),
        group(
            "toppings",
            "Toppings",
            0,
            3,
            None,
            &[
                ("olives", "Olives", 150),
                ("basil", "Basil", 100),
                ("mushrooms", "Mushrooms", 150),
                ("chili", "Chili", 100),
            ],
        ),
    ];
    for (p, stock) in [
        (product("margherita", "Margherita", "pizza", 1099, pizza.clone()), 10_000),
        (product("diavola", "Diavola", "pizza", 1299, pizza), 10_000),
        (product("cola", "Cola", "drinks", 250, vec![]), 10_000),
        (product("midnight-truffle", "Midnight Truffle", "flash-sale", 2999, vec![]), 40),
        (product("gold-slice", "Gold Slice", "flash-sale", 4999, vec![]), 60),
    ] {
        store.create_product(p, stock).await.expect("product");
    }
    let mut rng = Lcg(7);
    let toppings = ["olives", "basil", "mushrooms", "chili"];
    let sizes = ["small", "medium", "large", "large"];
    for i in 0..260 {
        let mut lines = Vec::new();
        let pizza = if rng.next(3) == 0 { "diavola" } else { "margherita" };
        let mut options = BTreeMap::new();
        options.insert("size".to_owned(), OptionSelection::One(sizes[rng.next(4) as usize].into()));
        let chosen: Vec<String> =
            toppings.iter().filter(|_| rng.next(3) == 0).take(3).map(|t| (*t).to_owned()).collect();
        options.insert("toppings".to_owned(), OptionSelection::Many(chosen));
        lines.push(LineRequest::new(pizza, 1 + rng.next(3) as i64, options).expect("line"));
        if rng.next(2) == 0 {
            lines.push(LineRequest::new("cola", 1 + rng.next(4) as i64, BTreeMap::new()).expect("line"));
        }
        if i % 6 == 0 {
            lines.push(LineRequest::new("midnight-truffle", 1, BTreeMap::new()).expect("line"));
        }
        if i % 13 == 0 {
            lines.push(LineRequest::new("gold-slice", 2, BTreeMap::new()).expect("line"));
        }
        let name = if i == 0 { "O'Brien, \"Ana\"".to_owned() } else { format!("Customer {i}") };
        let customer = Customer::with_email(&format!("c{i}@example.com"), Some(&name)).expect("customer");
        let request = OrderRequest::new(customer, lines).expect("order");
        let placed = store.place_order(PlaceOrder { request, idempotency_key: None }).await;
        if let Ok(placed) = placed
            && i % 25 == 24
        {
            let _ = store.cancel_order(&placed.order.id).await;
        }
    }
}

/// Orders were all placed just now; move them back over the last seven days, busier in
/// the evenings, so the charts have a shape. The flash sale keeps its real order.
fn spread_over_a_week(db: &std::path::Path) {
    let now = now_millis();
    let conn = rusqlite::Connection::open(db).expect("open db");
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM orders ORDER BY created_at, id")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("ids");
    let mut rng = Lcg(11);
    let n = ids.len() as i64;
    for (i, id) in ids.iter().enumerate() {
        let day = 6 - (i as i64 * 7 / n.max(1));
        let hour = [11, 12, 12, 13, 17, 18, 19, 19, 20, 21][rng.next(10) as usize];
        let minute = rng.next(60) as i64;
        let at = (now / DAY - day) * DAY + hour * 3_600_000 + minute * 60_000;
        let at = at.min(now - 60_000);
        conn.execute("UPDATE orders SET created_at = ?2, updated_at = ?2 WHERE id = ?1", rusqlite::params![id, at])
            .expect("move order");
    }
}
