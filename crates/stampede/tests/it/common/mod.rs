//! The stampede crate's test helpers. The router-level ones (`TestApp`, `browser`, ...) are
//! the web crate's, included from `crates/web/tests/it/common`; the ones here drive the real
//! binary (`process`), moto, PostgreSQL, two instances on one store, a sale, and the relay.
#![allow(dead_code)]

#[path = "../../../../web/tests/it/common/mod.rs"]
mod router;
pub use router::*;

pub mod moto;
#[cfg(feature = "postgres")]
#[path = "../../../../store/tests/it/conformance/pg.rs"]
pub mod pg;
#[cfg(feature = "postgres")]
#[path = "../../../../store/tests/it/conformance/pg_server.rs"]
pub mod pg_server;
pub mod process;
pub mod sale;
pub mod two_instances;

use reqwest::Client;
use serde_json::Value;

/// `GET url` with the admin token, as JSON: for servers started as processes.
pub async fn admin_json(client: &Client, url: &str) -> Value {
    client.get(url).bearer_auth(ADMIN_TOKEN).send().await.unwrap().json().await.unwrap()
}

/// Relay settings for tests: short backoff, lease and polling so retries take milliseconds.
pub fn fast_relay() -> stampede_notify::RelayConfig {
    use std::time::Duration;
    stampede_notify::RelayConfig {
        batch_size: 32,
        max_in_flight: 64,
        lease: Duration::from_secs(2),
        max_attempts: 5,
        backoff: stampede_notify::Backoff { base: Duration::from_millis(40), max: Duration::from_millis(400) },
        send_timeout: Duration::from_secs(1),
        idle_poll: Duration::from_millis(50),
        flush_timeout: Duration::from_secs(2),
    }
}
