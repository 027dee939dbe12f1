//! `stampede serve --store postgres`: `stampede migrate`, then instances of the real binary
//! on one database of a throwaway PostgreSQL cluster, as several servers behind a load
//! balancer would run: a sale through two, staff signed in on one using the dashboard on
//! another, a SIGKILL of one of three mid-sale, and PostgreSQL stopped and started again
//! mid-sale under two.
//! Run: `cargo test -p stampede --features postgres --test it postgres_serve::`.
use crate::common::browser::{Browser, form_token};
use crate::common::pg::fresh_database;
use crate::common::pg_server::Cluster;
use crate::common::process::Server;
use crate::common::sale::{self, RunningSale, Webhooks, create_product_with, sales, start_buying};
use crate::common::{ADMIN_TOKEN, eventually, order_body};
use reqwest::Client;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

const PASSWORD: &str = "correct horse battery";

fn migrate(url: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["migrate", "--database-url", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn instance(url: &str, dir: &std::path::Path) -> Server {
    let args = ["--store", "postgres", "--secret-key", "one-secret-for-every-instance", "--no-seed"];
    Server::start_with_env(dir, &args, &[("DATABASE_URL", url), ("STAMPEDE_ADMIN_TOKEN", ADMIN_TOKEN)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_sell_one_database_without_overselling_and_deliver_every_event_once() {
    let url = fresh_database().await;
    let first = migrate(&url);
    assert!(first.starts_with("applied migrations [1, 2, 3, 4, 5]"), "{first}");
    assert!(migrate(&url).starts_with("schema is up to date"), "a second run changes nothing");
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (instance(&url, dir_a.path()), instance(&url, dir_b.path()));
    crate::common::two_instances::sell_one_product_through_both(&a, &b).await;
}

/// `stampede admin create-user` into the database, as an operator makes the first admin.
fn create_user(url: &str, email: &str, role: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["admin", "create-user", "--email", email, "--role", role, "--database-url", url])
        .env("STAMPEDE_USER_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Places an order for `qty` slices on `server`; its id.
async fn place(client: &Client, server: &Server, email: &str, qty: i64) -> String {
    let resp = client.post(server.url("/api/orders")).json(&order_body(email, "slice", qty)).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

async fn api_product(client: &Client, server: &Server) -> Value {
    client.get(server.url("/api/products/slice")).send().await.unwrap().json().await.unwrap()
}

/// One value from the database, for what the pages do not show (an account's id).
async fn query_one(url: &str, sql: &str) -> String {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staff_signed_in_on_one_instance_run_the_dashboard_on_another() {
    let url = fresh_database().await;
    create_user(&url, "boss@example.com", "admin");
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (instance(&url, dir_a.path()), instance(&url, dir_b.path()));
    let client = Client::new();
    let product = json!({"id": "slice", "name": "Slice", "category": "pizza",
        "price": {"amount": 450, "currency": "USD"}, "stock": 20, "stockShards": 4});
    let made = client.post(a.url("/api/admin/products")).bearer_auth(ADMIN_TOKEN).json(&product).send().await.unwrap();
    assert_eq!(made.status(), 201);
    let ana = place(&client, &a, "ana@example.com", 2).await;
    let bo = place(&client, &b, "bo@example.com", 1).await;

    // Signed in on A; the same cookies are a session on B (one database, one secret key), and
    // B's forms take the CSRF token B's pages give.
    let mut on_a = Browser::new(&a.base);
    on_a.sign_in("boss@example.com", PASSWORD).await;
    let mut on_b = Browser::new(&b.base);
    on_b.cookies = on_a.cookies.clone();
    let list = on_b.get("/admin/orders").await;
    assert_eq!(list.status, 200, "{}", list.html);
    assert!(list.html.contains(&ana) && list.html.contains(&bo));
    let found = on_b.get("/admin/orders?customer=ANA%40").await.html;
    assert!(found.contains(&ana) && !found.contains(&bo), "the search runs on PostgreSQL");
    let moved = on_b.post(&format!("/admin/orders/{ana}/status"), &[("status", "preparing")]).await;
    assert_eq!(moved.status, 303, "{}", moved.html);
    let preparing = on_a.get("/admin/orders?status=preparing").await.html;
    assert!(preparing.contains(&ana) && !preparing.contains(&bo), "A lists what B did");

    // Stock and product edits on B hold for A at once, and A's cached menu follows.
    let restock = on_b.post("/admin/products/slice/stock", &[("delta", "+10"), ("reason", "delivery")]).await;
    assert_eq!(restock.status, 303, "{}", restock.html);
    assert_eq!(api_product(&client, &a).await["stock"], 27);
    assert!(on_a.get("/").await.html.contains("Slice"));
    let edit = [
        ("name", "Big slice"),
        ("description", ""),
        ("category", "pizza"),
        ("price", "5.00"),
        ("currency", "USD"),
        ("stock_shards", "4"),
        ("sale_starts", ""),
        ("sale_ends", ""),
        ("per_customer_max", ""),
        ("per_order_max", ""),
    ];
    let saved = on_b.post("/admin/products/slice", &edit).await;
    assert_eq!(saved.status, 303, "{}", saved.html);
    let edited = api_product(&client, &a).await;
    assert_eq!(
        (&edited["name"], &edited["price"]["amount"], &edited["stock"]),
        (&json!("Big slice"), &json!(500), &json!(27))
    );
    eventually(10, "A's menu shows B's edit", || async {
        Browser::new(&a.base).get("/").await.html.contains("Big slice").then_some(())
    })
    .await;

    // Staff made on A sign in on B; deactivated on B, their session on A ends.
    let added = on_a
        .post(
            "/admin/staff",
            &[("email", "cook@example.com"), ("name", ""), ("password", PASSWORD), ("role", "kitchen")],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.html);
    let mut cook = Browser::new(&b.base);
    cook.sign_in("cook@example.com", PASSWORD).await;
    cook.base = a.base.clone();
    assert_eq!(cook.get("/admin/orders").await.status, 200);
    let cook_id = query_one(&url, "SELECT id FROM users WHERE email = 'cook@example.com'").await;
    assert_eq!(on_b.post(&format!("/admin/staff/{cook_id}/deactivate"), &[]).await.status, 303);
    assert_eq!(cook.get("/admin/orders").await.status, 303, "signed out everywhere");

    // A customer's account, made on A, is theirs on B.
    let mut customer = Browser::new(&a.base);
    let made = customer.post("/sign-up", &[("email", "cy@example.com"), ("name", "Cy"), ("password", PASSWORD)]).await;
    assert_eq!(made.location.as_deref(), Some("/account"), "{}", made.html);
    customer.base = b.base.clone();
    let account = customer.get("/account").await;
    assert!(account.status == 200 && account.html.contains("cy@example.com"), "{}", account.html);

    // Analytics and the CSV on B count the orders placed on both; the audit log on A has B's actions.
    let analytics = on_b.get("/admin/analytics").await;
    assert_eq!(analytics.status, 200, "{}", analytics.html);
    assert!(analytics.html.contains("Slice"), "{}", analytics.html);
    let placed: Value = client.get(a.url(&format!("/api/orders/{ana}"))).send().await.unwrap().json().await.unwrap();
    let today = &placed["createdAt"].as_str().unwrap()[..10];
    let csv = on_b.get(&format!("/admin/orders.csv?from={today}&to={today}")).await;
    assert_eq!(csv.status, 200, "{}", csv.html);
    assert!(csv.html.contains(&ana) && csv.html.contains(&bo));
    let audit = on_a.get("/admin/audit").await.html;
    assert!(audit.contains("delivery") && audit.contains("cook@example.com"), "{audit}");

    // Signing out on B ends the session on A too.
    assert_eq!(on_b.post("/sign-out", &[]).await.status, 303);
    assert_eq!(on_a.get("/admin/orders").await.status, 303);
}

/// The arguments of a sale test's instance: PostgreSQL from `DATABASE_URL`, receipts to
/// `hooks_url` signed with `webhook_secret`.
fn sale_instance_args<'a>(hooks_url: &'a str, webhook_secret: &'a str) -> Vec<&'a str> {
    vec![
        "--store",
        "postgres",
        "--secret-key",
        "one-secret-for-every-instance",
        "--no-seed",
        "--admin-token",
        sale::TOKEN,
        "--webhook-urls",
        hooks_url,
        "--webhook-secret",
        webhook_secret,
    ]
}

/// Units of the crash test's sale, on 4 counters.
const DEAL_STOCK: u64 = 400;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sigkill_of_one_of_three_instances_mid_sale_loses_no_order_and_oversells_nothing() {
    let url = fresh_database().await;
    let hooks = Webhooks::start().await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut args = sale_instance_args(&hooks.url, "crash-secret");
    // The relay's lease is this plus 30 s: what the killed instance's claims wait out.
    args.extend(["--notify-timeout-secs", "1"]);
    let mut servers: Vec<Server> =
        dirs.iter().map(|d| Server::start_with_env(d.path(), &args, &[("DATABASE_URL", &url)])).collect();
    let client = Client::builder().timeout(std::time::Duration::from_secs(10)).build().unwrap();
    create_product_with(&client, &servers[0], json!({"id": "deal", "stock": DEAL_STOCK, "stockShards": 4})).await;
    let stop = Arc::new(AtomicBool::new(false));
    let bases: Vec<&str> = servers.iter().map(|s| s.base.as_str()).collect();
    let acked = start_buying(&client, &bases, stop.clone());
    eventually(60, "a quarter of the stock sold", || async {
        (acked.lock().unwrap().len() as u64 >= DEAL_STOCK / 4).then_some(())
    })
    .await;
    let killed = servers.pop().unwrap();
    killed.crash();
    let (a, b) = (&servers[0], &servers[1]);

    // The two left sell the rest: exactly the stock, whatever the killed one had in flight.
    eventually(60, "the survivors sell out", || async { (sales(&client, a).await["stock"] == 0).then_some(()) }).await;
    let acked = RunningSale::stopped(stop, acked).await;
    let s = sales(&client, b).await;
    assert_eq!((s["stock"].as_u64(), s["unitsSold"].as_u64()), (Some(0), Some(DEAL_STOCK)), "oversold or lost: {s}");
    assert_eq!(s["orders"].as_u64(), Some(DEAL_STOCK), "one unit per order: {s}");
    let ids: HashSet<&str> = acked.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids.len(), acked.len(), "no order acknowledged twice");
    assert!(acked.len() as u64 <= DEAL_STOCK);
    for (n, (buyer, id)) in acked.iter().enumerate() {
        let server = &servers[n % 2];
        let resp = client.get(server.url(&format!("/api/orders/{id}"))).send().await.unwrap();
        assert_eq!(resp.status(), 200, "acknowledged order {id} lost");
        if n % 20 == 0 {
            // A retry with the buyer's key, on either survivor, gets the same order back.
            sale::assert_replayed(&client, server, *buyer, id).await;
        }
    }

    // Every order's event is settled delivered once, those the killed relay had claimed after
    // its lease ran out, by a survivor. Its sends that never got settled are sent again, so
    // a receiver may see those twice (it de-duplicates on eventId); no more than it held.
    hooks.expect_every_event(&client, a, 90, DEAL_STOCK, ids.iter().copied()).await;
    let repeats = hooks.deliveries() - hooks.orders().len();
    assert!(repeats <= 64, "{repeats} repeats: more than the killed relay can hold in flight");
}

#[tokio::test]
async fn an_unreachable_database_and_a_missing_url_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["--store", "postgres", "--database-url", &format!("postgres://nobody@127.0.0.1:{closed}/shop")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("opening the PostgreSQL store"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["--store", "postgres"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--database-url"), "clap names the missing setting");
}

/// Units of the restart test's sale, on 4 counters.
const RESTART_STOCK: u64 = 300;

/// An order on `server` while PostgreSQL is down: a 503 problem with `Retry-After`, within
/// the client's timeout (a hang is an error here).
async fn refused_while_down(client: &Client, server: &Server, n: usize) {
    let resp = client
        .post(server.url("/api/orders"))
        .header("Idempotency-Key", format!("down-{}-{n}", server.base))
        .json(&sale::body(1_000_000 + n))
        .send()
        .await
        .expect("an answer within the timeout, not a hang");
    assert_eq!(resp.status(), 503, "{}", resp.text().await.unwrap());
    assert!(resp.headers().contains_key("retry-after"), "{:?}", resp.headers());
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_restart_mid_sale_gets_503s_then_both_instances_sell_again_by_themselves() {
    // A cluster of its own: stopping the shared one would fail the other tests.
    let cluster = Cluster::start();
    let url = cluster.url.clone();
    let hooks = Webhooks::start().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args = sale_instance_args(&hooks.url, "restart-secret");
    let env = [("DATABASE_URL", url.as_str())];
    let servers =
        [Server::start_with_env(dir_a.path(), &args, &env), Server::start_with_env(dir_b.path(), &args, &env)];
    let (a, b) = (&servers[0], &servers[1]);
    let client = Client::builder().timeout(std::time::Duration::from_secs(20)).build().unwrap();
    create_product_with(&client, a, json!({"id": "deal", "stock": RESTART_STOCK, "stockShards": 4})).await;
    let stop = Arc::new(AtomicBool::new(false));
    let acked = start_buying(&client, &[&a.base, &b.base], stop.clone());
    eventually(60, "a quarter of the stock sold", || async {
        (acked.lock().unwrap().len() as u64 >= RESTART_STOCK / 4).then_some(())
    })
    .await;

    // PostgreSQL goes down (fast shutdown: its connections are ended) with the buyers ordering.
    cluster.stop();
    for server in &servers {
        let ready = client.get(server.url("/readyz")).send().await.expect("an answer, not a hang");
        assert_eq!(ready.status(), 503, "not ready while the database is down");
        assert_eq!(ready.headers()["content-type"], "application/problem+json");
    }
    // Answers to orders committed before the shutdown have landed by now.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let sold_before = acked.lock().unwrap().len();
    for server in &servers {
        for n in 0..5 {
            refused_while_down(&client, server, n).await;
        }
    }
    assert_eq!(acked.lock().unwrap().len(), sold_before, "no order acknowledged without a database");

    // Back up: both instances get ready and sell again without being restarted.
    cluster.resume();
    for server in &servers {
        eventually(60, "ready again", || async {
            let ready = client.get(server.url("/readyz")).send().await.ok()?;
            (ready.status() == 200).then_some(())
        })
        .await;
        let resp = client.post(server.url("/api/orders")).json(&sale::body(2_000_000)).send().await.unwrap();
        assert!([201, 409].contains(&resp.status().as_u16()), "{}", resp.text().await.unwrap());
    }
    let sold = |s: Value| s["stock"] == 0;
    eventually(120, "the sale sells out after the restart", || async { sold(sales(&client, a).await).then_some(()) })
        .await;
    let acked = RunningSale::stopped(stop, acked).await;
    assert!(acked.len() > sold_before, "orders acknowledged after the restart");

    // Exactly the stock sold; every acknowledged order is there, once.
    let s = sales(&client, b).await;
    assert_eq!((s["stock"].as_u64(), s["unitsSold"].as_u64()), (Some(0), Some(RESTART_STOCK)), "{s}");
    let orders = s["orders"].as_u64().unwrap();
    let ids: HashSet<&str> = acked.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids.len(), acked.len(), "no order acknowledged twice");
    for (n, (_, id)) in acked.iter().enumerate() {
        let resp = client.get(servers[n % 2].url(&format!("/api/orders/{id}"))).send().await.unwrap();
        assert_eq!(resp.status(), 200, "acknowledged order {id} lost");
    }

    // Every order's event delivered, including those whose commit the restart cut off
    // (committed but unacknowledged), once each as far as the outbox is concerned.
    hooks.expect_every_event(&client, a, 120, orders, ids.iter().copied()).await;

    // Through the whole sale, the buyers' requests included: refusals were 503s, never a 500.
    for server in &servers {
        let statuses: Vec<u64> = server
            .log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|line| line["message"] == "request")
            .filter_map(|line| line["status"].as_u64())
            .collect();
        assert!(statuses.contains(&503), "{} never saw the database down", server.base);
        assert!(statuses.iter().all(|s| *s < 500 || *s == 503), "{}: {statuses:?}", server.base);
    }
    drop(servers);
    drop(cluster);
}

/// On a shared line a join's write must land within the grace an advance leaves. While the
/// database holds an instance's joins back, that instance refuses new joins with `503` and
/// `Retry-After` (a place given then could be let in uncounted), and takes them again once
/// the writes land; the joins already answered keep their places. A room this instance has
/// not advanced yet answers from the store's state meanwhile, without waiting on the writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn new_joins_wait_while_the_database_holds_the_line_s_writes_back() {
    let url = fresh_database().await;
    migrate(&url);
    let dir = tempfile::tempdir().unwrap();
    let server = instance(&url, dir.path());
    let client = Client::new();
    let product = json!({"id": "line", "name": "Queued slice", "category": "pizza",
        "price": {"amount": 500, "currency": "USD"}, "stock": 5,
        "sale": {"waitingRoom": {"admissionMinutes": 1, "admissionsPerMinute": 1}}});
    let resp = client.post(server.url("/api/admin/products")).bearer_auth(ADMIN_TOKEN).json(&product).send().await;
    assert_eq!(resp.unwrap().status(), 201);
    let join = |who: &str| client.post(server.url("/api/products/line/queue")).json(&json!({"userId": who})).send();

    // The line page's join form and its CSRF token, for the storefront's join below.
    let mut browser = Browser::new(&server.base);
    let csrf = form_token(&browser.get("/products/line/line").await.html);

    // Another session holds the table: reads go on, every insert into it waits.
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    db.batch_execute("BEGIN; LOCK TABLE queue_tickets IN EXCLUSIVE MODE").await.unwrap();
    // The first join is answered (by its advance once the write lands) and its write waits.
    let early = tokio::spawn(join("early"));
    let (watch, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    eventually(10, "the first join's write waiting for the lock", || async {
        let sql = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INTO queue_tickets%'";
        let n: i64 = watch.query_one(sql, &[]).await.ok()?.get(0);
        (n > 0).then_some(())
    })
    .await;
    // Someone joining meanwhile is answered at once, from the room as the store holds it: not
    // held on the advance the first join started, which waits for that write.
    let second = join("second").await.unwrap();
    assert_eq!(second.status(), 201, "answered while the first join's write still waits");
    let second = second.json::<Value>().await.unwrap();
    assert_eq!((second["position"].as_u64(), second["state"].as_str()), (Some(2), Some("waiting")), "{second}");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;

    let late = join("late").await.unwrap();
    assert_eq!(late.status(), 503, "the first join's write has waited over a second");
    assert_eq!(late.headers()["retry-after"], "1");
    assert_eq!(late.headers()["content-type"], "application/problem+json");
    let problem = late.json::<Value>().await.unwrap();
    assert_eq!(problem["type"], "/problems/busy");
    assert!(problem["detail"].as_str().unwrap().contains("you have no place yet"), "{problem}");
    let form = [("email", "late@example.com"), ("_csrf", csrf.as_str())];
    let page = browser.post_raw("/products/line/line", &form).await;
    assert_eq!(page.status, 503, "the storefront's join form is pushed back too");
    assert_eq!(page.headers["retry-after"], "1");
    assert!(page.html.contains("save your place in line just now"), "{}", page.html);
    // An operator sees why: two joins answered and not yet written, the oldest over a second.
    let metrics = client.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("stampede_waiting_room_unwritten_joins 2\n"), "{metrics}");
    let oldest = metrics.lines().find_map(|l| l.strip_prefix("stampede_waiting_room_unwritten_oldest_seconds "));
    assert!(oldest.and_then(|s| s.parse::<f64>().ok()).is_some_and(|s| s > 1.0), "{metrics}");
    let line = client.get(server.url("/api/admin/products/line/queue")).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    let line = line.json::<Value>().await.unwrap();
    assert_eq!((line["inLine"].as_u64(), line["stock"].as_u64()), (Some(2), Some(5)), "the instance's line: {line}");

    db.batch_execute("COMMIT").await.unwrap();
    let early = early.await.unwrap().unwrap();
    assert_eq!(early.status(), 201);
    let ticket = early.json::<Value>().await.unwrap()["ticket"].as_str().unwrap().to_owned();
    let stored = eventually(10, "both joins answered written", || async {
        let rows = db.query("SELECT ticket FROM queue_tickets ORDER BY rank", &[]).await.unwrap();
        (rows.len() == 2).then(|| rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>())
    })
    .await;
    let answered = [ticket, second["ticket"].as_str().unwrap().to_owned()];
    assert_eq!(stored, answered, "the joins answered are the ones written, in arrival order; the refused one is not");
    let late = join("late").await.unwrap();
    assert_eq!(late.status(), 201, "taken again once the writes have landed");
    let metrics = eventually(10, "the late join written", || async {
        let metrics = client.get(server.url("/metrics")).send().await.ok()?.text().await.ok()?;
        metrics.contains("stampede_waiting_room_unwritten_joins 0\n").then_some(metrics)
    })
    .await;
    for counted in [r#"{outcome="joined"} 3"#, r#"{outcome="pushed_back"} 2"#] {
        let line = format!("stampede_waiting_room_joins_total{counted}\n");
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
}
