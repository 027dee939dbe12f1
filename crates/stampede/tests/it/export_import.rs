//! `stampede export` and `stampede import` with the real binary: bad files are refused by line
//! number before anything is written, a store that is not empty is refused, and (feature
//! postgres) a shop moves from SQLite to PostgreSQL and back to SQLite with equal exports, its
//! customers signing in to their orders on PostgreSQL.
//! Run: `cargo test -p stampede --features postgres --test it export_import::`.
use crate::common::process::Server;
use std::path::Path;
use std::process::Output;

fn stampede(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(args)
        .env("STAMPEDE_LOG_FORMAT", "json")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fails, with a message (no panic) that contains `want`.
fn refused(out: Output, want: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "should have failed: {}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains(want) && !stderr.contains("panicked"), "{stderr}");
    stderr
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_bad_line_is_named_and_nothing_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shop.jsonl");
    let header = r#"{"kind":"header","format":"stampede-export","version":1,"source":"sqlite","exported_at":0}"#;
    let audit = r#"{"kind":"audit","at":1,"actor":"a","action":"b","target":"c","detail":""}"#;
    let data = dir.path().join("data");
    for (body, want) in [
        (format!("{header}\n{audit}\n{{\"kind\":\"order\",\"id\":\n"), "line 3: not a record"),
        (format!("{audit}\n"), "line 1: the file must start with a `header` record"),
        (
            format!("{header}\n{}\n", r#"{"kind":"user","id":"u","email":"a@b.c"}"#),
            "line 2: not a record: missing field",
        ),
        (String::new(), "is empty"),
    ] {
        std::fs::write(&file, body).unwrap();
        let err = refused(stampede(&["import", path(&file), "--data-dir", path(&data)]), want);
        assert!(err.contains("nothing was imported"), "{err}");
        assert!(!data.join("stampede.db").exists(), "checked before anything is written");
    }
    refused(stampede(&["import", path(&dir.path().join("missing.jsonl")), "--data-dir", path(&data)]), "opening");
}

#[test]
fn a_store_that_is_not_empty_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (shop, file) = (dir.path().join("shop"), dir.path().join("shop.jsonl"));
    // The demo shop is seeded on first start.
    Server::start(&shop, &[]).terminate();
    let said = ok(stampede(&["export", "--out", path(&file), "--data-dir", path(&shop)]));
    assert!(said.contains("product: "), "{said}");
    let err = refused(stampede(&["import", path(&file), "--data-dir", path(&shop)]), "is not empty");
    assert!(err.contains("new data directory"), "{err}");
    let target = dir.path().join("target");
    let said = ok(stampede(&["import", path(&file), "--data-dir", path(&target)]));
    assert!(said.starts_with(&format!("imported {}", file.display())), "{said}");
}

/// Without `--out` the export goes to standard output, the counts to standard error, and the
/// records are those `--out FILE` writes.
#[test]
fn without_out_the_export_goes_to_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let (shop, file) = (dir.path().join("shop"), dir.path().join("shop.jsonl"));
    Server::start(&shop, &[]).terminate();
    ok(stampede(&["export", "--out", path(&file), "--data-dir", path(&shop)]));
    let piped = stampede(&["export", "--data-dir", path(&shop)]);
    let stdout = ok(piped.clone());
    let records = |text: &str| -> Vec<String> { text.lines().skip(1).map(str::to_owned).collect() };
    assert!(stdout.lines().next().unwrap().contains(r#""kind":"header""#), "{stdout}");
    let from_file = std::fs::read_to_string(&file).unwrap();
    assert!(records(&from_file).len() > 3, "the demo shop has products");
    assert_eq!(records(&stdout), records(&from_file));
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(stderr.contains("exported: ") && stderr.contains("product: "), "{stderr}");
}

/// Taken mid-sale, an export is one snapshot: for the product on sale, stock left plus units
/// on the exported orders is the stock it started with, and every order acknowledged before
/// the export began is in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_taken_mid_sale_is_one_snapshot() {
    use crate::common::sale::{RunningSale, STOCK};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shop");
    let sale = RunningSale::start(&data, &["--no-seed"], 20).await;
    for round in 0..3 {
        let acked_before: Vec<String> = sale.acked.lock().unwrap().iter().map(|(_, id)| id.clone()).collect();
        let file = dir.path().join(format!("mid-sale-{round}.jsonl"));
        let args = [
            "export".to_owned(),
            "--out".to_owned(),
            path(&file).to_owned(),
            "--data-dir".to_owned(),
            path(&data).to_owned(),
        ];
        let out = tokio::task::spawn_blocking(move || stampede(&args.each_ref().map(String::as_str))).await.unwrap();
        ok(out);
        let (mut stock, mut sold, mut ids) = (None, 0, std::collections::HashSet::new());
        for line in std::fs::read_to_string(&file).unwrap().lines() {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            match record["kind"].as_str().unwrap() {
                "product" if record["product"]["id"] == "deal" => stock = record["stock"].as_u64(),
                "order" => {
                    ids.insert(record["id"].as_str().unwrap().to_owned());
                    if record["status"] != "cancelled" {
                        sold += record["lines"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|l| l["quantity"].as_u64().unwrap())
                            .sum::<u64>();
                    }
                }
                _ => {}
            }
        }
        assert_eq!(stock.unwrap() + sold, STOCK, "round {round}: {} orders", ids.len());
        assert!(acked_before.iter().all(|id| ids.contains(id)), "round {round}: an acknowledged order is missing");
    }
    let acked = RunningSale::stopped(sale.stop, sale.acked).await;
    assert!(acked.len() > 20);
    sale.server.terminate();
}

/// What both moves (to PostgreSQL, to DynamoDB) start from and check at the end.
#[cfg(any(feature = "postgres", feature = "aws"))]
mod moved {
    use super::Server;
    use crate::common::browser::Browser;
    use crate::common::{ADMIN_TOKEN, order_body, send_json};
    use reqwest::Client;
    use serde_json::{Value, json};

    pub const PASSWORD: &str = "correct horse battery";
    pub const SECRET: &str = "one-secret-for-both-stores";

    /// Sells on a serving SQLite shop: a product of 20 units on 4 counters, a signed-up
    /// customer's order of 2 (email not verified: the order is theirs through the account's
    /// link, which must move too), a guest's order of 3 with an idempotency key, and an order
    /// cancelled. Returns the guest's order.
    pub async fn sell_on(sqlite: &Server) -> Value {
        let client = Client::new();
        let product = json!({"id": "slice", "name": "Slice", "category": "pizza",
            "price": {"amount": 450, "currency": "USD"}, "stock": 20, "stockShards": 4});
        let made = client
            .post(sqlite.url("/api/admin/products"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&product)
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), 201, "{}", made.text().await.unwrap());
        let mut cy = Browser::new(&sqlite.base);
        let signed_up =
            cy.post("/sign-up", &[("email", "cy@example.com"), ("name", "Cy"), ("password", PASSWORD)]).await;
        assert_eq!(signed_up.status, 303, "{}", signed_up.html);
        cy.post("/cart/add", &[("product", "slice"), ("quantity", "2")]).await;
        let form = [("key", "cy-1"), ("name", "Cy"), ("email", "cy@example.com"), ("fulfilment", "pickup")];
        let placed = cy.post("/checkout", &form).await;
        assert_eq!(placed.status, 303, "{}", placed.html);
        let guest = guest_order(&client, sqlite).await;
        assert_eq!(guest.status(), 201);
        let guest: Value = guest.json().await.unwrap();
        let dropped =
            send_json(client.post(sqlite.url("/api/orders")).json(&order_body("bo@example.com", "slice", 1))).await;
        let cancel = client
            .post(sqlite.url(&format!("/api/orders/{}/cancel", dropped["id"].as_str().unwrap())))
            .header("Order-Token", dropped["accessToken"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(cancel.status(), 200);
        guest
    }

    /// The guest's order of 3, with its idempotency key: placed before the move, retried after.
    async fn guest_order(client: &Client, server: &Server) -> reqwest::Response {
        let body = order_body("ana@example.com", "slice", 3);
        let request = client.post(server.url("/api/orders")).header("Idempotency-Key", "guest-1").json(&body);
        request.send().await.unwrap()
    }

    /// Served from the new store: Cy signs in with the old password and sees the order, stock
    /// is as it was (20 - 2 - 3), and the guest's retry gets the same order back.
    pub async fn check_served(server: &Server, guest: &Value) {
        let mut cy = Browser::new(&server.base);
        cy.sign_in("cy@example.com", PASSWORD).await;
        let account = cy.get("/account").await;
        assert!(account.status == 200 && account.html.contains("Slice"), "{}", account.html);
        let client = Client::new();
        let stock: Value = client.get(server.url("/api/products/slice")).send().await.unwrap().json().await.unwrap();
        assert_eq!(stock["stock"], 15);
        let retry = guest_order(&client, server).await;
        assert_eq!(retry.headers()["idempotent-replayed"], "true");
        assert_eq!(retry.json::<Value>().await.unwrap()["id"], guest["id"]);
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::moved::{PASSWORD, SECRET, check_served, sell_on};
    use super::*;
    use crate::common::ADMIN_TOKEN;
    use crate::common::browser::Browser;
    use crate::common::pg::fresh_database;
    use serde_json::{Value, json};

    /// Every line but the header, which says where and when.
    fn records(file: &Path) -> Vec<String> {
        std::fs::read_to_string(file).unwrap().lines().skip(1).map(str::to_owned).collect()
    }

    fn header(file: &Path) -> Value {
        serde_json::from_str(std::fs::read_to_string(file).unwrap().lines().next().unwrap()).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_shop_moves_from_sqlite_to_postgres_and_exports_equal_and_its_customers_sign_in() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("sqlite");
        let env = [("STAMPEDE_ADMIN_TOKEN", ADMIN_TOKEN)];
        let sqlite = Server::start_with_env(&data, &["--no-seed", "--secret-key", SECRET], &env);
        let admin =
            ["admin", "create-user", "--email", "boss@example.com", "--role", "admin", "--data-dir", path(&data)];
        let made = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
            .args(admin)
            .env("STAMPEDE_USER_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        ok(made);
        let guest = sell_on(&sqlite).await;

        // Exported while the SQLite shop is still serving.
        let (first, second) = (dir.path().join("first.jsonl"), dir.path().join("second.jsonl"));
        let said = ok(stampede(&["export", "--out", path(&first), "--data-dir", path(&data)]));
        assert!(said.contains("order: 3") && said.contains("user: 2") && said.contains("account_order: 1"), "{said}");
        assert!(said.contains("(15 units in stock)"), "20 - 2 - 3, the cancelled one given back: {said}");
        let url = fresh_database().await;
        let said = ok(stampede(&["import", path(&first), "--store", "postgres", "--database-url", &url]));
        assert!(said.contains("order: 3") && said.contains("(15 units in stock)"), "{said}");
        refused(stampede(&["import", path(&first), "--store", "postgres", "--database-url", &url]), "is not empty");
        ok(stampede(&["export", "--out", path(&second), "--store", "postgres", "--database-url", &url]));
        assert_eq!(records(&first), records(&second), "the same shop, record for record");
        // And back: PostgreSQL's export into a fresh SQLite store exports equal again.
        let (back, third) = (dir.path().join("back"), dir.path().join("third.jsonl"));
        ok(stampede(&["import", path(&second), "--data-dir", path(&back)]));
        ok(stampede(&["export", "--out", path(&third), "--data-dir", path(&back)]));
        assert_eq!(records(&first), records(&third), "back in SQLite, the same shop");
        assert_eq!(
            (header(&first)["source"].clone(), header(&second)["source"].clone()),
            (json!("sqlite"), json!("postgres"))
        );
        let money = records(&first).into_iter().find(|l| l.contains(r#""kind":"order""#)).unwrap();
        assert!(money.contains(r#""total":{"amount":"#) && money.contains(r#""currency":"USD""#), "{money}");
        sqlite.terminate();

        // Served from PostgreSQL, and the admin signs in too.
        let dir_pg = tempfile::tempdir().unwrap();
        let pg = Server::start_with_env(
            dir_pg.path(),
            &["--store", "postgres", "--no-seed", "--secret-key", SECRET],
            &[("DATABASE_URL", url.as_str())],
        );
        check_served(&pg, &guest).await;
        Browser::new(&pg.base).sign_in("boss@example.com", PASSWORD).await;
    }
}

/// (feature aws) A shop moves from SQLite to a DynamoDB table on a local moto server and back:
/// every export is the same shop up to record order, the table serves the old orders and
/// passwords, and an import that crashed half way is finished by running it again.
#[cfg(feature = "aws")]
mod dynamodb {
    use super::moved::{PASSWORD, SECRET, check_served, sell_on};
    use super::*;
    use crate::common::ADMIN_TOKEN;
    use crate::common::browser::Browser;
    use crate::common::moto::Moto;
    use serde_json::Value;
    const AWS_ENV: [(&str, &str); 3] =
        [("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local"), ("AWS_REGION", "us-east-1")];

    fn stampede_aws(args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
            .args(args)
            .envs(AWS_ENV)
            .env("STAMPEDE_USER_PASSWORD", PASSWORD)
            .env("STAMPEDE_LOG_FORMAT", "json")
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap()
    }

    fn table_args<'a>(moto: &'a Moto, table: &'a str) -> [&'a str; 6] {
        ["--store", "dynamodb", "--dynamodb-table", table, "--aws-endpoint-url", &moto.url]
    }

    fn create_table(moto: &Moto, table: &str) {
        ok(stampede_aws(&["dynamodb", "create-table", table, "--aws-endpoint-url", &moto.url]));
    }

    /// Every line but the header, sorted: the same shop whatever order a store reads it in.
    fn sorted_records(file: &Path) -> Vec<String> {
        let mut lines: Vec<String> =
            std::fs::read_to_string(file).unwrap().lines().skip(1).map(str::to_owned).collect();
        lines.sort();
        lines
    }

    fn kinds(file: &Path) -> std::collections::BTreeMap<String, usize> {
        let mut kinds = std::collections::BTreeMap::new();
        for line in std::fs::read_to_string(file).unwrap().lines().skip(1) {
            let record: Value = serde_json::from_str(line).unwrap();
            *kinds.entry(record["kind"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        kinds
    }

    /// The SQLite shop of [`sell_on`], with an admin and a kitchen account and events its
    /// webhook could not take, exported to `file`. Returns the guest's order.
    async fn seeded_export(dir: &Path, file: &Path) -> Value {
        let data = dir.join("sqlite");
        for (email, role) in [("boss@example.com", "admin"), ("cook@example.com", "kitchen")] {
            let args = ["admin", "create-user", "--email", email, "--role", role, "--data-dir", path(&data)];
            ok(stampede_aws(&args));
        }
        // A webhook nobody answers, retried in an hour: the events stay undelivered.
        let args = [
            "--no-seed",
            "--secret-key",
            SECRET,
            "--webhook-urls",
            "http://127.0.0.1:9/hook",
            "--webhook-secret",
            "unheard",
            "--notify-backoff-ms",
            "3600000",
        ];
        let sqlite = Server::start_with_env(&data, &args, &[("STAMPEDE_ADMIN_TOKEN", ADMIN_TOKEN)]);
        let guest = sell_on(&sqlite).await;
        // Cy's sign-up link goes to the dev mailbox; exported before the relay took it, it
        // would be a fifth undelivered event. Wait until only the four order events are left.
        let client = reqwest::Client::new();
        let mut counts = Value::Null;
        for _ in 0..200 {
            let page: Value = client
                .get(sqlite.url("/api/admin/outbox?limit=1"))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            counts = page["counts"].clone();
            if counts["pending"] == 4 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(counts["pending"], 4, "the sign-up link was not delivered: {counts}");
        let said = ok(stampede(&["export", "--out", path(file), "--data-dir", path(&data)]));
        assert!(
            said.contains("order: 3") && said.contains("user: 3") && said.contains("(15 units in stock)"),
            "{said}"
        );
        sqlite.terminate();
        guest
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_shop_moves_from_sqlite_to_dynamodb_and_back_with_equal_exports_and_serves_from_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first.jsonl");
        let guest = seeded_export(dir.path(), &first).await;
        let sent = kinds(&first);
        // Receipts for 3 orders and a cancellation, none delivered.
        assert_eq!(sent.get("event"), Some(&4), "{sent:?}");
        assert_eq!(sent.get("audit"), Some(&3), "two accounts and the product: {sent:?}");

        let moto = Moto::start();
        create_table(&moto, "shop");
        let into = [&["import", path(&first)][..], &table_args(&moto, "shop")].concat();
        let said = ok(stampede_aws(&into));
        assert!(
            said.contains("order: 3") && said.contains("event: 4") && said.contains("(15 units in stock)"),
            "{said}"
        );
        refused(stampede_aws(&into), "is not empty");

        let second = dir.path().join("second.jsonl");
        ok(stampede_aws(&[&["export", "--out", path(&second)][..], &table_args(&moto, "shop")].concat()));
        assert_eq!(sorted_records(&first), sorted_records(&second), "the same shop, read from the table");
        let (back, third) = (dir.path().join("back"), dir.path().join("third.jsonl"));
        ok(stampede(&["import", path(&second), "--data-dir", path(&back)]));
        ok(stampede(&["export", "--out", path(&third), "--data-dir", path(&back)]));
        assert_eq!(sorted_records(&first), sorted_records(&third), "back in SQLite, the same shop");

        // Served from the table: as from PostgreSQL, and staff sign in and open every order.
        let served = tempfile::tempdir().unwrap();
        let args = [&table_args(&moto, "shop")[..], &["--no-seed", "--secret-key", SECRET]].concat();
        let table = Server::start_with_env(served.path(), &args, &AWS_ENV);
        check_served(&table, &guest).await;
        let mut boss = Browser::new(&table.base);
        assert_eq!(boss.sign_in("boss@example.com", PASSWORD).await.status, 303);
        let staff = boss.get("/admin/staff").await;
        assert!(staff.html.contains("boss@example.com") && staff.html.contains("cook@example.com"), "{}", staff.html);
        for line in std::fs::read_to_string(&first).unwrap().lines() {
            let record: Value = serde_json::from_str(line).unwrap();
            if record["kind"] == "order" {
                let page = boss.get(&format!("/admin/orders/{}", record["id"].as_str().unwrap())).await;
                assert!(page.status == 200 && page.html.contains("Slice"), "{}", page.html);
            }
        }
        table.terminate();
    }

    /// An import that dies half way leaves its marker and some items; running it again
    /// finishes it, and the table then holds the file's records once each.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crashed_import_run_again_finishes_without_duplicates() {
        use stampede_store::transfer::Shop;
        use stampede_store::{DynamoConfig, DynamoStore};
        let dir = tempfile::tempdir().unwrap();
        let (shop_dir, file) = (dir.path().join("shop"), dir.path().join("shop.jsonl"));
        // The demo shop is seeded on first start.
        Server::start(&shop_dir, &[]).terminate();
        ok(stampede(&["export", "--out", path(&file), "--data-dir", path(&shop_dir)]));
        let mut shop = Shop::default();
        for (i, line) in std::fs::read_to_string(&file).unwrap().lines().enumerate() {
            shop.push_line(i + 1, line).unwrap();
        }
        assert!(shop.records() > 4, "the demo shop has products: {}", shop.counts);

        let moto = Moto::start();
        create_table(&moto, "shop");
        let store = DynamoStore::new(DynamoStore::local_client(&moto.url).await, DynamoConfig::new("shop"));
        // The process "dies" after three records: what was still buffered is lost with it.
        let crashed = tokio::spawn(async move {
            let mut records = 0;
            let mut done = move || {
                records += 1;
                assert!(records < 3, "crash");
            };
            stampede_store::dynamo::transfer::import(&store, &shop, &mut done).await
        })
        .await;
        assert!(crashed.is_err(), "the import was cut short");
        let other = dir.path().join("other.jsonl");
        let header = std::fs::read_to_string(&file).unwrap().lines().next().unwrap().replace("sqlite", "postgres");
        std::fs::write(&other, format!("{header}\n")).unwrap();
        refused(
            stampede_aws(&[&["import", path(&other)][..], &table_args(&moto, "shop")].concat()),
            "unfinished import",
        );
        // Neither served nor exported half imported.
        let export = [&["export"][..], &table_args(&moto, "shop")].concat();
        refused(stampede_aws(&export), "holds an unfinished import");
        let served = tempfile::tempdir().unwrap();
        let serve = [&["serve", "--data-dir", path(served.path())][..], &table_args(&moto, "shop")].concat();
        refused(stampede_aws(&serve), "holds an unfinished import");

        let said = ok(stampede_aws(&[&["import", path(&file)][..], &table_args(&moto, "shop")].concat()));
        assert!(said.starts_with(&format!("imported {}", file.display())), "{said}");
        let again = dir.path().join("again.jsonl");
        ok(stampede_aws(&[&["export", "--out", path(&again)][..], &table_args(&moto, "shop")].concat()));
        assert_eq!(sorted_records(&file), sorted_records(&again), "every record once");
        refused(stampede_aws(&[&["import", path(&file)][..], &table_args(&moto, "shop")].concat()), "is not empty");
    }
}
