//! The SQLite store's writer against a real database file: batch fallback, restarts, signals.

use crate::conformance::checks::product;
use stampede_domain::{Customer, LineRequest, OrderRequest};
use stampede_store::{PlaceOrder, SqliteConfig, SqliteStore, Store, StoreError};
use std::collections::BTreeMap;

fn order(customer: &str, product: &str, qty: i64, key: Option<&str>) -> PlaceOrder {
    let line = LineRequest::new(product, qty, BTreeMap::new()).unwrap();
    let request = OrderRequest::new(Customer::with_user_id(customer).unwrap(), vec![line]).unwrap();
    PlaceOrder { request, idempotency_key: key.map(str::to_owned) }
}

fn open(dir: &std::path::Path) -> SqliteStore {
    SqliteStore::open(SqliteConfig::in_dir(dir)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_engine_error_in_one_order_spares_the_rest_of_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_product(product("p", 1), 100).await.unwrap();
    // An order row the store never saw, holding key `taken`: the writer believes the key is
    // new, so its insert hits the UNIQUE constraint mid-order.
    let conn = rusqlite::Connection::open(dir.path().join("stampede.db")).unwrap();
    conn.execute(
        "INSERT INTO orders (id, customer_key, status, total_amount, currency, created_at, updated_at, idempotency_key, request_fingerprint)
         VALUES ('foreign', 'user:x', 'received', 0, 'USD', 0, 0, 'taken', 'f')",
        [],
    )
    .unwrap();
    let store = std::sync::Arc::new(store);
    let mut tasks = Vec::new();
    for i in 0..30 {
        let s = store.clone();
        let key = if i == 15 { Some("taken".to_owned()) } else { None };
        tasks.push(tokio::spawn(async move { s.place_order(order(&format!("c{i}"), "p", 1, key.as_deref())).await }));
    }
    let mut ok = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Backend(_)) if i == 15 => {}
            other => panic!("order {i}: {other:?}"),
        }
    }
    assert_eq!(ok, 29);
    assert_eq!(store.product("p").await.unwrap().unwrap().stock, 71);
    let sales = store.product_sales("p").await.unwrap();
    assert_eq!((sales.units_sold, sales.orders, sales.stock), (29, 29, 71));
}

#[tokio::test]
async fn a_reopened_store_keeps_orders_stock_and_idempotency_keys() {
    let dir = tempfile::tempdir().unwrap();
    let first_id = {
        let store = open(dir.path());
        store.create_product(product("p", 1), 2).await.unwrap();
        let placed = store.place_order(order("a", "p", 1, Some("k1"))).await.unwrap();
        store.place_order(order("b", "p", 1, None)).await.unwrap();
        placed.order.id
    };
    let store = open(dir.path());
    assert_eq!(store.product("p").await.unwrap().unwrap().stock, 0);
    // Sold out, yet the retried key still gets its order back from the reloaded key set.
    let replay = store.place_order(order("a", "p", 1, Some("k1"))).await.unwrap();
    assert!(replay.replayed);
    assert_eq!(replay.order.id, first_id);
    let refused = store.place_order(order("c", "p", 1, Some("k2"))).await.unwrap_err();
    assert!(matches!(refused, StoreError::Rejected(_)), "{refused:?}");
}

#[tokio::test]
async fn stock_changes_tick_after_commits_that_move_stock() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut changes = store.stock_changes();
    store.create_product(product("p", 1), 5).await.unwrap();
    assert!(changes.has_changed().unwrap());
    changes.mark_unchanged();
    let _ = store.place_order(order("a", "p", 9, None)).await.unwrap_err();
    assert!(!changes.has_changed().unwrap(), "a refused order moves no stock");
    store.place_order(order("a", "p", 2, None)).await.unwrap();
    assert!(changes.has_changed().unwrap());
}

const RESTART_FRAMES_FOR_TEST: i64 = 256;

/// Places orders from many tasks for `secs` seconds, reading them back meanwhile, so commits
/// never pause; returns the largest WAL file size seen.
async fn sustained_orders(dir: &std::path::Path, restart_frames: i64, secs: u64) -> u64 {
    let config = SqliteConfig {
        wal_restart_frames: restart_frames,
        checkpoint_every: std::time::Duration::from_millis(50),
        ..SqliteConfig::in_dir(dir)
    };
    let store = std::sync::Arc::new(SqliteStore::open(config).unwrap());
    store.create_product(product("p", 1), 10_000_000).await.unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for t in 0..32 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while tokio::time::Instant::now() < deadline {
                let placed = s.place_order(order(&format!("c{t}-{i}"), "p", 1, None)).await.unwrap();
                s.order(&placed.order.id).await.unwrap().unwrap();
                i += 1;
            }
        }));
    }
    let wal = dir.join("stampede.db-wal");
    let mut largest = 0;
    while tokio::time::Instant::now() < deadline {
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    largest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wal_is_rewound_under_sustained_orders_instead_of_growing_without_bound() {
    // Passive checkpoints alone never rewind the WAL while commits keep coming (here it
    // passes a gigabyte in four seconds without the rewind); with it, the file stays near its
    // threshold (256 frames: 1 MiB) plus what one checkpoint interval writes.
    let bounded = sustained_orders(tempfile::tempdir().unwrap().path(), RESTART_FRAMES_FOR_TEST, 4).await;
    assert!(bounded < 48 * 1024 * 1024, "the WAL grew to {bounded} bytes despite the rewind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pruning_deletes_old_delivered_events_and_mail_in_steps_and_keeps_open_events() {
    use stampede_store::{Claim, Mailbox, NewMail, Outbox, Settlement};
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_product(product("p", 1), 100).await.unwrap();
    for i in 0..6 {
        store.place_order(order(&format!("c{i}"), "p", 1, None)).await.unwrap();
    }
    let claim = Claim { token: "t".into(), limit: 10, lease: std::time::Duration::from_secs(60) };
    let events = store.claim_events(claim).await.unwrap();
    assert_eq!(events.len(), 6);
    let delivered = Settlement::Delivered { done_channels: vec!["webhook".into()] };
    for e in &events[..4] {
        assert!(store.settle_event(&e.id, "t", delivered.clone()).await.unwrap());
    }
    let park = Settlement::Park { error: "refused".into(), done_channels: vec![] };
    assert!(store.settle_event(&events[4].id, "t", park).await.unwrap());
    let later = Settlement::Retry { at: i64::MAX / 2, error: "down".into(), done_channels: vec![] };
    assert!(store.settle_event(&events[5].id, "t", later).await.unwrap());
    let mail = |n: u32| NewMail {
        event_id: format!("e{n}"),
        recipient: "ana@example.com".into(),
        subject: "Receipt".into(),
        text_body: "text".into(),
        html_body: "<p>html</p>".into(),
    };
    store.store_mail(mail(1)).await.unwrap();

    // Nothing is older than the epoch.
    assert_eq!(store.prune_history(0, 1000).await.unwrap(), (0, 0));
    // Everything delivered so far is older than a minute from now: two per step.
    let soon = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64 + 60_000;
    assert_eq!(store.prune_history(soon, 2).await.unwrap(), (2, 1));
    assert_eq!(store.prune_history(soon, 2).await.unwrap(), (2, 0));
    assert_eq!(store.prune_history(soon, 2).await.unwrap(), (0, 0));
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.pending, counts.delivered, counts.failed), (1, 0, 1), "open and parked events stay");
    assert!(store.mailbox(10).await.unwrap().is_empty());
    assert_eq!(store.product_sales("p").await.unwrap().units_sold, 6, "orders are untouched");
}

/// `customer` joining the line of product `hot` through `lines`, with a ticket naming its
/// arrival: what the index holds for them, and whether it is new.
async fn join_hot(
    lines: &stampede_store::Lines,
    store: &std::sync::Arc<dyn Store>,
    customer: &str,
) -> (stampede_store::Held, bool) {
    use stampede_store::{Joining, LineEntry};
    let ticket = |arrival: i64| LineEntry {
        product_id: "hot".into(),
        customer: stampede_domain::CustomerKey(format!("user:{customer}")),
        rank: arrival as u64,
        ticket: format!("ticket-{customer}-{arrival}"),
        joined_at: arrival / 1000,
    };
    lines.enter(store, "hot", &format!("user:{customer}"), 0, ticket, Joining::New).await.unwrap()
}

/// Until every join `lines` queued is written or given up on (a failing batch retries for
/// about 5 s first).
async fn written_or_given_up(lines: &stampede_store::Lines) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while lines.backlog().0 > 0 {
        assert!(std::time::Instant::now() < deadline, "the write-behind never finished");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A join the store will not take (a trigger refuses one customer's ticket, as a real fault
/// would: a constraint, a bad row) is written alone after its batch keeps failing, so the
/// others land; it keeps its place in the index, and once the store takes it again the
/// customer joining again (past the rewrite's backoff) gets that same place back, written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_the_store_refuses_spares_its_batch_and_keeps_its_place_for_when_its_customer_returns() {
    use stampede_store::{LineEntry, Lines};
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(open(dir.path()));
    let conn = rusqlite::Connection::open(dir.path().join("stampede.db")).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER refuse_one BEFORE INSERT ON queue_tickets WHEN NEW.customer_key = 'user:stuck'
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
    )
    .unwrap();
    let lines = Lines::default();
    let join = |customer: &'static str| join_hot(&lines, &store, customer);
    let (a, _) = join("a").await;
    let (stuck, _) = join("stuck").await;
    let (b, _) = join("b").await;
    // The batch of three fails its retries (about 5 s), then each is tried alone.
    written_or_given_up(&lines).await;
    let ranks = |entries: Vec<LineEntry>| entries.into_iter().map(|e| (e.customer.0, e.rank)).collect::<Vec<_>>();
    let stored = ranks(store.line("hot").await.unwrap());
    assert_eq!(stored, [("user:a".to_owned(), a.rank), ("user:b".to_owned(), b.rank)], "the others were written");

    conn.execute_batch("DROP TRIGGER refuse_one").unwrap();
    let (again, new) = join("stuck").await;
    assert!(!new, "joining again is not a new ticket");
    assert_eq!((again.rank, &again.ticket), (stuck.rank, &stuck.ticket), "the same place");
    lines.flush().await.unwrap();
    assert_eq!(store.line("hot").await.unwrap().len(), 2, "not written again within its backoff (2 s)");
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let (again, new) = join("stuck").await;
    assert_eq!((again.rank, new), (stuck.rank, false));
    lines.flush().await.unwrap();
    let stored = ranks(store.line("hot").await.unwrap());
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[1], ("user:stuck".to_owned(), stuck.rank), "written in its arrival order");
}

/// After an outage (every write refused: here two joins, since one join refused could be one
/// the store can never take), the first write the store takes makes the joins it missed due
/// again at once: their customers need not wait out the rewrite's backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_an_outage_missed_are_written_as_soon_as_the_store_takes_a_write_again() {
    use stampede_store::Lines;
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(open(dir.path()));
    let conn = rusqlite::Connection::open(dir.path().join("stampede.db")).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER outage BEFORE INSERT ON queue_tickets BEGIN SELECT RAISE(ABORT, 'the store is down'); END;",
    )
    .unwrap();
    let lines = Lines::default();
    let join = |customer: &'static str| join_hot(&lines, &store, customer);
    // Together, in one write (the write-behind gathers for 20 ms).
    let ((a, _), _) = tokio::join!(join("a"), join("a2"));
    written_or_given_up(&lines).await;
    assert!(store.line("hot").await.unwrap().is_empty());
    conn.execute_batch("DROP TRIGGER outage").unwrap();
    join("b").await;
    lines.flush().await.unwrap();
    // Within a's backoff (2 s), but the store is back: joining again writes it now.
    let (again, new) = join("a").await;
    assert_eq!((again.rank, new), (a.rank, false));
    lines.flush().await.unwrap();
    let customers: Vec<String> = store.line("hot").await.unwrap().into_iter().map(|e| e.customer.0).collect();
    assert_eq!(customers, ["user:a", "user:b"], "a keeps the place it had before b");
}

/// `.cargo/config.toml` builds the bundled SQLite with `LIBSQLITE3_FLAGS`: no memory statistics
/// (one process-wide mutex fewer) and `fdatasync` for its syncs. An environment variable of
/// the same name replaces both without a word; the first shows in the compile options (the
/// second, from the same variable, does not), so its absence means the flags were lost.
#[test]
fn the_bundled_sqlite_is_built_with_the_repository_s_flags() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let mut options = conn.prepare("PRAGMA compile_options").unwrap();
    let options: Vec<String> = options.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
    assert!(options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"), "LIBSQLITE3_FLAGS were not applied: {options:?}");
}
