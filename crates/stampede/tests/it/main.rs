//! The `stampede` crate's integration tests in one test binary (one link instead of one per
//! file): real HTTP on loopback, real SQLite files, the real binary as a child process,
//! headless Chromium, and (with features) moto, PostgreSQL and an OTLP receiver.
//! Run one part with a filter: `cargo test -p stampede --test it -- storefront::`.

mod common;

mod accounts;
mod admin_dashboard;
mod backup_restore;
mod bad_input;
mod binary;
mod checkout_details;
mod cli_docs;
mod client_limits;
mod compat;
mod crash_recovery;
#[cfg(feature = "aws")]
mod dynamodb_serve;
mod export_import;
#[cfg(feature = "aws")]
mod lambda;
mod limit_keys;
mod no_oversell;
mod notify_delivery;
mod notify_email;
mod oidc;
mod order_status;
mod orders_api;
#[cfg(feature = "otlp")]
mod otlp;
#[cfg(feature = "postgres")]
mod postgres_serve;
mod rate_limits;
mod saved_carts;
mod staff_accounts;
mod storefront;
mod strict_contract;
#[cfg(feature = "aws")]
mod table_schema;
mod waiting_room;
