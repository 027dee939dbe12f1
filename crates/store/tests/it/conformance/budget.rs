//! The DynamoDB store's per-order budget, counted on moto (counts, not speed): what an
//! accepted order, a refusal and a catalog view cost in calls. See docs/aws.md.

use super::checks::{limited, order, product};
use super::moto::fresh_dynamo;
use stampede_domain::OrderRejection;
use stampede_store::{DynamoConfig, DynamoStore, OpCounts, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// What `work` cost `store` in DynamoDB calls.
async fn cost<T>(store: &DynamoStore, work: impl std::future::Future<Output = T>) -> (T, OpCounts) {
    let before = store.op_counts();
    let out = work.await;
    (out, store.op_counts().since(&before))
}

pub async fn an_uncontended_order_costs_one_transaction_and_at_most_one_read() {
    let (store, _table) = fresh_dynamo(|c| c).await;
    store.create_product(product("hot", 16), 1_000).await.unwrap();
    store.create_product(limited("capped", 5), 1_000).await.unwrap();
    // Definitions are cached once per instance: warm them, as any running instance is.
    store.place_order(order("warm", &[("hot", 1), ("capped", 1)], None)).await.unwrap();

    let (placed, plain) = cost(&store, store.place_order(order("ana", &[("hot", 1)], None))).await;
    placed.unwrap();
    println!("accepted order, no key: {plain:?}");
    assert_eq!((plain.reads, plain.transactions, plain.writes, plain.retries), (0, 1, 0, 0));

    let (placed, keyed) = cost(&store, store.place_order(order("bob", &[("hot", 2)], Some("k-bob")))).await;
    placed.unwrap();
    println!("accepted order, idempotency key: {keyed:?}");
    assert_eq!((keyed.reads, keyed.transactions, keyed.writes, keyed.retries), (1, 1, 0, 0));

    let (placed, both) = cost(&store, store.place_order(order("cy", &[("hot", 1), ("capped", 2)], Some("k-cy")))).await;
    placed.unwrap();
    println!("accepted order, key and per-customer limit: {both:?}");
    assert_eq!((both.reads, both.transactions, both.writes, both.retries), (1, 1, 0, 0));
}

pub async fn a_known_sold_out_product_is_refused_without_calls() {
    // Trusted long enough that a slow machine cannot make the memory expire mid-test.
    let (store, _table) = fresh_dynamo(|c| DynamoConfig { stock_memory_ttl: Duration::from_secs(3600), ..c }).await;
    store.create_product(product("hot", 4), 2).await.unwrap();
    let first = store.place_order(order("ana", &[("hot", 1)], None)).await.unwrap();
    store.place_order(order("bob", &[("hot", 1)], None)).await.unwrap();
    // The first refusal reads the counters; that is how the instance learns.
    let (refused, learning) = cost(&store, store.place_order(order("cy", &[("hot", 1)], None))).await;
    assert!(matches!(refused, Err(StoreError::Rejected(OrderRejection::OutOfStock { available: 0, .. }))));
    println!("first sold-out refusal: {learning:?}");
    assert!(learning.reads >= 1, "{learning:?}");

    let (refused, known) = cost(&store, store.place_order(order("dee", &[("hot", 1)], None))).await;
    assert!(matches!(refused, Err(StoreError::Rejected(OrderRejection::OutOfStock { available: 0, .. }))));
    println!("sold-out refusal once known: {known:?}");
    assert_eq!(known.calls(), 0, "{known:?}");

    // A cancellation here puts the unit back, and this instance sells it again at once.
    store.cancel_order(&first.order.id).await.unwrap();
    store.place_order(order("eve", &[("hot", 1)], None)).await.unwrap();
}

pub async fn catalog_views_are_served_from_the_snapshot() {
    let (store, _table) = fresh_dynamo(|c| DynamoConfig { catalog_ttl: Duration::from_secs(3600), ..c }).await;
    store.create_product(product("hot", 16), 640).await.unwrap();
    store.create_product(product("cold", 1), 5).await.unwrap();
    let (menu, first) = cost(&store, store.products()).await;
    assert_eq!(menu.unwrap().iter().map(|v| v.stock).collect::<Vec<_>>(), [640, 5]);
    println!("first menu view (1 query + counters, eventually consistent): {first:?}");
    assert_eq!((first.reads, first.transactions), (2, 0));
    let (views, cached) = cost(&store, async { (store.products().await, store.product("hot").await) }).await;
    assert_eq!(views.1.unwrap().unwrap().stock, 640);
    println!("menu and product view from the snapshot: {cached:?}");
    assert_eq!(cached.calls(), 0);
}

/// Many clients on several instances (each with its own memory of empty counters) race for
/// little stock over many counters: exactly the stock is sold, the rest refused as sold out.
pub async fn many_clients_on_many_instances_never_oversell() {
    let (first, table) = fresh_dynamo(|c| c).await;
    first.create_product(product("hot", 16), 60).await.unwrap();
    let mut instances = vec![first];
    for _ in 0..2 {
        let client = DynamoStore::local_client(super::moto::url()).await;
        instances.push(Arc::new(DynamoStore::new(client, DynamoConfig::new(&table))));
    }
    let mut set = JoinSet::new();
    for i in 0..150 {
        let store = instances[i % instances.len()].clone();
        set.spawn(async move { store.place_order(order(&format!("c{i}"), &[("hot", 1)], None)).await });
    }
    let results = set.join_all().await;
    let sold = results.iter().filter(|r| r.is_ok()).count();
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r, StoreError::Rejected(OrderRejection::OutOfStock { .. })), "{r:?}");
    }
    assert_eq!(sold, 60, "every unit sold once, none twice");
    let sales = instances[0].product_sales("hot").await.unwrap();
    assert_eq!((sales.stock, sales.units_sold), (0, 60));
    let total = instances.iter().map(|s| s.op_counts()).fold(OpCounts::default(), |a, c| OpCounts {
        reads: a.reads + c.reads,
        transactions: a.transactions + c.transactions,
        retries: a.retries + c.retries,
        conflicts: a.conflicts + c.conflicts,
        short_draws: a.short_draws + c.short_draws,
        queried_items: a.queried_items + c.queried_items,
        ..a
    });
    println!("150 orders for 60 units over 16 counters on 3 instances: {total:?}");
}

/// The instance that finds the last counter empty leaves a sold-out marker: another instance
/// then learns "sold out" from that one item, not from every counter, and a cancellation
/// (which returns stock) removes it.
pub async fn a_sold_out_marker_tells_other_instances() {
    let long = |c: DynamoConfig| DynamoConfig { stock_memory_ttl: Duration::from_secs(3600), ..c };
    let (first, table) = fresh_dynamo(long).await;
    let instance = || async {
        let client = DynamoStore::local_client(super::moto::url()).await;
        DynamoStore::new(client, long(DynamoConfig::new(&table)))
    };
    first.create_product(product("hot", 8), 1).await.unwrap();
    let sold = first.place_order(order("ana", &[("hot", 1)], None)).await.unwrap();
    let refused = first.place_order(order("bob", &[("hot", 1)], None)).await;
    assert!(matches!(refused, Err(StoreError::Rejected(OrderRejection::OutOfStock { available: 0, .. }))));

    let other = instance().await;
    other.products().await.unwrap(); // Warm its definitions.
    let (refused, learning) = cost(&other, other.place_order(order("cy", &[("hot", 1)], None))).await;
    assert!(matches!(refused, Err(StoreError::Rejected(OrderRejection::OutOfStock { available: 0, .. }))));
    println!("sold-out refusal on another instance, from the marker: {learning:?}");
    assert_eq!(learning.reads, 1, "the marker alone, not the counters: {learning:?}");

    first.cancel_order(&sold.order.id).await.unwrap();
    let third = instance().await;
    third.place_order(order("dee", &[("hot", 1)], None)).await.unwrap();
}

/// The sales audit and the outbox counts read a few items, whatever the history, and the
/// history that may go carries the TTL attribute the table expires it by.
pub async fn audits_read_aggregates_and_history_expires() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use stampede_store::{Claim, Outbox, Settlement};
    let (store, table) = fresh_dynamo(|c| c).await;
    let mut capped = limited("capped", 3);
    capped.stock_shards = 4;
    store.create_product(capped, 100).await.unwrap();
    store.place_order(order("ana", &[("capped", 2)], Some("k-ana"))).await.unwrap();
    store.place_order(order("bob", &[("capped", 3)], None)).await.unwrap();
    let cy = store.place_order(order("cy", &[("capped", 1)], None)).await.unwrap();
    store.cancel_order(&cy.order.id).await.unwrap();
    let (sales, audit) = cost(&store, store.product_sales("capped")).await;
    let sales = sales.unwrap();
    assert_eq!((sales.stock, sales.units_sold, sales.orders, sales.max_units_per_customer), (95, 5, 2, Some(3)));
    println!("sales audit: {audit:?}");
    // The definition, one batch of counters, a query per holdings bucket (32): no scan.
    assert!(audit.reads <= 2 + 32, "{audit:?}");

    let claim = Claim { token: "t".into(), limit: 10, lease: Duration::from_secs(60) };
    let events = store.claim_events(claim).await.unwrap();
    assert!(!events.is_empty());
    for event in &events {
        let delivered = Settlement::Delivered { done_channels: Vec::new() };
        assert!(store.settle_event(&event.id, "t", delivered).await.unwrap());
    }
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!(counts.delivered, events.len() as u64, "counted once each");

    let client = DynamoStore::local_client(super::moto::url()).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let expires = |pk: String, sk: &str| {
        let (client, table) = (client.clone(), table.clone());
        let sk = sk.to_owned();
        async move {
            let item = client
                .get_item()
                .table_name(table)
                .key("pk", AttributeValue::S(pk))
                .key("sk", AttributeValue::S(sk))
                .send()
                .await
                .unwrap()
                .item
                .expect("the item");
            item.get("expires_at").and_then(|v| v.as_n().ok()).map(|n| n.parse::<u64>().unwrap())
        }
    };
    let thirty_days = 30 * 86_400;
    let delivered = expires(format!("OUTBOX#{}", events[0].id), "EVENT").await.expect("a delivered event expires");
    assert!((now + thirty_days - 60..=now + thirty_days + 60).contains(&delivered), "{delivered} vs {now}");
    assert!(expires("IDEM#k-ana".into(), "IDEM").await.is_some(), "an idempotency record expires");
    assert_eq!(expires(format!("ORDER#{}", cy.order.id), "ORDER").await, None, "orders are kept");
    let ttl = client.describe_time_to_live().table_name(&table).send().await.unwrap();
    let ttl = ttl.time_to_live_description.unwrap();
    assert_eq!(ttl.attribute_name(), Some("expires_at"), "the table expires by the attribute");
}

/// What `store` charges for one unit of `p`.
async fn price(store: &DynamoStore, who: &str) -> i64 {
    store.place_order(order(who, &[("p", 1)], None)).await.unwrap().order.total.amount
}

/// A staff edit made on one instance prices the orders of another: at once where definitions
/// are re-read for every order, and on an instance that trusts its cache for long, from its
/// next menu read (each instance's snapshot poll), never from a stale definition after it.
pub async fn a_product_edit_reaches_other_instances_orders() {
    use stampede_store::Backoffice;
    let (first, table) = fresh_dynamo(|c| c).await;
    let original = product("p", 2);
    let old_price = original.base_price.amount;
    first.create_product(original.clone(), 100).await.unwrap();
    let instance = |definitions_ttl| {
        let table = table.clone();
        async move {
            let client = DynamoStore::local_client(super::moto::url()).await;
            let config = DynamoConfig { definitions_ttl, catalog_ttl: Duration::ZERO, ..DynamoConfig::new(&table) };
            DynamoStore::new(client, config)
        }
    };
    let rereads = instance(Duration::ZERO).await;
    let trusts = instance(Duration::from_secs(3600)).await;
    assert_eq!(price(&rereads, "a").await, old_price);
    assert_eq!(price(&trusts, "b").await, old_price);

    let new_price = old_price + 250;
    let edited = stampede_domain::Product {
        base_price: stampede_domain::Money::new(new_price, original.base_price.currency),
        ..original
    };
    first.update_product(edited).await.unwrap();
    assert_eq!(price(&first, "c").await, new_price, "the editing instance prices with it at once");
    assert_eq!(price(&rereads, "d").await, new_price);
    assert_eq!(price(&trusts, "e").await, old_price, "a cached definition holds until the menu is read");
    trusts.products().await.unwrap();
    assert_eq!(price(&trusts, "f").await, new_price, "the menu read brought the edit");
}

/// A product made on one instance is found on another at once, although the other's menu
/// snapshot was taken before it existed and is trusted for an hour: its page and the
/// dashboard's forms must not answer "no such product" for one that is there.
pub async fn a_product_made_on_one_instance_is_found_on_another_at_once() {
    let (first, table) = fresh_dynamo(|c| c).await;
    let client = DynamoStore::local_client(super::moto::url()).await;
    let config = DynamoConfig { catalog_ttl: Duration::from_secs(3600), ..DynamoConfig::new(&table) };
    let other = DynamoStore::new(client, config);
    assert!(other.products().await.unwrap().is_empty(), "the snapshot is taken while the menu is empty");
    first.create_product(product("p", 2), 7).await.unwrap();
    let found = other.product("p").await.unwrap().expect("found although the snapshot predates it");
    assert_eq!((found.product.id.as_str(), found.stock), ("p", 7));
    assert!(other.product("nothing").await.unwrap().is_none());
    assert!(other.products().await.unwrap().is_empty(), "the menu keeps its snapshot until it is due");
    // All at once, as a flood comes: how slow the server is then does not change the count.
    let (_, flood) = cost(&other, async {
        let views = (0..100).map(|i| {
            let other = &other;
            async move { assert!(other.product(&format!("nothing-{i}")).await.unwrap().is_none()) }
        });
        futures_util::future::join_all(views).await;
    })
    .await;
    println!("100 views of products that do not exist: {flood:?}");
    // At most 20 reads in each second begun: the views start within one (or two, if the
    // budget's window turns among them).
    assert!(flood.reads <= 40, "a flood of 404s reads a bounded number: {flood:?}");
}

/// What the back office's reads cost: a page of the order search is the history start, the
/// day's 32 index partitions (64 when now + 5 minutes is tomorrow) and one batch of orders,
/// whatever the shop's size; a report, the catalog and its counters, the history start (the
/// product is a flash sale), 32 partitions for each day the range touches (two when it
/// crosses midnight) and its orders in batches of 100.
pub async fn the_order_search_and_a_report_read_a_day_not_the_table() {
    use stampede_store::analytics::{DAY, Granularity, HOUR, ReportQuery, TimeRange};
    use stampede_store::{Analytics, Backoffice, OrderFilter};
    let (store, _table) = fresh_dynamo(|c| c).await;
    store.create_product(product("p", 4), 1_000).await.unwrap();
    let mut placed = JoinSet::new();
    for i in 0..120 {
        let store = store.clone();
        placed.spawn(async move { store.place_order(order(&format!("c{i}"), &[("p", 1)], None)).await.unwrap() });
    }
    let at = placed.join_all().await[0].order.created_at;
    let filter = OrderFilter { limit: 50, ..OrderFilter::default() };
    let (page, search) = cost(&store, store.find_orders(filter)).await;
    assert_eq!(page.unwrap().orders.len(), 50);
    println!("order search, a page of 50 of 120 orders: {search:?}");
    assert!(search.reads <= 2 + 64 + 2, "{search:?}");
    let range = TimeRange::new(at - HOUR, at + HOUR).unwrap();
    let days = ((at + HOUR - 1) / DAY - (at - HOUR) / DAY + 1) as u64;
    let (report, read) =
        cost(&store, store.sales_report(ReportQuery { range, granularity: Granularity::Hour, top_n: 10 })).await;
    assert_eq!(report.unwrap().totals[0].orders, 120);
    println!("a two-hour report over 120 orders, {days} day(s): {read:?}");
    assert!(read.reads <= 2 + 2 + 32 * days + 2, "{read:?}");
}

/// A claim reads the oldest pending events a few per bucket and reads further only when
/// those hold too few it can take (here four per bucket at first): a small claim out of a
/// backlog reads a look's worth, not the backlog; a claim still finds due events behind
/// leased ones, and still keeps an order's later event back while its earlier one is pending.
pub async fn a_claim_reads_the_oldest_events_first_and_further_only_when_it_must() {
    use stampede_store::{Claim, Outbox};
    let (store, _table) = fresh_dynamo(|c| DynamoConfig { outbox_first_look: 4, ..c }).await;
    store.create_product(product("hot", 4), 1_000).await.unwrap();
    let mut placed = Vec::new();
    for i in 0..200 {
        placed.push(store.place_order(order(&format!("c{i}"), &[("hot", 1)], None)).await.unwrap().order.id);
    }
    let claim = |limit| Claim { token: "relay".into(), limit, lease: Duration::from_secs(600) };
    let (first, look) = cost(&store, store.claim_events(claim(2))).await;
    let first = first.unwrap();
    println!("claim of 2 out of 200 pending: {look:?}");
    assert_eq!(first.len(), 2, "two of 200 due events");
    // Four per bucket hold the four due events it looks for (unless one bucket held all four
    // oldest events): 128 items at most, where a full read returns all 200.
    assert!(look.queried_items <= 4 * 32, "{look:?}");
    // A leased order's next event waits for the first; the others' placed events are due.
    let leased = first[0].order_id.clone();
    store.cancel_order(&leased).await.unwrap();
    let (rest, behind) = cost(&store, store.claim_events(claim(1_000))).await;
    let rest = rest.unwrap();
    println!("claim behind leased events: {behind:?}");
    assert_eq!(rest.len(), 198, "every other order's event, found behind the leased ones");
    assert!(rest.iter().all(|e| e.order_id != leased), "the cancel waits for the placed event");
    let mut orders: Vec<String> = first.iter().chain(&rest).map(|e| e.order_id.clone()).collect();
    orders.sort();
    placed.sort();
    assert_eq!(orders, placed, "each order's placed event, once");
    assert!(store.claim_events(claim(1_000)).await.unwrap().is_empty(), "nothing else is due");
}
