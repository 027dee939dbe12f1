//! Abuse limits on order placement: 429 + Retry-After per customer, on the router (the
//! per-address limit, set by the binary's `--order-rate-per-ip`, is tested in `client_limits`).

use crate::common::*;
use stampede_domain::SaleRules;
use stampede_web::rate_limit::{OrderRateLimits, Rate};

#[tokio::test]
async fn a_customer_over_their_rate_gets_429_and_others_are_unaffected() {
    let app = TestApp::start().await;
    app.add_product("p", 100, 100, SaleRules::default()).await;
    let limited = TestApp::serve(
        app.store.clone(),
        &app.db_path,
        OrderRateLimits::new(None, Some(Rate { per_second: 1, burst: 3 })),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(limited.order(&order_body("bot@example.com", "p", 1), None).await.status(), 201);
    }
    let resp = limited.order(&order_body("bot@example.com", "p", 1), None).await;
    assert_eq!(resp.headers()["retry-after"], "1");
    let p = expect_problem(resp, 429, "rate-limited").await;
    assert!(p["detail"].as_str().unwrap().contains("this customer"));
    assert_eq!(limited.order(&order_body("human@example.com", "p", 1), None).await.status(), 201);
    assert_eq!(app.order_rows(), 4, "a refused order places nothing");
    assert_eq!(app.stock("p").await, 96);
}
