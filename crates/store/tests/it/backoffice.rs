//! The back office on the SQLite store beyond the conformance checks
//! (`conformance/backoffice_checks.rs`): edits and stock adjustments go through the writer
//! and survive a restart.

use stampede_domain::{Currency, Money, Product, SaleRules};
use stampede_store::{Backoffice, SqliteConfig, SqliteStore, Store};

fn product(id: &str) -> Product {
    Product {
        id: id.into(),
        name: id.into(),
        description: String::new(),
        category: "pizza".into(),
        base_price: Money::new(500, Currency::USD),
        option_groups: vec![],
        sale: SaleRules::default(),
        image: None,
        archived: false,
        stock_shards: 1,
    }
}

#[tokio::test]
async fn edits_and_stock_adjustments_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteConfig::in_dir(dir.path())).unwrap();
    store.create_product(product("p"), 10).await.unwrap();
    let edited = Product { name: "Pizza".into(), ..product("p") };
    store.update_product(edited.clone()).await.unwrap();
    store.adjust_stock("p", -7).await.unwrap();
    drop(store);
    let reopened = SqliteStore::open(SqliteConfig::in_dir(dir.path())).unwrap();
    let view = reopened.product("p").await.unwrap().unwrap();
    assert_eq!((view.stock, view.product), (3, edited));
}
