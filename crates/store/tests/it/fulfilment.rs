//! Pickup or delivery is stored with the order, survives a restart, and is part of what an
//! idempotency key is bound to; orders placed without it read back as before.

use stampede_domain::{Currency, Customer, DeliveryAddress, Fulfilment, LineRequest, Money, OrderRequest, Product};
use stampede_store::{PlaceOrder, SqliteConfig, SqliteStore, Store, StoreError};
use std::collections::BTreeMap;

fn pizza() -> Product {
    Product::new("pizza", "Pizza", "pizza", Money::new(1000, Currency::USD))
}

fn order(fulfilment: Option<Fulfilment>, key: &str) -> PlaceOrder {
    let line = LineRequest::new("pizza", 1, BTreeMap::new()).unwrap();
    let customer = Customer::with_email("ana@example.com", Some("Ana")).unwrap();
    let request = OrderRequest::new(customer, vec![line]).unwrap().with_fulfilment(fulfilment);
    PlaceOrder { request, idempotency_key: Some(key.to_owned()) }
}

#[tokio::test]
async fn fulfilment_is_kept_with_the_order_and_bound_to_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let delivery = Fulfilment::Delivery(DeliveryAddress::new("1 Main St", "Springfield", "12345").unwrap());
    let (delivered, plain) = {
        let store = SqliteStore::open(SqliteConfig::in_dir(dir.path())).unwrap();
        store.create_product(pizza(), 10).await.unwrap();
        let delivered = store.place_order(order(Some(delivery.clone()), "k1")).await.unwrap().order;
        assert_eq!(delivered.fulfilment, Some(delivery.clone()));
        let plain = store.place_order(order(None, "k2")).await.unwrap().order;
        assert_eq!(plain.fulfilment, None);
        // Another address under the same key is another request.
        let moved = Fulfilment::Delivery(DeliveryAddress::new("2 High St", "Springfield", "12345").unwrap());
        assert!(matches!(store.place_order(order(Some(moved), "k1")).await, Err(StoreError::IdempotencyMismatch(_))));
        (delivered.id, plain.id)
    };
    let store = SqliteStore::open(SqliteConfig::in_dir(dir.path())).unwrap();
    assert_eq!(store.order(&delivered).await.unwrap().unwrap().fulfilment, Some(delivery.clone()));
    assert_eq!(store.order(&plain).await.unwrap().unwrap().fulfilment, None);
    let replay = store.place_order(order(Some(delivery), "k1")).await.unwrap();
    assert!(replay.replayed && replay.order.id == delivered);
}

#[tokio::test]
async fn phone_and_slot_are_kept_with_the_order_and_bound_to_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let phone = stampede_domain::Phone::new("+1 555 0100").unwrap();
    let with_contact = |slot: Option<i64>, key: &str| {
        let mut o = order(Some(Fulfilment::Pickup), key);
        o.request = o.request.with_contact(Some(phone.clone()), slot).unwrap();
        o
    };
    let id = {
        let store = SqliteStore::open(SqliteConfig::in_dir(dir.path())).unwrap();
        store.create_product(pizza(), 10).await.unwrap();
        let placed = store.place_order(with_contact(Some(1_796_062_500_000), "k1")).await.unwrap().order;
        assert_eq!((placed.phone.as_ref(), placed.slot), (Some(&phone), Some(1_796_062_500_000)));
        // Another time under the same key is another request.
        let later = store.place_order(with_contact(Some(1_796_063_400_000), "k1")).await;
        assert!(matches!(later, Err(StoreError::IdempotencyMismatch(_))));
        let asap = store.place_order(order(Some(Fulfilment::Pickup), "k2")).await.unwrap().order;
        assert_eq!((asap.phone, asap.slot), (None, None));
        placed.id
    };
    let store = SqliteStore::open(SqliteConfig::in_dir(dir.path())).unwrap();
    let read = store.order(&id).await.unwrap().unwrap();
    assert_eq!(
        (read.phone.map(|p| p.as_str().to_owned()), read.slot),
        (Some("+1 555 0100".into()), Some(1_796_062_500_000))
    );
}
