//! The back office on the SQLite store: product edits and stock adjustments go through the
//! writer and show at once in the live catalog (and survive a restart); the staff order
//! search filters by status, time and customer.

use stampede_domain::{Currency, Customer, LineRequest, Money, OrderRequest, OrderStatus, Product, SaleRules};
use stampede_store::{Backoffice, OrderFilter, PlaceOrder, SqliteConfig, SqliteStore, Store, StoreError};
use std::collections::BTreeMap;

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

async fn place(store: &SqliteStore, email: &str, name: &str, qty: i64) -> String {
    let line = LineRequest::new("p", qty, BTreeMap::new()).unwrap();
    let request = OrderRequest::new(Customer::with_email(email, Some(name)).unwrap(), vec![line]).unwrap();
    store.place_order(PlaceOrder { request, idempotency_key: None }).await.unwrap().order.id
}

fn open(dir: &std::path::Path) -> SqliteStore {
    SqliteStore::open(SqliteConfig::in_dir(dir)).unwrap()
}

#[tokio::test]
async fn edits_and_stock_adjustments_show_at_once_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_product(product("p"), 10).await.unwrap();
    let mut edited = product("p");
    edited.name = "Pizza".into();
    edited.base_price = Money::new(700, Currency::USD);
    edited.sale.per_customer_max = Some(2);
    let view = store.update_product(edited.clone()).await.unwrap();
    assert_eq!((view.stock, view.product.name.as_str()), (10, "Pizza"));
    assert_eq!(store.product("p").await.unwrap().unwrap().product, edited, "the live catalog sees it");

    let more = store.adjust_stock("p", 5).await.unwrap();
    assert_eq!(more.stock, 15);
    assert!(matches!(store.adjust_stock("p", i64::MAX).await, Err(StoreError::Conflict(_))), "no overflow");
    assert!(matches!(store.adjust_stock("p", i64::from(u32::MAX)).await, Err(StoreError::Conflict(_))));
    let too_far = store.adjust_stock("p", -16).await;
    assert!(matches!(too_far, Err(StoreError::Conflict(_))), "{too_far:?}");
    assert_eq!(store.adjust_stock("p", -15).await.unwrap().stock, 0);
    assert_eq!(store.product("p").await.unwrap().unwrap().stock, 0);
    assert!(matches!(store.adjust_stock("nope", 1).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(store.update_product(product("nope")).await, Err(StoreError::NotFound { .. })));
    let mut invalid = edited.clone();
    invalid.name = " ".into();
    assert!(matches!(store.update_product(invalid).await, Err(StoreError::Rejected(_))));
    store.adjust_stock("p", 3).await.unwrap();

    drop(store);
    let reopened = open(dir.path());
    let view = reopened.product("p").await.unwrap().unwrap();
    assert_eq!((view.stock, view.product), (3, edited));
}

#[tokio::test]
async fn the_order_search_filters_by_status_time_and_customer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_product(product("p"), 100).await.unwrap();
    let ana = place(&store, "ana@example.com", "Ana Lima", 1).await;
    let bo = place(&store, "bo_x@example.com", "Bo", 1).await;
    let cy = place(&store, "cy@example.com", "Cy", 1).await;
    store.set_status(&bo, OrderStatus::Preparing).await.unwrap();
    let ids = |page: stampede_store::OrderPage| page.orders.into_iter().map(|o| o.id).collect::<Vec<_>>();
    let all = OrderFilter { limit: 50, ..OrderFilter::default() };
    assert_eq!(ids(store.find_orders(all.clone()).await.unwrap()), [cy.clone(), bo.clone(), ana.clone()]);
    let preparing = OrderFilter { status: Some(OrderStatus::Preparing), ..all.clone() };
    assert_eq!(ids(store.find_orders(preparing).await.unwrap()), [bo.as_str()]);
    let by_name = OrderFilter { customer: Some("LIMA".into()), ..all.clone() };
    assert_eq!(ids(store.find_orders(by_name).await.unwrap()), [ana.as_str()]);
    let underscore = OrderFilter { customer: Some("o_x".into()), ..all.clone() };
    assert_eq!(ids(store.find_orders(underscore).await.unwrap()), [bo.as_str()], "wildcards are literal");
    let percent = OrderFilter { customer: Some("%".into()), ..all.clone() };
    assert!(store.find_orders(percent).await.unwrap().orders.is_empty());
    let future = OrderFilter { from: Some(i64::MAX / 2), ..all.clone() };
    assert!(store.find_orders(future).await.unwrap().orders.is_empty());
    let past = OrderFilter { to: Some(1), ..all.clone() };
    assert!(store.find_orders(past).await.unwrap().orders.is_empty());

    let first = store.find_orders(OrderFilter { limit: 2, ..all.clone() }).await.unwrap();
    assert_eq!(first.orders.len(), 2);
    let cursor = first.next_cursor.clone();
    let rest = store.find_orders(OrderFilter { limit: 2, cursor, ..all }).await.unwrap();
    assert_eq!(ids(rest.clone()), [ana]);
    assert_eq!(rest.next_cursor, None);
}
