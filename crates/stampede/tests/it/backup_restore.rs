//! `stampede backup` during a sale and `stampede restore`, against the real binary.

use crate::common::process::Server;
use crate::common::sale::{RunningSale, STOCK, TOKEN, sales};
use std::process::Command;
use std::time::Duration;

fn stampede(args: &[&str], data_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stampede")).args(args).arg("--data-dir").arg(data_dir).output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_mid_sale_restores_to_a_consistent_shop() {
    let (live, restored) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let backup_file = live.path().join("backup.db");
    let RunningSale { client, server, stop, acked } = RunningSale::start(live.path(), &[], 200).await;
    let out = stampede(&["backup", backup_file.to_str().unwrap()], live.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let during = acked.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(acked.lock().unwrap().len() > during, "sales must go on during the backup");
    RunningSale::stopped(stop, acked).await;

    // Restoring onto a running server's data directory is refused.
    let refused = stampede(&["restore", backup_file.to_str().unwrap(), "--force"], live.path());
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("in use"));
    drop(server);

    let out = stampede(&["restore", backup_file.to_str().unwrap()], restored.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = stampede(&["restore", backup_file.to_str().unwrap()], restored.path());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("--force"),
        "an existing database is not replaced silently"
    );
    let server = Server::start(restored.path(), &["--admin-token", TOKEN]);
    let s = sales(&client, &server).await;
    let (stock, sold, orders) =
        (s["stock"].as_u64().unwrap(), s["unitsSold"].as_u64().unwrap(), s["orders"].as_u64().unwrap());
    assert_eq!(stock + sold, STOCK, "inconsistent snapshot: {s}");
    assert!(orders >= 200 && sold == orders, "{s}");
    // Every product of the seeded demo shop is consistent too.
    let products: Vec<serde_json::Value> =
        client.get(server.url("/api/products")).send().await.unwrap().json().await.unwrap();
    assert!(products.len() > 1);
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Server::start(dir.path(), &["--no-seed"]);
    let second = Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["--addr", "127.0.0.1:0", "--no-seed", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("in use by another stampede process"));
}

#[test]
fn backing_up_a_missing_database_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = stampede(&["backup", dir.path().join("b.db").to_str().unwrap()], &dir.path().join("nothing"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not exist"), "{err}");
    assert!(err.contains("pg_dump"), "points a PostgreSQL shop at pg_dump: {err}");
}
