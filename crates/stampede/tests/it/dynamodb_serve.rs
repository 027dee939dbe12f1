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
/// page and audit log are there, the order search (a back office DynamoDB lacks) answers 501.
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
    assert_eq!(boss.get("/admin/orders").await.status, 501);
    let mut stranger = Browser::new(&b.base);
    assert_eq!(stranger.get("/admin/staff").await.status, 303, "signed out: sent to sign in");
}
