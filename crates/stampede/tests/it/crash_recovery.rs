//! Durability against the real binary: a SIGKILL in the middle of a flash sale loses no
//! acknowledged order and no notification, and SIGTERM lets orders in flight finish before a
//! clean exit.

use crate::common::eventually;
use crate::common::process::Server;
use crate::common::sale::{RunningSale, STOCK, TOKEN, Webhooks, admin_json, assert_replayed, sales};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_mid_sale_loses_no_acknowledged_order() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = Webhooks::start().await;
    let notify = ["--no-seed", "--webhook-urls", &hooks.url, "--webhook-secret", "crash-secret"];
    let RunningSale { client, server, stop, acked } = RunningSale::start(dir.path(), &notify, 300).await;
    server.crash();
    let acked = RunningSale::stopped(stop, acked).await;

    let server = Server::start(dir.path(), &[&notify[..], &["--admin-token", TOKEN]].concat());
    for (_, id) in &acked {
        let resp = client.get(server.url(&format!("/api/orders/{id}"))).send().await.unwrap();
        assert_eq!(resp.status(), 200, "acknowledged order {id} lost in the crash");
    }
    let s = sales(&client, &server).await;
    let (stock, sold, orders) =
        (s["stock"].as_u64().unwrap(), s["unitsSold"].as_u64().unwrap(), s["orders"].as_u64().unwrap());
    assert_eq!(stock + sold, STOCK, "stock and sales disagree after the crash: {s}");
    // Orders committed just before the crash may not have been acknowledged; none can be missing.
    assert!(orders >= acked.len() as u64);
    for (buyer, id) in acked.iter().take(50) {
        assert_replayed(&client, &server, *buyer, id).await;
    }
    assert_eq!(sales(&client, &server).await["orders"].as_u64().unwrap(), orders, "replays placed new orders");

    // Every order's event reaches the receiver after the restart, including those the killed
    // relay had claimed but not settled, and the outbox ends with nothing pending or parked.
    let outbox = eventually(30, "every event delivered after the restart", || async {
        let page = admin_json(&client, &server, "/api/admin/outbox?state=pending").await;
        (page["counts"]["pending"] == 0 && hooks.orders().len() as u64 == orders).then_some(page)
    })
    .await;
    assert_eq!(outbox["counts"]["failed"], 0, "{outbox}");
    assert_eq!(outbox["counts"]["delivered"].as_u64().unwrap(), orders, "one event per order: {outbox}");
    let received = hooks.orders();
    assert!(acked.iter().all(|(_, id)| received.contains(id)), "an acknowledged order's event was lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_orders_in_flight_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let RunningSale { client, server, stop, acked } = RunningSale::start(dir.path(), &["--no-seed"], 200).await;
    let status = server.terminate();
    let acked = RunningSale::stopped(stop, acked).await;
    assert!(status.success(), "SIGTERM exit status: {status}");
    let server = Server::start(dir.path(), &["--no-seed", "--admin-token", TOKEN]);
    let s = sales(&client, &server).await;
    assert_eq!(s["orders"].as_u64().unwrap(), acked.len() as u64, "after a graceful stop every order was acknowledged");
    assert_eq!(s["stock"].as_u64().unwrap() + s["unitsSold"].as_u64().unwrap(), STOCK);
}
