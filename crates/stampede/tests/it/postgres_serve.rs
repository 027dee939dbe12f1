//! `stampede serve --store postgres`: `stampede migrate`, then two instances of the real
//! binary on one database of a throwaway PostgreSQL cluster, as several servers behind a load
//! balancer would run. Run: `cargo test -p stampede --features postgres --test it postgres_serve::`.
use crate::common::ADMIN_TOKEN;
use crate::common::process::Server;

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
    let url = crate::common::pg_server::url();
    let first = migrate(url);
    assert!(first.starts_with("applied migrations [1, 2, 3]"), "{first}");
    assert!(migrate(url).starts_with("schema is up to date"), "a second run changes nothing");
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (instance(url, dir_a.path()), instance(url, dir_b.path()));
    crate::common::two_instances::sell_one_product_through_both(&a, &b).await;
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
