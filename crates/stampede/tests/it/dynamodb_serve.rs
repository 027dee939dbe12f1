//! `stampede serve --store dynamodb`: two instances of the real binary on one table of a
//! local moto server, as several always-warm servers behind a load balancer would run.
//! Run: `cargo test -p stampede --features aws --test it dynamodb_serve::`.
use crate::common::ADMIN_TOKEN;
use crate::common::moto::Moto;
use crate::common::process::Server;

const AWS_ENV: [(&str, &str); 4] = [
    ("AWS_ACCESS_KEY_ID", "local"),
    ("AWS_SECRET_ACCESS_KEY", "local"),
    ("AWS_REGION", "us-east-1"),
    ("STAMPEDE_ADMIN_TOKEN", ADMIN_TOKEN),
];

fn instance(moto: &Moto, dir: &std::path::Path) -> Server {
    let args = [
        "--store",
        "dynamodb",
        "--dynamodb-table",
        "shop",
        "--aws-endpoint-url",
        &moto.url,
        "--secret-key",
        "one-secret-for-every-instance",
        "--no-seed",
    ];
    Server::start_with_env(dir, &args, &AWS_ENV)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_sell_one_table_without_overselling_and_deliver_every_event_once() {
    let moto = Moto::start();
    let created = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["dynamodb", "create-table", "shop", "--aws-endpoint-url", &moto.url])
        .envs(AWS_ENV)
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (instance(&moto, dir_a.path()), instance(&moto, dir_b.path()));
    crate::common::two_instances::sell_one_product_through_both(&a, &b).await;
}

#[tokio::test]
async fn a_build_without_the_table_says_what_is_missing() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["--store", "dynamodb", "--dynamodb-table", "missing", "--aws-endpoint-url", &moto.url])
        .envs(AWS_ENV)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reaching the DynamoDB table missing"), "{err}");
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_stampede")).args(["--store", "dynamodb"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--dynamodb-table"), "clap names the missing setting");
}

/// Accounts live in the table: an admin made by `stampede admin create-user --dynamodb-table`
/// signs in on one instance and the same session works on the other; the dashboard's staff
/// page and audit log are there, and so is the back office: the order search on one instance
/// finds an order placed on the other, a stock adjustment there reaches the table's counters,
/// and the analytics page answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staff_sign_in_on_one_instance_and_the_session_holds_on_another() {
    use crate::common::browser::Browser;
    let moto = Moto::start();
    let stampede = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
            .args(args)
            .envs(AWS_ENV)
            .env("STAMPEDE_USER_PASSWORD", "correct horse battery")
            .output()
            .unwrap()
    };
    let created = stampede(&["dynamodb", "create-table", "shop", "--aws-endpoint-url", &moto.url]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let admin = ["admin", "create-user", "--email", "Boss@Example.com", "--role", "admin"];
    let made = stampede(&[&admin[..], &["--dynamodb-table", "shop", "--aws-endpoint-url", &moto.url]].concat());
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let again = stampede(&[&admin[..], &["--dynamodb-table", "shop", "--aws-endpoint-url", &moto.url]].concat());
    assert!(!again.status.success(), "one account per email");

    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (instance(&moto, dir_a.path()), instance(&moto, dir_b.path()));
    let mut boss = Browser::new(&a.base);
    let signed_in = boss.sign_in("boss@example.com", "correct horse battery").await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.html);
    boss.base = b.base.clone();
    let staff = boss.get("/admin/staff").await;
    assert!(staff.status == 200 && staff.html.contains("boss@example.com"), "{} {}", staff.status, staff.html);
    let audit = boss.get("/admin/audit").await;
    assert!(audit.status == 200 && audit.html.contains("user.create"), "{}", audit.html);

    let client = reqwest::Client::new();
    let pie = serde_json::json!({"id": "pie", "name": "Pie", "category": "pizza",
        "price": {"amount": 900, "currency": "USD"}, "stock": 3, "stockShards": 2});
    let made = client.post(a.url("/api/admin/products")).bearer_auth(ADMIN_TOKEN).json(&pie).send().await.unwrap();
    assert_eq!(made.status(), 201, "{}", made.text().await.unwrap());
    let body = crate::common::order_body("bo_x@example.com", "pie", 1);
    let placed: serde_json::Value =
        client.post(a.url("/api/orders")).json(&body).send().await.unwrap().json().await.unwrap();
    let id = placed["id"].as_str().unwrap().to_owned();
    let orders = boss.get("/admin/orders").await;
    assert!(orders.status == 200 && orders.html.contains(&id), "{} {}", orders.status, orders.html);
    let found = boss.get("/admin/orders?customer=BO_X%40").await;
    assert!(found.status == 200 && found.html.contains(&id), "{}", found.html);
    let none = boss.get("/admin/orders?customer=nobody").await;
    assert!(none.status == 200 && !none.html.contains(&id), "{}", none.html);
    let adjusted = boss.post("/admin/products/pie/stock", &[("delta", "+5"), ("reason", "delivery")]).await;
    assert_eq!(adjusted.status, 303, "{}", adjusted.html);
    let sales = crate::common::admin_json(&client, &a.url("/api/admin/products/pie/sales")).await;
    assert_eq!(sales["stock"], 7, "3 - 1 sold + 5 delivered, on the table's counters: {sales}");
    assert_eq!(boss.get("/admin/analytics").await.status, 200);
    let mut stranger = Browser::new(&b.base);
    assert_eq!(stranger.get("/admin/staff").await.status, 303, "signed out: sent to sign in");
}
