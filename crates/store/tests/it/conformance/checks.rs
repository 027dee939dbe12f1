//! The checks every storage adapter must pass. Each takes a fresh, empty store.

use super::interleaved::Interleaved;
use stampede_domain::{
    Currency, Customer, CustomerKey, LineRequest, Money, OrderRejection, OrderRequest, OrderStatus, Product, SaleRules,
    TicketState, WaitingRoomRules, last_rank_arrived_by,
};
use stampede_store::outbox::{ORDER_CANCELLED, ORDER_PLACED};
use stampede_store::waiting_room::LATE_WRITE_GRACE;
use stampede_store::{
    Claim, LineEntry, NewMail, OutboxState, PageRequest, PlaceOrder, Settle, Settlement, Store, StoreError,
};
use stampede_store::{Lines, WaitingRoom};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;

type S = Arc<dyn Store>;

pub fn product(id: &str, shards: u32) -> Product {
    Product {
        stock_shards: shards,
        ..Product::new(id, id.to_uppercase(), "flash-sale", Money::new(500, Currency::USD))
    }
}

pub fn limited(id: &str, per_customer: u32) -> Product {
    Product { sale: SaleRules { per_customer_max: Some(per_customer), ..SaleRules::default() }, ..product(id, 1) }
}

pub fn order(customer: &str, lines: &[(&str, i64)], key: Option<&str>) -> PlaceOrder {
    let lines = lines.iter().map(|(p, q)| LineRequest::new(p, *q, BTreeMap::new()).unwrap()).collect();
    let request = OrderRequest::new(Customer::with_user_id(customer).unwrap(), lines).unwrap();
    PlaceOrder { request, idempotency_key: key.map(str::to_owned) }
}

async fn stock(store: &S, id: &str) -> u32 {
    store.product(id).await.unwrap().unwrap().stock
}

/// Places orders concurrently; the outcomes in the order given.
async fn concurrently(store: &S, orders: Vec<PlaceOrder>) -> Vec<Result<stampede_store::Placed, StoreError>> {
    let mut set = JoinSet::new();
    for (i, o) in orders.into_iter().enumerate() {
        let s = store.clone();
        set.spawn(async move { (i, s.place_order(o).await) });
    }
    let mut results: Vec<_> = set.join_all().await;
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

pub async fn catalog_keeps_creation_order_and_refuses_duplicates(store: S) {
    for (id, shards) in [("zeta", 1), ("alpha", 4), ("mid", 2)] {
        store.create_product(product(id, shards), 10).await.unwrap();
    }
    let all = store.products().await.unwrap();
    let ids: Vec<_> = all.iter().map(|v| v.product.id.as_str()).collect();
    assert_eq!(ids, ["zeta", "alpha", "mid"]);
    assert!(all.iter().all(|v| v.stock == 10));
    assert_eq!(store.product("alpha").await.unwrap().unwrap().product.stock_shards, 4);
    assert!(store.product("nope").await.unwrap().is_none());
    assert!(matches!(store.create_product(product("zeta", 1), 5).await, Err(StoreError::Conflict(_))));
    assert_eq!(stock(&store, "zeta").await, 10, "a refused duplicate changes nothing");
    let bad = store.create_product(product("wide", stampede_domain::MAX_STOCK_SHARDS + 1), 5).await;
    assert!(matches!(bad, Err(StoreError::Rejected(OrderRejection::Invalid(_)))), "{bad:?}");
    store.ping().await.unwrap();
}

pub async fn placing_takes_stock_and_writes_the_outbox_event_with_the_order(store: S) {
    store.create_product(product("cola", 1), 5).await.unwrap();
    store.create_product(product("chips", 3), 9).await.unwrap();
    let placed = store.place_order(order("ana", &[("cola", 2), ("chips", 4), ("cola", 1)], None)).await.unwrap();
    assert!(!placed.replayed);
    let o = &placed.order;
    assert_eq!(o.status, OrderStatus::Received);
    assert_eq!(o.total, Money::new(3500, Currency::USD));
    assert_eq!(o.lines.len(), 3);
    assert_eq!((stock(&store, "cola").await, stock(&store, "chips").await), (2, 5));
    assert_eq!(store.order(&o.id).await.unwrap().as_ref(), Some(o));
    assert!(store.order("no-such-order").await.unwrap().is_none());
    let events = store.outbox_events(OutboxState::Pending, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].kind.as_str(), events[0].order_id.as_str()), (ORDER_PLACED, o.id.as_str()));
    assert_eq!(events[0].payload["orderId"], o.id.as_str());
    assert_eq!(events[0].payload["status"], "received");
    let sales = store.product_sales("cola").await.unwrap();
    assert_eq!((sales.stock, sales.units_sold, sales.orders), (2, 3, 1));
    // Holdings of a product without a per-customer limit are counted by SQLite only.
    assert!(matches!(sales.max_units_per_customer, Some(3) | None));
    assert!(matches!(store.product_sales("nope").await, Err(StoreError::NotFound { .. })));
}

pub async fn shortfalls_and_unknown_products_are_refused(store: S) {
    store.create_product(product("cola", 2), 3).await.unwrap();
    let short = store.place_order(order("ana", &[("cola", 4)], None)).await.unwrap_err();
    assert!(
        matches!(short, StoreError::Rejected(OrderRejection::OutOfStock { requested: 4, available: 3, .. })),
        "{short:?}"
    );
    let unknown = store.place_order(order("ana", &[("cola", 1), ("beer", 1)], None)).await.unwrap_err();
    assert!(
        matches!(unknown, StoreError::Rejected(OrderRejection::UnknownProduct(ref p)) if p == "beer"),
        "{unknown:?}"
    );
    assert_eq!(stock(&store, "cola").await, 3, "a refused order takes nothing");
    assert_eq!(store.outbox_counts().await.unwrap().pending, 0, "and announces nothing");
}

pub async fn idempotent_retries_replay_the_original_order(store: S) {
    store.create_product(product("cola", 1), 2).await.unwrap();
    let first = store.place_order(order("ana", &[("cola", 2)], Some("k-1"))).await.unwrap();
    // Sold out now, yet the retry still gets its order back.
    let again = store.place_order(order("ana", &[("cola", 2)], Some("k-1"))).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.order, first.order);
    assert_eq!(stock(&store, "cola").await, 0);
    let other = store.place_order(order("ana", &[("cola", 1)], Some("k-1"))).await.unwrap_err();
    assert!(matches!(other, StoreError::IdempotencyMismatch(ref k) if k == "k-1"), "{other:?}");
    assert_eq!(store.outbox_counts().await.unwrap().pending, 1);
}

pub async fn concurrent_retries_with_one_key_place_one_order(store: S) {
    store.create_product(product("cola", 2), 50).await.unwrap();
    let results = concurrently(&store, (0..12).map(|_| order("ana", &[("cola", 3)], Some("same"))).collect()).await;
    let ids: std::collections::BTreeSet<_> = results.iter().map(|r| r.as_ref().unwrap().order.id.clone()).collect();
    assert_eq!(ids.len(), 1, "every retry names the one order");
    assert_eq!(results.iter().filter(|r| !r.as_ref().unwrap().replayed).count(), 1);
    assert_eq!(stock(&store, "cola").await, 47);
}

pub async fn customer_limits_count_earlier_orders_until_cancelled(store: S) {
    store.create_product(limited("ticket", 2), 10).await.unwrap();
    let first = store.place_order(order("ana", &[("ticket", 2)], None)).await.unwrap();
    let over = store.place_order(order("ana", &[("ticket", 1)], None)).await.unwrap_err();
    assert!(
        matches!(over, StoreError::Rejected(OrderRejection::CustomerLimit { limit: 2, already: 2, .. })),
        "{over:?}"
    );
    store.place_order(order("bob", &[("ticket", 2)], None)).await.unwrap();
    store.cancel_order(&first.order.id).await.unwrap();
    store.place_order(order("ana", &[("ticket", 1)], None)).await.unwrap();
    assert_eq!(stock(&store, "ticket").await, 7);
    assert_eq!(store.product_sales("ticket").await.unwrap().max_units_per_customer, Some(2));
}

pub async fn concurrent_orders_of_one_customer_respect_the_limit(store: S) {
    store.create_product(limited("ticket", 3), 100).await.unwrap();
    let results = concurrently(&store, (0..10).map(|_| order("ana", &[("ticket", 1)], None)).collect()).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r, StoreError::Rejected(OrderRejection::CustomerLimit { .. })), "{r:?}");
    }
    assert_eq!(ok, 3);
    assert_eq!(stock(&store, "ticket").await, 97);
}

pub async fn cancelling_returns_stock_exactly_once(store: S) {
    store.create_product(product("cola", 3), 10).await.unwrap();
    let placed = store.place_order(order("ana", &[("cola", 4)], None)).await.unwrap();
    assert_eq!(stock(&store, "cola").await, 6);
    let cancelled = store.cancel_order(&placed.order.id).await.unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(stock(&store, "cola").await, 10);
    let again = store.cancel_order(&placed.order.id).await.unwrap_err();
    assert!(matches!(again, StoreError::NotCancellable { status: OrderStatus::Cancelled, .. }), "{again:?}");
    assert_eq!(stock(&store, "cola").await, 10);
    assert_eq!(store.order(&placed.order.id).await.unwrap().unwrap().status, OrderStatus::Cancelled);
    let kinds: Vec<_> =
        store.outbox_events(OutboxState::Pending, 10).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [ORDER_CANCELLED, ORDER_PLACED], "newest first");
    assert!(matches!(store.cancel_order("missing").await, Err(StoreError::NotFound { .. })));
    assert_eq!(store.product_sales("cola").await.unwrap().units_sold, 0);
}

pub async fn concurrent_cancels_return_stock_once(store: S) {
    store.create_product(product("cola", 2), 10).await.unwrap();
    let placed = store.place_order(order("ana", &[("cola", 5)], None)).await.unwrap();
    let mut set = JoinSet::new();
    for _ in 0..8 {
        let (s, id) = (store.clone(), placed.order.id.clone());
        set.spawn(async move { s.cancel_order(&id).await });
    }
    let results = set.join_all().await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r, StoreError::NotCancellable { .. }), "{r:?}");
    }
    assert_eq!(stock(&store, "cola").await, 10);
}

pub async fn staff_status_changes_follow_the_workflow(store: S) {
    store.create_product(product("pizza", 1), 5).await.unwrap();
    let id = store.place_order(order("ana", &[("pizza", 1)], None)).await.unwrap().order.id;
    assert_eq!(store.set_status(&id, OrderStatus::Preparing).await.unwrap().status, OrderStatus::Preparing);
    let back = store.set_status(&id, OrderStatus::Received).await.unwrap_err();
    assert!(matches!(back, StoreError::InvalidTransition { from: OrderStatus::Preparing, .. }), "{back:?}");
    let customer = store.cancel_order(&id).await.unwrap_err();
    assert!(matches!(customer, StoreError::NotCancellable { status: OrderStatus::Preparing, .. }), "{customer:?}");
    // Staff may still cancel while preparing, and that returns the stock.
    store.set_status(&id, OrderStatus::Cancelled).await.unwrap();
    assert_eq!(stock(&store, "pizza").await, 5);
    assert!(matches!(store.set_status("missing", OrderStatus::Ready).await, Err(StoreError::NotFound { .. })));
    let events = store.outbox_events(OutboxState::Pending, 10).await.unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].payload["previousStatus"], "preparing");
}

/// Many customers race for little stock: exactly the stock is sold, never more.
pub async fn many_concurrent_orders_on_little_stock_never_oversell(store: S) {
    store.create_product(product("hot", 1), 15).await.unwrap();
    let results = concurrently(&store, (0..60).map(|i| order(&format!("c{i}"), &[("hot", 1)], None)).collect()).await;
    assert_sold_exactly(&store, "hot", 15, &results).await;
}

/// Like above on four shards with orders of 1 to 3 units: sold + left = initial, and the
/// product reads sold out only once every shard is empty.
pub async fn sharded_stock_never_oversells_and_sells_out_only_when_every_shard_is_empty(store: S) {
    store.create_product(product("hot", 4), 30).await.unwrap();
    let orders = (0..60).map(|i| order(&format!("c{i}"), &[("hot", i % 3 + 1)], None)).collect();
    let results = concurrently(&store, orders).await;
    let sold: u32 = results.iter().filter_map(|r| r.as_ref().ok()).map(|p| p.order.lines[0].quantity).sum();
    let left = stock(&store, "hot").await;
    assert_eq!(sold + left, 30, "sold {sold}, left {left}");
    // Whatever is left, from whichever shards, can still be bought one unit at a time.
    for i in 0..left {
        store.place_order(order(&format!("late{i}"), &[("hot", 1)], None)).await.unwrap();
    }
    let out = store.place_order(order("last", &[("hot", 1)], None)).await.unwrap_err();
    assert!(matches!(out, StoreError::Rejected(OrderRejection::OutOfStock { available: 0, .. })), "{out:?}");
    assert_eq!(store.product_sales("hot").await.unwrap().units_sold, 30);
}

pub async fn an_order_larger_than_any_shard_draws_from_several(store: S) {
    store.create_product(product("hot", 4), 10).await.unwrap();
    let big = store.place_order(order("ana", &[("hot", 9)], None)).await.unwrap();
    assert_eq!(stock(&store, "hot").await, 1);
    let short = store.place_order(order("bob", &[("hot", 2)], None)).await.unwrap_err();
    assert!(matches!(short, StoreError::Rejected(OrderRejection::OutOfStock { available: 1, .. })), "{short:?}");
    store.cancel_order(&big.order.id).await.unwrap();
    assert_eq!(stock(&store, "hot").await, 10);
    store.place_order(order("bob", &[("hot", 10)], None)).await.unwrap();
    assert_eq!(stock(&store, "hot").await, 0);
}

async fn assert_sold_exactly(
    store: &S,
    id: &str,
    initial: u32,
    results: &[Result<stampede_store::Placed, StoreError>],
) {
    let ok = results.iter().filter(|r| r.is_ok()).count();
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r, StoreError::Rejected(OrderRejection::OutOfStock { .. })), "{r:?}");
    }
    assert_eq!(ok as u32, initial, "every unit sold once, none twice");
    assert_eq!(stock(store, id).await, 0);
    let sales = store.product_sales(id).await.unwrap();
    assert_eq!((sales.units_sold, sales.orders), (u64::from(initial), u64::from(initial)));
    assert_eq!(store.outbox_counts().await.unwrap().pending, u64::from(initial), "one event per order");
}

pub async fn customer_orders_page_newest_first(store: S) {
    store.create_product(product("cola", 1), 50).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(store.place_order(order("ana@example.com", &[("cola", 1)], None)).await.unwrap().order.id);
        // UUIDv7 orders by millisecond; keep the five apart.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    store.place_order(order("bob", &[("cola", 1)], None)).await.unwrap();
    let ana = Customer::with_email("ana@example.com", None).unwrap().key;
    let first = store.customer_orders(&ana, PageRequest { cursor: None, limit: 2 }).await.unwrap();
    assert_eq!(first.orders.iter().map(|o| o.id.clone()).collect::<Vec<_>>(), [ids[4].clone(), ids[3].clone()]);
    let second =
        store.customer_orders(&ana, PageRequest { cursor: first.next_cursor.as_deref(), limit: 2 }).await.unwrap();
    assert_eq!(second.orders[0].id, ids[2]);
    let last =
        store.customer_orders(&ana, PageRequest { cursor: second.next_cursor.as_deref(), limit: 2 }).await.unwrap();
    assert_eq!(last.orders.len(), 1);
    assert!(last.next_cursor.is_none());
    let nobody = Customer::with_user_id("nobody").unwrap().key;
    assert!(store.customer_orders(&nobody, PageRequest { cursor: None, limit: 10 }).await.unwrap().orders.is_empty());
}

fn claim(token: &str) -> Claim {
    Claim { token: token.into(), limit: 10, lease: Duration::from_secs(60) }
}

pub async fn outbox_claims_are_exclusive_and_settle_once(store: S) {
    store.create_product(product("cola", 1), 5).await.unwrap();
    let placed = store.place_order(order("ana", &[("cola", 1)], None)).await.unwrap();
    store.cancel_order(&placed.order.id).await.unwrap();
    assert!(store.next_due().await.unwrap().is_some());
    let got = store.claim_events(claim("a")).await.unwrap();
    // Only the order's first event: its cancellation waits until the receipt is out.
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].kind.as_str(), got[0].attempts), (ORDER_PLACED, 1));
    assert!(store.claim_events(claim("b")).await.unwrap().is_empty(), "leased to a");
    let done = Settlement::Delivered { done_channels: vec!["webhook".into()] };
    assert!(!store.settle_event(&got[0].id, "b", done.clone()).await.unwrap(), "b holds no claim");
    assert!(store.settle_event(&got[0].id, "a", done.clone()).await.unwrap());
    assert!(!store.settle_event(&got[0].id, "a", done).await.unwrap(), "settled once");
    let next = store.claim_events(claim("b")).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].kind, ORDER_CANCELLED);
    let later = stampede_domain::Millis::MAX / 2;
    let retry = Settlement::Retry { at: later, error: "smtp down".into(), done_channels: vec![] };
    assert!(store.settle_event(&next[0].id, "b", retry).await.unwrap());
    assert_eq!(store.next_due().await.unwrap(), Some(later));
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.delivered, counts.failed), (1, 1, 0));
    let delivered = store.outbox_events(OutboxState::Delivered, 10).await.unwrap();
    assert_eq!(delivered[0].done_channels, ["webhook"]);
    assert!(delivered[0].delivered_at.is_some());
    let pending = store.outbox_events(OutboxState::Pending, 10).await.unwrap();
    assert_eq!(pending[0].last_error.as_deref(), Some("smtp down"));
}

/// The relay's batch calls: orders read in the order asked (an unknown id as none), and
/// settles answered one by one, each holding only under its own claim.
pub async fn batched_order_reads_and_settles_answer_each_in_order(store: S) {
    store.create_product(product("cola", 1), 5).await.unwrap();
    let mut ids = Vec::new();
    for customer in ["ana", "ben", "cy"] {
        ids.push(store.place_order(order(customer, &[("cola", 1)], None)).await.unwrap().order.id);
    }
    let asked = [ids[2].clone(), "no-such-order".to_owned(), ids[0].clone()];
    let read = store.orders(&asked).await.unwrap();
    let found: Vec<Option<&str>> = read.iter().map(|o| o.as_ref().map(|o| o.id.as_str())).collect();
    assert_eq!(found, [Some(ids[2].as_str()), None, Some(ids[0].as_str())]);
    assert_eq!(read[2].as_ref().unwrap().customer.key.0, "user:ana");
    let got = store.claim_events(claim("a")).await.unwrap();
    assert_eq!(got.len(), 3);
    let delivered = Settlement::Delivered { done_channels: vec!["webhook".into()] };
    let later = stampede_domain::Millis::MAX / 2;
    let settles = vec![
        Settle { id: got[0].id.clone(), claim_token: "a".into(), outcome: delivered.clone() },
        Settle { id: got[1].id.clone(), claim_token: "b".into(), outcome: delivered.clone() },
        Settle {
            id: got[2].id.clone(),
            claim_token: "a".into(),
            outcome: Settlement::Retry { at: later, error: "smtp down".into(), done_channels: vec![] },
        },
    ];
    assert_eq!(store.settle_events(settles).await.unwrap(), [true, false, true], "b holds no claim");
    let again = vec![Settle { id: got[0].id.clone(), claim_token: "a".into(), outcome: delivered }];
    assert_eq!(store.settle_events(again).await.unwrap(), [false], "settled once");
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.delivered, counts.failed), (2, 1, 0));
    assert!(store.settle_events(Vec::new()).await.unwrap().is_empty());
}

pub async fn parked_events_can_be_retried(store: S) {
    store.create_product(product("cola", 1), 5).await.unwrap();
    store.place_order(order("ana", &[("cola", 1)], None)).await.unwrap();
    let got = store.claim_events(claim("a")).await.unwrap();
    let park = Settlement::Park { error: "refused".into(), done_channels: vec!["sns".into()] };
    assert!(store.settle_event(&got[0].id, "a", park).await.unwrap());
    assert_eq!(store.outbox_counts().await.unwrap().failed, 1);
    assert!(store.next_due().await.unwrap().is_none());
    let failed = store.outbox_events(OutboxState::Failed, 10).await.unwrap();
    assert_eq!(failed[0].last_error.as_deref(), Some("refused"));
    assert!(store.retry_event(&got[0].id).await.unwrap());
    assert!(!store.retry_event(&got[0].id).await.unwrap(), "no longer parked");
    let again = store.claim_events(claim("b")).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1));
    assert_eq!(again[0].done_channels, ["sns"], "channels that took it are still skipped");
}

/// After an outage, the parked events are put back in pages, oldest parked first, and only
/// those parked before the given time: one that parks again meanwhile is not put back twice.
pub async fn parked_events_are_put_back_in_pages(store: S) {
    store.create_product(product("cola", 1), 5).await.unwrap();
    for customer in ["ana", "bo", "cy", "di"] {
        store.place_order(order(customer, &[("cola", 1)], None)).await.unwrap();
    }
    let got = store.claim_events(claim("a")).await.unwrap();
    assert_eq!(got.len(), 4);
    let park = || Settlement::Park { error: "refused".into(), done_channels: vec![] };
    // Parked one after another, the last after `before`.
    for event in &got[..3] {
        assert!(store.settle_event(&event.id, "a", park()).await.unwrap());
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let before = stampede_store::clock::now_millis();
    tokio::time::sleep(Duration::from_millis(3)).await;
    assert!(store.settle_event(&got[3].id, "a", park()).await.unwrap());
    assert_eq!(store.retry_failed(before, 2).await.unwrap(), 2);
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.failed), (2, 2));
    let parked: Vec<String> =
        store.outbox_events(OutboxState::Failed, 10).await.unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(parked, [got[3].id.clone(), got[2].id.clone()], "the two parked first went back first");
    // What goes back and fails again parks after `before`: the next page does not take it.
    let again = store.claim_events(claim("b")).await.unwrap();
    for event in &again {
        assert!(store.settle_event(&event.id, "b", park()).await.unwrap());
    }
    assert_eq!(store.retry_failed(before, 10).await.unwrap(), 1, "only the third parked before");
    assert_eq!(store.retry_failed(before, 10).await.unwrap(), 0, "nothing parked before is left");
    assert_eq!(store.outbox_counts().await.unwrap().failed, 3);
    let now = stampede_store::clock::now_millis() + 1;
    assert_eq!(store.retry_failed(now, 10).await.unwrap(), 3, "a later time takes the rest");
    let fresh = store.claim_events(claim("c")).await.unwrap();
    assert_eq!(fresh.len(), 4);
    assert!(fresh.iter().all(|e| e.attempts == 1), "fresh attempts");
}

/// A receiver that asked to be sent less does not use up the event's attempts: the claim's
/// count is given back, the event waits until `at`, and a lease held by another is kept.
pub async fn a_throttled_attempt_is_given_back(store: S) {
    store.create_product(product("cola", 1), 5).await.unwrap();
    store.place_order(order("ana", &[("cola", 1)], None)).await.unwrap();
    let got = store.claim_events(claim("a")).await.unwrap();
    assert_eq!(got[0].attempts, 1);
    let now = stampede_store::clock::now_millis();
    let throttled = |at| Settlement::Throttled { at, error: "429".into(), done_channels: vec!["sns".into()] };
    assert!(!store.settle_event(&got[0].id, "b", throttled(now)).await.unwrap(), "b holds no claim");
    assert!(store.settle_event(&got[0].id, "a", throttled(now)).await.unwrap());
    let again = store.claim_events(claim("c")).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1), "the throttled attempt was given back");
    assert_eq!(again[0].done_channels, ["sns"]);
    let later = stampede_domain::Millis::MAX / 2;
    assert!(store.settle_event(&again[0].id, "c", throttled(later)).await.unwrap());
    assert_eq!(store.next_due().await.unwrap(), Some(later));
    let pending = store.outbox_events(OutboxState::Pending, 10).await.unwrap();
    assert_eq!((pending[0].attempts, pending[0].last_error.as_deref()), (0, Some("429")));
}

/// An order's later events wait as long as its first open one waits for a retry: they cannot
/// go out before it, and left due they would sit at the front of the pending index for every
/// claim to walk past while a channel is down (SQLite and PostgreSQL; DynamoDB reads each
/// order's first open event instead). Another order's events are not held back.
pub async fn an_order_s_later_events_wait_while_its_first_event_waits_for_a_retry(store: S) {
    store.create_product(product("cola", 1), 5).await.unwrap();
    let held = store.place_order(order("ana", &[("cola", 1)], None)).await.unwrap().order.id;
    let got = store.claim_events(claim("a")).await.unwrap();
    // Made while the receipt is out: due at once, as the receipt may go through.
    store.set_status(&held, OrderStatus::Preparing).await.unwrap();
    let later = stampede_domain::Millis::MAX / 2;
    let retry = Settlement::Retry { at: later, error: "smtp down".into(), done_channels: vec![] };
    assert!(store.settle_event(&got[0].id, "a", retry).await.unwrap());
    // Made while the receipt waits for its retry: due no sooner than it.
    store.set_status(&held, OrderStatus::Ready).await.unwrap();
    let pending = store.outbox_events(OutboxState::Pending, 10).await.unwrap();
    assert_eq!(pending.len(), 3);
    assert!(pending.iter().all(|e| e.next_attempt_at == later), "{pending:?}");
    assert_eq!(store.next_due().await.unwrap(), Some(later));
    assert!(store.claim_events(claim("b")).await.unwrap().is_empty());
    let other = store.place_order(order("bo", &[("cola", 1)], None)).await.unwrap().order.id;
    let due = store.next_due().await.unwrap().unwrap();
    assert!(due <= stampede_store::clock::now_millis(), "another order's receipt is due now");
    let next = store.claim_events(claim("c")).await.unwrap();
    assert_eq!(next.iter().map(|e| e.order_id.as_str()).collect::<Vec<_>>(), [other.as_str()]);
}

pub async fn the_mailbox_keeps_one_message_per_event_and_recipient(store: S) {
    let mail = |event: &str, to: &str| NewMail {
        event_id: event.into(),
        recipient: to.into(),
        subject: format!("Order {event}"),
        text_body: "text".into(),
        html_body: "<p>html</p>".into(),
    };
    store.store_mail(mail("e1", "ana@example.com")).await.unwrap();
    store.store_mail(mail("e1", "ana@example.com")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2)).await;
    store.store_mail(mail("e2", "ana@example.com")).await.unwrap();
    let all = store.mailbox(10).await.unwrap();
    assert_eq!(all.iter().map(|m| m.event_id.as_str()).collect::<Vec<_>>(), ["e2", "e1"]);
    assert_eq!(store.mail(&all[1].id).await.unwrap().unwrap().subject, "Order e1");
    assert!(store.mail("missing").await.unwrap().is_none());
}

/// A ticket in line. Its token is written as the shop writes them (a message in hex, a dot, a
/// 16-byte tag in hex), which SQLite keeps as the bytes they spell, except `c`'s, free text
/// kept as it is: either way a store gives back exactly the token it was given.
pub fn entry(product_id: &str, customer: &str, rank: u64) -> LineEntry {
    let message = format!("ticket-{customer}-{rank}");
    let ticket = if customer == "c" { message } else { format!("{}.{rank:032x}", hex::encode(message)) };
    LineEntry {
        product_id: product_id.into(),
        customer: CustomerKey(format!("user:{customer}")),
        rank,
        ticket,
        joined_at: 1,
    }
}

/// `product` sold through a waiting room.
fn in_line(product: Product) -> Product {
    Product { sale: SaleRules { waiting_room: Some(WaitingRoomRules::default()), ..product.sale.clone() }, ..product }
}

/// Every order asks which of its products have a waiting room: those come back with their
/// live stock, the rest (and unknown products) not at all.
pub async fn only_products_with_a_waiting_room_are_in_line(store: S) {
    let queued = Product {
        sale: SaleRules { waiting_room: Some(WaitingRoomRules::default()), ..SaleRules::default() },
        ..product("queued", 1)
    };
    store.create_product(queued.clone(), 7).await.unwrap();
    store.create_product(product("plain", 1), 7).await.unwrap();
    let view = store.product_in_line("queued").await.unwrap().expect("a product with a waiting room");
    assert_eq!((view.product, view.stock), (queued, 7));
    assert!(store.product_in_line("plain").await.unwrap().is_none(), "no waiting room");
    assert!(store.product_in_line("missing").await.unwrap().is_none(), "no such product");
}

/// One ticket per customer and product, whoever wins a race; the line counts and reads in rank order.
pub async fn joining_the_line_is_idempotent_per_customer_and_ordered_by_rank(store: S) {
    for (who, rank) in [("a", 100), ("b", 50), ("c", 300)] {
        assert_eq!(store.join_line(entry("hot", who, rank)).await.unwrap(), entry("hot", who, rank));
    }
    assert_eq!(store.join_line(entry("hot", "a", 999)).await.unwrap(), entry("hot", "a", 100), "same ticket again");
    assert_eq!(store.join_line(entry("cold", "a", 999)).await.unwrap().rank, 999, "another product, another line");
    let mut racing = JoinSet::new();
    for rank in 400..410 {
        let store = store.clone();
        racing.spawn(async move { store.join_line(entry("hot", "d", rank)).await.unwrap() });
    }
    let held = racing.join_all().await;
    assert!(held.windows(2).all(|w| w[0] == w[1]), "every racer gets the one ticket held: {held:?}");
    let d = held[0].rank;
    assert_eq!(store.line_ranks("hot", 0).await.unwrap(), vec![50, 100, 300, d]);
    let line = store.line("hot").await.unwrap();
    assert_eq!(line, vec![entry("hot", "b", 50), entry("hot", "a", 100), entry("hot", "c", 300), held[0].clone()]);
    assert_eq!(store.next_in_line("hot", 0, 2).await.unwrap(), vec![50, 100]);
    assert_eq!(store.next_in_line("hot", 100, 10).await.unwrap(), vec![300, d]);
    assert!(store.line_ranks("nothing", 0).await.unwrap().is_empty());
    // A batch of the write-behind: each answered with the ticket its customer holds.
    let batch = vec![entry("hot", "e", 500), entry("hot", "a", 600), entry("cold", "e", 700)];
    let held = store.join_lines(batch).await.unwrap();
    assert_eq!(held, vec![entry("hot", "e", 500), entry("hot", "a", 100), entry("cold", "e", 700)]);
    assert_eq!(store.line_ranks("hot", 0).await.unwrap(), vec![50, 100, 300, d, 500]);
    assert_eq!(store.line_ranks("hot", 300).await.unwrap(), vec![300, d, 500], "from a rank on");
}

/// Admission in rank order, units passing on when admissions lapse, sold out for everyone,
/// and racing advances admitting each person once.
pub async fn the_watermark_admits_in_rank_order_and_lapsed_admissions_pass_units_on(store: S) {
    let rules = WaitingRoomRules::default();
    let t0 = 1_900_000_000_000;
    store.create_product(product("hot", 1), 2).await.unwrap();
    for (who, rank) in [("a", 10), ("b", 20), ("c", 30), ("d", 40), ("e", 50)] {
        store.join_line(entry("hot", who, rank)).await.unwrap();
    }
    let before = store.advance_room("hot", &rules, Some(t0), t0 - 1, 2).await.unwrap();
    assert_eq!(before.admitted_now, 0, "nobody before opening");
    if store.lines_shared() {
        // Until the pre-queue's writes from other instances have surely landed.
        let settling = store.advance_room("hot", &rules, Some(t0), t0 + LATE_WRITE_GRACE - 1, 2).await.unwrap();
        assert_eq!(settling.admitted_now, 0, "nobody within the grace after opening on a shared line");
    }
    // At opening on an instance's own line; on a shared one, once the grace has passed.
    let open = if store.lines_shared() { t0 + LATE_WRITE_GRACE } else { t0 };
    // Two instances advance at once: one wins, and two people are let in, not four.
    let (x, y) = tokio::join!(
        store.advance_room("hot", &rules, Some(t0), open, 2),
        store.advance_room("hot", &rules, Some(t0), open, 2)
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.admitted_now + y.admitted_now, 2);
    let room = store.room("hot").await.unwrap();
    assert_eq!((room.watermark(), room.admitted(), room.version), (20, 2, 1));
    let until = open + rules.admission_ms();
    assert_eq!(room.ticket_state(&rules, 10, open + 1, 2), TicketState::Admitted { until });
    assert_eq!(room.ticket_state(&rules, 30, open + 1, 2), TicketState::Waiting);
    let ahead_of_d = store.line_ranks("hot", 0).await.unwrap().into_iter().filter(|r| *r > room.watermark() && *r < 40);
    assert_eq!(ahead_of_d.count(), 1, "c is ahead of d");
    // a buys; b lets the admission lapse: b's unit goes to c, the next in line.
    store.place_order(order("a", &[("hot", 1)], None)).await.unwrap();
    let left = stock(&store, "hot").await;
    assert_eq!(store.advance_room("hot", &rules, Some(t0), open + 1000, left).await.unwrap().admitted_now, 0);
    let lapsed = store.advance_room("hot", &rules, Some(t0), until, left).await.unwrap();
    assert_eq!(lapsed.admitted_now, 1);
    assert_eq!(lapsed.state.watermark(), 30);
    assert_eq!(lapsed.state.ticket_state(&rules, 20, until, left), TicketState::Expired);
    assert!(matches!(lapsed.state.ticket_state(&rules, 30, until, left), TicketState::Admitted { .. }));
    assert_eq!(store.room("hot").await.unwrap(), lapsed.state, "the advance was saved");
    // c buys the last unit: everyone still waiting is told at once.
    store.place_order(order("c", &[("hot", 1)], None)).await.unwrap();
    let left = stock(&store, "hot").await;
    assert_eq!(left, 0);
    assert_eq!(lapsed.state.ticket_state(&rules, 50, until, left), TicketState::SoldOut);
    assert_eq!(store.advance_room("hot", &rules, Some(t0), until + 1, left).await.unwrap().admitted_now, 0);
}

/// Purchase marks: the room counts who of those let in has bought, so a lapsed admission's
/// unit passes on when the window it was let in by closes, not a window later.
pub async fn a_lapsed_admission_s_unit_passes_on_when_its_own_window_closes(store: S) {
    let rules = WaitingRoomRules::default();
    let t0 = 1_900_000_000_000;
    let open = if store.lines_shared() { t0 + LATE_WRITE_GRACE } else { t0 };
    store.create_product(in_line(product("marked", 1)), 4).await.unwrap();
    for (who, rank) in [("a", 10), ("b", 20)] {
        store.join_line(entry("marked", who, rank)).await.unwrap();
    }
    assert_eq!(store.advance_room("marked", &rules, Some(t0), open, 4).await.unwrap().admitted_now, 2);
    // a buys; b never will.
    let a = store.place_order(order("a", &[("marked", 1)], None)).await.unwrap().order.id;
    store.mark_bought("marked", &CustomerKey("user:a".into()), 10, &a).await.unwrap();
    for (who, rank) in [("c", 30), ("d", 40), ("e", 50)] {
        store.join_line(entry("marked", who, rank)).await.unwrap();
    }
    // Three units left, b may still buy one: two more are let in.
    let second = store.advance_room("marked", &rules, Some(t0), open + 1000, 3).await.unwrap();
    assert_eq!((second.admitted_now, second.state.watermark()), (2, 40));
    let mut orders = Vec::new();
    for (who, rank) in [("c", 30), ("d", 40)] {
        let id = store.place_order(order(who, &[("marked", 1)], None)).await.unwrap().order.id;
        store.mark_bought("marked", &CustomerKey(format!("user:{who}")), rank, &id).await.unwrap();
        orders.push(id);
    }
    store.mark_bought("marked", &CustomerKey("user:c".into()), 30, &orders[0]).await.unwrap();
    store.mark_bought("marked", &CustomerKey("user:nobody".into()), 35, &a).await.unwrap();
    store.mark_bought("marked", &CustomerKey("user:b".into()), 20, "no-such-order").await.unwrap();
    let mut marks = store.purchase_marks("marked", 0..=100).await.unwrap();
    marks.sort_unstable();
    let expected = vec![(10, a.clone()), (30, orders[0].clone()), (40, orders[1].clone())];
    assert_eq!(marks, expected, "one mark per ticket held; none made up, none for an order that is not there");
    assert_eq!(store.purchase_marks("marked", 15..=35).await.unwrap(), [(30, orders[0].clone())]);
    assert!(store.purchase_marks("other", 0..=100).await.unwrap().is_empty());
    // b's admission lapses with the first window: c and d have bought, so b's unit is free
    // and goes to e while the second window still runs.
    let left = stock(&store, "marked").await;
    assert_eq!(left, 1);
    let lapsed = store.advance_room("marked", &rules, Some(t0), open + rules.admission_ms(), left).await.unwrap();
    assert_eq!((lapsed.admitted_now, lapsed.state.watermark()), (1, 50));
}

/// A buyer of several units is one person: once the room counts who bought, the units they
/// took do not pass for people who have decided, so no more are let in than units are left for.
pub async fn a_buyer_of_several_units_counts_as_one_person(store: S) {
    let rules = WaitingRoomRules::default();
    let t0 = 1_900_000_000_000;
    let open = if store.lines_shared() { t0 + LATE_WRITE_GRACE } else { t0 };
    store.create_product(in_line(product("several", 1)), 5).await.unwrap();
    for (who, rank) in [("a", 10), ("b", 20), ("c", 30)] {
        store.join_line(entry("several", who, rank)).await.unwrap();
    }
    assert_eq!(store.advance_room("several", &rules, Some(t0), open, 5).await.unwrap().admitted_now, 3);
    let a = store.place_order(order("a", &[("several", 2)], None)).await.unwrap().order.id;
    store.mark_bought("several", &CustomerKey("user:a".into()), 10, &a).await.unwrap();
    for (who, rank) in [("d", 40), ("e", 50)] {
        store.join_line(entry("several", who, rank)).await.unwrap();
    }
    // Three units left, b and c may buy one each: one more is let in (by units sold alone,
    // a's two units would pass for two people decided, and two more would be).
    let left = stock(&store, "several").await;
    assert_eq!(left, 3);
    let next = store.advance_room("several", &rules, Some(t0), open + 1000, left).await.unwrap();
    assert_eq!((next.admitted_now, next.state.watermark()), (1, 40));
}

/// A waiting-room product `id` with two units, a and b (ranks 10, 20) let in at opening and
/// c (30) waiting: the rules, the opening and when the first advance ran.
async fn two_units_for_a_and_b_with_c_waiting(store: &S, id: &str) -> (WaitingRoomRules, i64, i64) {
    let rules = WaitingRoomRules::default();
    let t0 = 1_900_000_000_000;
    let open = if store.lines_shared() { t0 + LATE_WRITE_GRACE } else { t0 };
    store.create_product(in_line(product(id, 1)), 2).await.unwrap();
    for (who, rank) in [("a", 10), ("b", 20), ("c", 30)] {
        store.join_line(entry(id, who, rank)).await.unwrap();
    }
    assert_eq!(store.advance_room(id, &rules, Some(t0), open, 2).await.unwrap().admitted_now, 2);
    (rules, t0, open)
}

/// A mark counted against a stock level read before its sale would free that unit twice:
/// an advance reads the stock again after the marks. A cancel (the customer's or staff's)
/// takes its order's mark off with the units, and a mark never lands on a cancelled order.
pub async fn purchase_marks_never_free_a_unit_twice(store: S) {
    let (rules, t0, open) = two_units_for_a_and_b_with_c_waiting(&store, "twice").await;
    let read_before = stock(&store, "twice").await;
    let placed = store.place_order(order("a", &[("twice", 1)], None)).await.unwrap().order.id;
    let a = CustomerKey("user:a".into());
    store.mark_bought("twice", &a, 10, &placed).await.unwrap();
    assert_eq!(store.purchase_marks("twice", 0..=100).await.unwrap(), [(10, placed.clone())]);
    assert_eq!(store.stock_now("twice").await.unwrap(), Some(1));
    assert_eq!(store.stock_now("missing").await.unwrap(), None);
    let stale = store.advance_room("twice", &rules, Some(t0), open + 1000, read_before).await.unwrap();
    assert_eq!(stale.admitted_now, 0, "one unit left, and b may still buy it");
    assert!(stale.state.steps.iter().all(|s| s.bought.is_none()), "counts are not handed out with the state");
    // a cancels: the mark comes off with the unit's return, and a may buy again.
    store.cancel_order(&placed).await.unwrap();
    assert!(store.purchase_marks("twice", 0..=100).await.unwrap().is_empty(), "the cancel took the mark off");
    store.mark_bought("twice", &a, 10, &placed).await.unwrap();
    assert!(store.purchase_marks("twice", 0..=100).await.unwrap().is_empty(), "no mark for a cancelled order");
    let left = stock(&store, "twice").await;
    assert_eq!(left, 2);
    let after_cancel = store.advance_room("twice", &rules, Some(t0), open + 2000, left).await.unwrap();
    assert_eq!(after_cancel.admitted_now, 0, "a and b both still deciding, for two units");
    // b buys twice and staff cancel the first order: the second's mark stands.
    let b = CustomerKey("user:b".into());
    let first = store.place_order(order("b", &[("twice", 1)], None)).await.unwrap().order.id;
    store.mark_bought("twice", &b, 20, &first).await.unwrap();
    let second = store.place_order(order("b", &[("twice", 1)], None)).await.unwrap().order.id;
    store.mark_bought("twice", &b, 20, &second).await.unwrap();
    let both = vec![(20, first.clone()), (20, second.clone())];
    // The second order's mark (SQLite and PostgreSQL keep one a ticket, DynamoDB both).
    let marked = store.purchase_marks("twice", 0..=100).await.unwrap();
    assert!(marked.contains(&(20, second.clone())));
    assert_eq!(store.marks_still_held("twice", 0..=100, marked.clone()).await.unwrap(), marked);
    store.set_status(&first, OrderStatus::Cancelled).await.unwrap();
    assert_eq!(store.purchase_marks("twice", 0..=100).await.unwrap(), [(20, second.clone())]);
    // What an advance's second read keeps of the marks its first read found.
    let read_first = [both.clone(), vec![(10, placed.clone()), (30, "no-such-order".into())]].concat();
    let held = store.marks_still_held("twice", 0..=100, read_first).await.unwrap();
    assert_eq!(held, [(20, second.clone())], "only marks still on their tickets");
    assert!(store.marks_still_held("twice", 0..=15, both).await.unwrap().is_empty(), "only within the ranks");
    store.set_status(&second, OrderStatus::Cancelled).await.unwrap();
    assert!(store.purchase_marks("twice", 0..=100).await.unwrap().is_empty(), "staff's cancel took it off");
}

/// More marks than one of DynamoDB's transactional reads takes (25 items here): all are read.
pub async fn every_mark_still_held_is_found_however_many(store: S) {
    store.create_product(in_line(product("many", 1)), 200).await.unwrap();
    let people = 1..=101;
    for rank in people.clone() {
        store.join_line(entry("many", &format!("p{rank}"), rank)).await.unwrap();
    }
    let mut marks = Vec::new();
    for rank in people {
        let who = format!("p{rank}");
        let id = store.place_order(order(&who, &[("many", 1)], None)).await.unwrap().order.id;
        store.mark_bought("many", &CustomerKey(format!("user:{who}")), rank, &id).await.unwrap();
        marks.push((rank, id));
    }
    let mut read = store.purchase_marks("many", 0..=1000).await.unwrap();
    read.sort_unstable();
    assert_eq!(read, marks);
    let mut held = store.marks_still_held("many", 0..=1000, read).await.unwrap();
    held.sort_unstable();
    assert_eq!(held, marks);
}

/// A sale (and its mark) landing between an advance's stock read and its second read of
/// the marks: counting it would free a unit the stock read still holds.
pub async fn a_sale_marked_after_the_stock_was_read_is_not_counted(store: S) {
    let (rules, t0, open) = two_units_for_a_and_b_with_c_waiting(&store, "between").await;
    let sale = (order("a", &[("between", 1)], None), "user:a".to_owned(), 10);
    let interleaved = Interleaved { inner: store.clone(), sale_after_stock_read: Mutex::new(Some(sale)) };
    let view = interleaved.advance_room("between", &rules, Some(t0), open + 1000, 2).await.unwrap();
    assert_eq!(interleaved.sale_after_stock_read.lock().unwrap().as_ref().map(|s| s.2), None, "the sale happened");
    assert_eq!(view.admitted_now, 0, "b may still buy the one unit left: c must wait");
    assert_eq!(store.purchase_marks("between", 0..=100).await.unwrap().len(), 1);
    let after = store.advance_room("between", &rules, Some(t0), open + 2000, stock(&store, "between").await).await;
    assert_eq!(after.unwrap().admitted_now, 0, "counted now, and still one unit for b");
}

/// Where instances share a line, an advance lets a ticket in only once its arrival is
/// [`LATE_WRITE_GRACE`] old: another instance may still be writing tickets that arrived
/// since, which would land under the watermark uncounted. An instance's own line is exact.
pub async fn a_shared_line_lets_a_ticket_in_only_once_late_writes_have_landed(store: S) {
    let rules = WaitingRoomRules::default();
    let t0 = 1_900_000_000_000;
    let arrived = |ms: i64| last_rank_arrived_by(ms - 1) + 1;
    store.create_product(product("fresh", 1), 5).await.unwrap();
    store.join_line(entry("fresh", "a", arrived(t0 + 10))).await.unwrap();
    store.join_line(entry("fresh", "b", arrived(t0 + 1_500))).await.unwrap();
    let soon = store.advance_room("fresh", &rules, None, t0 + 1_600, 5).await.unwrap();
    if !store.lines_shared() {
        assert_eq!(soon.admitted_now, 2, "an instance's own line is complete: both are let in");
        return;
    }
    assert_eq!(soon.admitted_now, 0, "both joined within the grace");
    let first = store.advance_room("fresh", &rules, None, t0 + 10 + LATE_WRITE_GRACE, 5).await.unwrap();
    assert_eq!((first.admitted_now, first.state.watermark()), (1, arrived(t0 + 10)), "a's write has had its time");
    let second = store.advance_room("fresh", &rules, None, t0 + 1_500 + LATE_WRITE_GRACE, 5).await.unwrap();
    assert_eq!((second.admitted_now, second.state.admitted()), (1, 2), "then b's");
}

/// Two instances on one shared line: each counts the other's joins once it reads the line
/// again (a second after it last did), and never loses its own meanwhile.
pub async fn instances_count_each_other_s_joins_once_they_read_the_line_again(store: S) {
    if !store.lines_shared() {
        return;
    }
    // Arrivals as joins stamp them, when they join: after the first read, a refresh reads
    // only what arrived since (less a margin), and the whole line every 30 s.
    let arriving = || last_rank_arrived_by(stampede_store::clock::now_millis() - 1) + 1;
    let (first, second) = (Lines::default(), Lines::default());
    let ann = arriving();
    first.join(&store, entry("shared", "ann", ann)).await.unwrap();
    first.flush().await.unwrap();
    assert_eq!(second.standing(&store, "shared", 0).await.unwrap(), (1, 1), "loaded with ann's");
    second.join(&store, entry("shared", "bob", arriving())).await.unwrap();
    second.join(&store, entry("shared", "cat", ann - 1)).await.unwrap();
    assert_eq!(second.standing(&store, "shared", 0).await.unwrap(), (3, 3), "its own at once");
    second.flush().await.unwrap();
    // A ticket that reaches the store a minute after its arrival (a rewrite after a backoff):
    // the next whole read counts it, not a read of what arrived since.
    let late = last_rank_arrived_by(stampede_store::clock::now_millis() - 60_000);
    store.join_line(entry("shared", "eve", late)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    first.join(&store, entry("shared", "dan", arriving())).await.unwrap();
    // Counts are what the lines' pages show: the three the store holds, then dan's too.
    assert_eq!(
        first.count(&store, "shared", 0, u64::MAX).await.unwrap(),
        4,
        "bob's and cat's, and dan's; not eve's yet"
    );
    assert_eq!(first.standing(&store, "shared", ann).await.unwrap(), (4, 2), "above ann's: bob and dan");
    first.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(second.standing(&store, "shared", 0).await.unwrap(), (4, 4), "dan's, not eve's yet");
}
