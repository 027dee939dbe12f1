//! The web crate's integration tests in one test binary (one link instead of one per file):
//! the real router (`stampede_web::router`) served on a random loopback port over a real
//! SQLite file (`common::TestApp`), driven over real HTTP as an API client or as a browser
//! without JavaScript (`common::browser`). Tests that need the binary, its CLI, the outbox
//! relay or a feature live in `crates/stampede/tests/it`.
//! Run one part with a filter: `cargo test -p stampede-web --test it -- storefront::`.

mod common;

mod accounts;
mod admin_dashboard;
mod analytics_http;
mod bad_input;
mod checkout_details;
mod compat;
mod limit_keys;
mod no_oversell;
mod order_status;
mod orders_api;
mod rate_limits;
mod saved_carts;
mod staff_accounts;
mod storefront;
mod strict_contract;
mod waiting_room;
