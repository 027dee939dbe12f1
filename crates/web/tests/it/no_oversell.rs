//! Concurrency: many buyers at once never oversell, and a full queue answers 503 + Retry-After.

use crate::common::*;
use futures_util::future::join_all;
use serde_json::Value;
use stampede_domain::SaleRules;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_buyers_for_fifty_units_sell_exactly_fifty() {
    let app = TestApp::start().await;
    app.add_product("hot", 999, 50, SaleRules::default()).await;
    let buyers = (0..500).map(|i| {
        let app = &app;
        async move { app.order(&order_body(&format!("buyer{i}@example.com"), "hot", 1), Some(&format!("k{i}"))).await }
    });
    let responses = join_all(buyers).await;
    let mut accepted = Vec::new();
    let mut sold_out = 0;
    for r in responses {
        match r.status().as_u16() {
            201 => accepted.push(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()),
            409 => {
                let p = r.json::<Value>().await.unwrap();
                assert_eq!(p["type"], "/problems/out-of-stock");
                sold_out += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(accepted.len(), 50);
    assert_eq!(sold_out, 450);
    assert_eq!(app.stock("hot").await, 0);
    assert_eq!(app.count("SELECT stock FROM products WHERE id = 'hot'"), 0);
    assert_eq!(app.order_rows(), 50);
    assert_eq!(app.count("SELECT COALESCE(SUM(quantity), 0) FROM order_lines WHERE product_id = 'hot'"), 50);
    for id in &accepted {
        assert_eq!(
            app.count(&format!("SELECT COUNT(*) FROM orders WHERE id = '{id}'")),
            1,
            "acknowledged order {id} missing"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_customer_racing_themself_cannot_pass_the_limit() {
    let app = TestApp::start().await;
    app.add_product("limited", 100, 100, SaleRules { per_customer_max: Some(3), ..Default::default() }).await;
    let body = order_body("greedy@example.com", "limited", 1);
    let attempts = (0..40).map(|_| app.order(&body, None));
    let accepted = join_all(attempts).await.into_iter().filter(|r| r.status() == 201).count();
    assert_eq!(accepted, 3);
    assert_eq!(app.stock("limited").await, 97);
    assert_eq!(app.count("SELECT quantity FROM customer_holdings WHERE customer_key = 'greedy@example.com'"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_queue_turns_buyers_away_with_retry_after_and_keeps_stock_exact() {
    let app = TestApp::with_config(|c| {
        c.queue_depth = 1;
        c.max_batch = 1;
        c.retry_after = Duration::from_secs(3);
    })
    .await;
    app.add_product("p", 100, 1000, SaleRules::default()).await;
    let bodies: Vec<_> = (0..300).map(|i| order_body(&format!("b{i}@example.com"), "p", 1)).collect();
    let buyers = bodies.iter().map(|b| app.order(b, None));
    let mut accepted = 0;
    let mut busy = 0;
    for r in join_all(buyers).await {
        match r.status().as_u16() {
            201 => accepted += 1,
            503 => {
                assert_eq!(r.headers()["retry-after"], "3");
                let p = expect_problem(r, 503, "busy").await;
                assert_eq!(p["retryAfter"], 3);
                busy += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(busy > 0, "a queue of one should turn some of 300 simultaneous buyers away");
    assert_eq!(accepted + busy, 300);
    assert_eq!(app.order_rows(), accepted as i64);
    assert_eq!(app.stock("p").await, 1000 - accepted);
}

#[tokio::test]
async fn orders_that_waited_too_long_are_answered_busy_not_left_hanging() {
    let app = TestApp::with_config(|c| c.max_wait = Duration::ZERO).await;
    app.add_product("p", 100, 10, SaleRules::default()).await;
    expect_problem(app.order(&order_body("a@b.co", "p", 1), None).await, 503, "busy").await;
    assert_eq!(app.order_rows(), 0);
    assert_eq!(app.stock("p").await, 10);
}
