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
