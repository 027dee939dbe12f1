//! PostgreSQL only: several store instances on one database, as several `stampede serve`
//! processes would be, racing for stock and for outbox events.

use super::checks::{entry, order, product};
use super::pg::fresh_database;
use stampede_domain::{OrderRejection, last_rank_arrived_by};
use stampede_store::{Backoffice, Claim, Lines, Outbox, PostgresConfig, PostgresStore, Settlement, Store, StoreError};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

async fn instances(n: usize) -> Vec<Arc<PostgresStore>> {
    let url = fresh_database().await;
    let mut stores = Vec::new();
    for _ in 0..n {
        // Small pools, so instances contend as they would on a busy server.
        let config = PostgresConfig { pool_size: 4, ..PostgresConfig::new(&url) };
        stores.push(Arc::new(PostgresStore::connect(config).await.unwrap()));
    }
    stores
}

fn claim(token: &str, lease: Duration) -> Claim {
    Claim { token: token.into(), limit: 7, lease }
}

pub async fn three_instances_sell_exactly_the_stock_and_claim_each_event_once() {
    let stores = instances(3).await;
    stores[0].create_product(product("hot", 4), 40).await.unwrap();
    let mut set = JoinSet::new();
    for i in 0..120 {
        let store = stores[i % 3].clone();
        set.spawn(async move { store.place_order(order(&format!("c{i}"), &[("hot", 1)], None)).await });
    }
    let results = set.join_all().await;
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r, StoreError::Rejected(OrderRejection::OutOfStock { .. })), "{r:?}");
    }
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 40, "every unit sold once, none twice");
    assert_eq!(stores[1].product("hot").await.unwrap().unwrap().stock, 0);

    // Three relays claim at once until nothing is left: each event exactly once.
    let mut relays = JoinSet::new();
    for (i, store) in stores.iter().enumerate() {
        let store = store.clone();
        relays.spawn(async move {
            let mut got = Vec::new();
            loop {
                let token = format!("relay-{i}-{}", got.len());
                let events = store.claim_events(claim(&token, Duration::from_secs(60))).await.unwrap();
                if events.is_empty() {
                    return got;
                }
                for e in events {
                    let done = Settlement::Delivered { done_channels: vec!["webhook".into()] };
                    assert!(store.settle_event(&e.id, &token, done).await.unwrap());
                    got.push(e.id);
                }
            }
        });
    }
    let claimed: Vec<String> = relays.join_all().await.into_iter().flatten().collect();
    let unique: BTreeSet<_> = claimed.iter().collect();
    assert_eq!((claimed.len(), unique.len()), (40, 40), "each event claimed by one relay, once");
    assert_eq!(stores[2].outbox_counts().await.unwrap().delivered, 40);
}

pub async fn a_killed_instances_claims_are_retried_after_the_lease() {
    let mut stores = instances(2).await;
    stores[0].create_product(product("cola", 1), 5).await.unwrap();
    stores[0].place_order(order("ana", &[("cola", 1)], None)).await.unwrap();
    let lease = Duration::from_millis(500);
    let taken = stores[0].claim_events(claim("doomed", lease)).await.unwrap();
    assert_eq!(taken.len(), 1);
    // The instance dies mid-delivery: nothing settles its claim.
    let killed = stores.remove(0);
    drop(killed);
    let survivor = &stores[0];
    assert!(survivor.claim_events(claim("early", lease)).await.unwrap().is_empty(), "still leased");
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    let again = survivor.claim_events(claim("later", lease)).await.unwrap();
    assert_eq!((again.len(), again[0].id.as_str(), again[0].attempts), (1, taken[0].id.as_str(), 2));
    let done = Settlement::Delivered { done_channels: vec![] };
    assert!(!survivor.settle_event(&again[0].id, "doomed", done.clone()).await.unwrap(), "the old claim is void");
    assert!(survivor.settle_event(&again[0].id, "later", done).await.unwrap());
}

pub async fn migrations_are_recorded_and_apply_once() {
    let url = fresh_database().await;
    let first = stampede_store::postgres::migrate(&url).await.unwrap();
    assert_eq!(first.len(), stampede_store::postgres::latest_version() as usize);
    assert!(stampede_store::postgres::migrate(&url).await.unwrap().is_empty(), "already up to date");
    // Instances starting together: the advisory lock lets one apply, the others find it done.
    let url2 = fresh_database().await;
    let mut set = JoinSet::new();
    for _ in 0..3 {
        let url = url2.clone();
        set.spawn(async move { stampede_store::postgres::migrate(&url).await.unwrap().len() });
    }
    let applied: usize = set.join_all().await.into_iter().sum();
    assert_eq!(applied, stampede_store::postgres::latest_version() as usize);
}

/// PostgreSQL restarted or a connection killed under a running instance: requests caught in
/// it are refused as `Busy` (503), never hang, and the instance recovers by itself.
pub async fn killed_connections_are_busy_then_replaced() {
    let url = fresh_database().await;
    let store = PostgresStore::connect(PostgresConfig::new(&url)).await.unwrap();
    store.create_product(product("cola", 1), 100).await.unwrap();
    store.place_order(order("ana", &[("cola", 1)], None)).await.unwrap();
    // Only this check's database: other checks share the server.
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let killed = admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(killed >= 1, "the instance's pooled connections were killed");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut placed = 0;
    while placed < 5 {
        match store.place_order(order("bob", &[("cola", 1)], None)).await {
            Ok(_) => placed += 1,
            Err(StoreError::Busy { .. }) => {}
            Err(other) => panic!("a lost connection must read as Busy, not {other:?}"),
        }
        assert!(std::time::Instant::now() < deadline, "the instance did not recover");
    }
    assert_eq!(store.product("cola").await.unwrap().unwrap().stock, 94);
}

/// `--notify-retention-days`: delivered events and dev-mailbox messages go, in steps;
/// pending events stay.
pub async fn history_is_pruned_in_steps_and_pending_events_stay() {
    let stores = instances(1).await;
    let store = &stores[0];
    store.create_product(product("cola", 1), 10).await.unwrap();
    for i in 0..3 {
        store.place_order(order(&format!("c{i}"), &[("cola", 1)], None)).await.unwrap();
    }
    for e in store.claim_events(claim("relay", Duration::from_secs(60))).await.unwrap() {
        let done = Settlement::Delivered { done_channels: vec![] };
        assert!(store.settle_event(&e.id, "relay", done).await.unwrap());
    }
    for event in ["e1", "e2"] {
        let mail = stampede_store::NewMail {
            event_id: event.into(),
            recipient: "ana@example.com".into(),
            subject: "s".into(),
            text_body: "t".into(),
            html_body: "h".into(),
        };
        stampede_store::Mailbox::store_mail(store.as_ref(), mail).await.unwrap();
    }
    store.place_order(order("late", &[("cola", 1)], None)).await.unwrap();
    let later = stampede_domain::Millis::MAX / 2;
    assert_eq!(store.prune_history(0, 10).await.unwrap(), (0, 0), "nothing is that old");
    assert_eq!(store.prune_history(later, 2).await.unwrap(), (2, 2));
    assert_eq!(store.prune_history(later, 2).await.unwrap(), (1, 0));
    assert_eq!(store.prune_history(later, 2).await.unwrap(), (0, 0));
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.delivered), (1, 0), "the pending event stays");
}

/// The sold-out fast path across instances: A sells out; B, once its poll has read the
/// levels, refuses without a transaction; a retried idempotency key still gets A's order
/// back on B; a restock on A is sellable on B after B's next poll (and refused before it:
/// the documented staleness, up to one poll interval).
pub async fn a_sell_out_elsewhere_is_refused_from_memory_and_a_restock_is_learnt_at_the_poll() {
    let url = fresh_database().await;
    let a = PostgresStore::connect(PostgresConfig::new(&url)).await.unwrap();
    // B gives up on a locked stock table at once, so an order that reached the stock rows
    // would fail with a database error instead of the fast path's refusal.
    let b_url = format!("{url}?options=-c%20lock_timeout%3D100");
    let b = PostgresStore::connect(PostgresConfig::new(&b_url)).await.unwrap();
    a.create_product(product("hot", 2), 2).await.unwrap();
    let first = a.place_order(order("ana", &[("hot", 1)], Some("k-ana"))).await.unwrap();
    a.place_order(order("bob", &[("hot", 1)], None)).await.unwrap();
    // What B's `follow_other_instances` does every second.
    assert_eq!(b.products().await.unwrap()[0].stock, 0);

    // Every other session is kept off the stock rows while B answers.
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    admin.batch_execute("BEGIN; LOCK TABLE product_stock IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let refused = b.place_order(order("cy", &[("hot", 1)], None)).await.unwrap_err();
    assert!(matches!(refused, StoreError::Rejected(OrderRejection::OutOfStock { .. })), "{refused:?}");
    // A learnt it from its own sales.
    let refused = a.place_order(order("cy", &[("hot", 1)], None)).await.unwrap_err();
    assert!(matches!(refused, StoreError::Rejected(OrderRejection::OutOfStock { .. })), "{refused:?}");
    // Ana's client retries on B after sell-out: one SELECT on the key, and her order back.
    let again = b.place_order(order("ana", &[("hot", 1)], Some("k-ana"))).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.order.id, first.order.id);
    admin.batch_execute("COMMIT").await.unwrap();

    a.adjust_stock("hot", 1).await.unwrap();
    let stale = b.place_order(order("dee", &[("hot", 1)], None)).await.unwrap_err();
    assert!(matches!(stale, StoreError::Rejected(OrderRejection::OutOfStock { .. })), "until B's next poll");
    assert_eq!(b.products().await.unwrap()[0].stock, 1);
    b.place_order(order("dee", &[("hot", 1)], None)).await.unwrap();
    assert_eq!(a.product("hot").await.unwrap().unwrap().stock, 0);
}

/// A shared line whose reads fail (its table gone for a while): places are still counted with
/// the ranks the instance has, instead of each request failing on the read; the line is read
/// again once the backoff is out, and then counts what other instances added meanwhile. An
/// instance that could not load the line answers busy (the request that found the failure
/// too) until its backoff is out, then loads it.
pub async fn a_shared_line_that_cannot_be_read_again_is_counted_with_what_the_instance_has() {
    let url = fresh_database().await;
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(PostgresConfig::new(&url)).await.unwrap());
    let arriving = || last_rank_arrived_by(stampede_store::clock::now_millis() - 1) + 1;
    let lines = Lines::default();
    lines.join(&store, entry("shared", "ann", arriving())).await.unwrap();
    lines.flush().await.unwrap();
    assert_eq!(lines.standing(&store, "shared", 0).await.unwrap(), (1, 1));
    // Only this check's database: other checks share the server.
    let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    admin.batch_execute("ALTER TABLE queue_tickets RENAME TO queue_tickets_away").await.unwrap();
    assert!(store.line_ranks("shared", 0).await.is_err(), "the line cannot be read");
    let late = Lines::default();
    // The request that finds the store failing is answered busy for the backoff (a second),
    // as those during it are: not a server fault.
    let failed = late.standing(&store, "shared", 0).await;
    let backoff = Duration::from_secs(1);
    assert!(matches!(failed, Err(StoreError::Busy { retry_after }) if retry_after == backoff), "{failed:?}");
    let late_failed_at = std::time::Instant::now();
    let again = late.standing(&store, "shared", 0).await;
    if late_failed_at.elapsed() < Duration::from_millis(900) {
        // Asked again, the store would have failed a second time and doubled the backoff.
        let waits_out_the_first = matches!(again, Err(StoreError::Busy { retry_after }) if retry_after <= backoff);
        assert!(waits_out_the_first, "not asked again at once: {again:?}");
    } else {
        eprintln!("too slow to check that a failed load is not tried again at once");
    }
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let failed_at = std::time::Instant::now();
    for _ in 0..3 {
        assert_eq!(lines.standing(&store, "shared", 0).await.unwrap(), (1, 1), "counted with the ranks it has");
    }
    admin.batch_execute("ALTER TABLE queue_tickets_away RENAME TO queue_tickets").await.unwrap();
    // Another instance's join, written while this one could not read the line.
    store.join_line(entry("shared", "bob", arriving())).await.unwrap();
    let standing = lines.standing(&store, "shared", 0).await.unwrap();
    if failed_at.elapsed() < Duration::from_millis(900) {
        assert_eq!(standing, (1, 1), "not read again before the backoff (a second) is out");
    } else {
        eprintln!("too slow to check that a failed re-read is not tried again at once");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lines.standing(&store, "shared", 0).await.unwrap() != (2, 2) {
        assert!(std::time::Instant::now() < deadline, "the line was never read again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The instance that could not load it: busy while its backoff runs out, then loaded.
    loop {
        match late.standing(&store, "shared", 0).await {
            Ok(standing) => break assert_eq!(standing, (2, 2), "loaded at last"),
            Err(StoreError::Busy { .. }) => {}
            Err(e) => panic!("only busy while the backoff runs: {e:?}"),
        }
        assert!(std::time::Instant::now() < deadline, "the line was never loaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
