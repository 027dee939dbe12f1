//! The back office on the SQLite store beyond the conformance checks
//! (`conformance/backoffice_checks.rs`): edits and stock adjustments go through the writer
//! and survive a restart.

use crate::conformance::checks::product;
use stampede_domain::Product;
use stampede_store::{Backoffice, SqliteConfig, SqliteStore, Store};

#[tokio::test]
async fn edits_and_stock_adjustments_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteConfig::in_dir(dir.path())).unwrap();
    store.create_product(product("p", 1), 10).await.unwrap();
    let edited = Product { name: "Pizza".into(), ..product("p", 1) };
    store.update_product(edited.clone()).await.unwrap();
    store.adjust_stock("p", -7).await.unwrap();
    drop(store);
    let reopened = SqliteStore::open(SqliteConfig::in_dir(dir.path())).unwrap();
    let view = reopened.product("p").await.unwrap().unwrap();
    assert_eq!((view.stock, view.product), (3, edited));
}
