//! The back office on every engine that has it: product edits and stock adjustments show at
//! once in the catalog, and the staff order search filters by status, time and customer.

use super::checks::{order, product};
use super::staff::Shop;
use stampede_domain::{Currency, Customer, LineRequest, Money, OrderRequest, OrderStatus};
use stampede_store::{OrderFilter, OrderPage, PlaceOrder, Store, StoreError};
use std::collections::BTreeMap;

async fn place(store: &dyn Store, email: &str, name: &str, qty: i64) -> String {
    let line = LineRequest::new("p", qty, BTreeMap::new()).unwrap();
    let request = OrderRequest::new(Customer::with_email(email, Some(name)).unwrap(), vec![line]).unwrap();
    store.place_order(PlaceOrder { request, idempotency_key: None }).await.unwrap().order.id
}

pub async fn edits_and_stock_adjustments_show_at_once(shop: Shop) {
    let (store, office) = (&shop.store, &shop.backoffice);
    store.create_product(product("p", 1), 10).await.unwrap();
    let mut edited = product("p", 1);
    edited.name = "Pizza".into();
    edited.base_price = Money::new(700, Currency::USD);
    edited.sale.per_customer_max = Some(2);
    let view = office.update_product(edited.clone()).await.unwrap();
    assert_eq!((view.stock, view.product.name.as_str()), (10, "Pizza"));
    assert_eq!(store.product("p").await.unwrap().unwrap().product, edited, "the catalog sees it");

    assert_eq!(office.adjust_stock("p", 5).await.unwrap().stock, 15);
    assert!(matches!(office.adjust_stock("p", i64::MAX).await, Err(StoreError::Conflict(_))), "no overflow");
    assert!(matches!(office.adjust_stock("p", i64::from(u32::MAX)).await, Err(StoreError::Conflict(_))));
    let too_far = office.adjust_stock("p", -16).await;
    assert!(matches!(too_far, Err(StoreError::Conflict(_))), "{too_far:?}");
    assert_eq!(office.adjust_stock("p", -15).await.unwrap().stock, 0);
    assert_eq!(store.product("p").await.unwrap().unwrap().stock, 0);
    assert!(matches!(office.adjust_stock("nope", 1).await, Err(StoreError::NotFound { .. })));
    assert!(matches!(office.update_product(product("nope", 1)).await, Err(StoreError::NotFound { .. })));
    let mut invalid = edited.clone();
    invalid.name = " ".into();
    assert!(matches!(office.update_product(invalid).await, Err(StoreError::Rejected(_))));
    assert_eq!(store.product("p").await.unwrap().unwrap().product, edited, "a refused edit changes nothing");

    // Topped up to the most stock there can be, a cancel's units do not push it past that.
    store.create_product(product("full", 1), u32::MAX).await.unwrap();
    let placed = store.place_order(order("ana", &[("full", 1)], None)).await.unwrap();
    assert_eq!(office.adjust_stock("full", 1).await.unwrap().stock, u32::MAX);
    store.cancel_order(&placed.order.id).await.unwrap();
    assert_eq!(store.product("full").await.unwrap().unwrap().stock, u32::MAX);
    assert_eq!(store.products().await.unwrap().len(), 2, "the menu still reads");
}

/// Stock split over counters (PostgreSQL, DynamoDB) stays whole through adjustments and edits:
/// every unit added can be sold, in one order, and none more.
pub async fn adjusted_stock_on_several_counters_sells_exactly(shop: Shop) {
    let (store, office) = (&shop.store, &shop.backoffice);
    store.create_product(product("hot", 4), 2).await.unwrap();
    assert_eq!(office.adjust_stock("hot", 13).await.unwrap().stock, 15);
    let renamed = stampede_domain::Product { name: "Hot deal".into(), ..product("hot", 4) };
    let view = office.update_product(renamed).await.unwrap();
    assert_eq!((view.stock, view.product.stock_shards), (15, 4), "an edit keeps the stock and its counters");
    store.place_order(order("ana", &[("hot", 15)], None)).await.unwrap();
    let more = store.place_order(order("bo", &[("hot", 1)], None)).await;
    assert!(matches!(more, Err(StoreError::Rejected(_))), "{more:?}");
    assert_eq!(office.adjust_stock("hot", 1).await.unwrap().stock, 1);
}

pub async fn the_order_search_filters_by_status_time_and_customer(shop: Shop) {
    let (store, office) = (&*shop.store, &shop.backoffice);
    store.create_product(product("p", 1), 100).await.unwrap();
    let ana = place(store, "ana@example.com", "Ana Lima", 1).await;
    let bo = place(store, "bo_x@example.com", "Bo", 1).await;
    let cy = place(store, "cy@example.com", "Cy", 1).await;
    store.set_status(&bo, OrderStatus::Preparing).await.unwrap();
    let ids = |page: OrderPage| page.orders.into_iter().map(|o| o.id).collect::<Vec<_>>();
    let all = OrderFilter { limit: 50, ..OrderFilter::default() };
    assert_eq!(ids(office.find_orders(all.clone()).await.unwrap()), [cy.clone(), bo.clone(), ana.clone()]);
    let preparing = OrderFilter { status: Some(OrderStatus::Preparing), ..all.clone() };
    assert_eq!(ids(office.find_orders(preparing).await.unwrap()), [bo.as_str()]);
    let by_name = OrderFilter { customer: Some("LIMA".into()), ..all.clone() };
    assert_eq!(ids(office.find_orders(by_name).await.unwrap()), [ana.as_str()]);
    let by_email = OrderFilter { customer: Some(" CY@Example".into()), ..all.clone() };
    assert_eq!(ids(office.find_orders(by_email).await.unwrap()), [cy.as_str()], "case and blanks do not matter");
    let underscore = OrderFilter { customer: Some("o_x".into()), ..all.clone() };
    assert_eq!(ids(office.find_orders(underscore).await.unwrap()), [bo.as_str()], "wildcards are literal");
    let percent = OrderFilter { customer: Some("%".into()), ..all.clone() };
    assert!(office.find_orders(percent).await.unwrap().orders.is_empty());
    let future = OrderFilter { from: Some(i64::MAX / 2), ..all.clone() };
    assert!(office.find_orders(future).await.unwrap().orders.is_empty());
    let past = OrderFilter { to: Some(1), ..all.clone() };
    assert!(office.find_orders(past).await.unwrap().orders.is_empty());

    let first = office.find_orders(OrderFilter { limit: 2, ..all.clone() }).await.unwrap();
    assert_eq!(first.orders.len(), 2);
    let cursor = first.next_cursor.clone();
    let rest = office.find_orders(OrderFilter { limit: 2, cursor, ..all }).await.unwrap();
    assert_eq!(ids(rest.clone()), [ana]);
    assert_eq!(rest.next_cursor, None);
}

/// Stock adjustments racing orders over several counters lose and invent no unit: what was
/// sold plus what is left is the stock plus what the adjustments that went through added, and
/// what is left sells exactly.
pub async fn adjustments_racing_orders_keep_every_unit(shop: Shop) {
    let (store, office) = (shop.store.clone(), shop.backoffice.clone());
    store.create_product(product("race", 4), 20).await.unwrap();
    let mut orders = tokio::task::JoinSet::new();
    for i in 0..30 {
        let store = store.clone();
        orders.spawn(async move { store.place_order(order(&format!("c{i}"), &[("race", 1)], None)).await.is_ok() });
    }
    let adjust = |delta: i64| {
        let office = office.clone();
        tokio::spawn(async move {
            match office.adjust_stock("race", delta).await {
                Ok(_) => delta,
                // Too little left at that moment, or too contended: nothing changed.
                Err(StoreError::Conflict(_) | StoreError::Busy { .. }) => 0,
                Err(e) => panic!("{e:?}"),
            }
        })
    };
    let (add, take) = (adjust(10), adjust(-5));
    let sold = orders.join_all().await.into_iter().filter(|ok| *ok).count() as i64;
    let adjusted = add.await.unwrap() + take.await.unwrap();
    let left = store.product("race").await.unwrap().unwrap().stock;
    assert_eq!(sold + i64::from(left), 20 + adjusted, "sold {sold}, left {left}, adjusted {adjusted}");
    if left > 0 {
        store.place_order(order("rest", &[("race", i64::from(left))], None)).await.unwrap();
    }
    let more = store.place_order(order("late", &[("race", 1)], None)).await;
    assert!(matches!(more, Err(StoreError::Rejected(_))), "{more:?}");
}
