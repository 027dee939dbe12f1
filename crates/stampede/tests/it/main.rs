//! The `stampede` crate's integration tests in one test binary (one link instead of one per
//! file): the real binary as a child process, its CLI, the outbox relay next to the router,
//! and (with features) moto, PostgreSQL, Lambda and an OTLP receiver. Tests of the router
//! alone live in `crates/web/tests/it`.
//! Run one part with a filter: `cargo test -p stampede --test it -- binary::`.

mod common;

mod backup_restore;
mod binary;
mod cli_docs;
mod client_limits;
mod crash_recovery;
#[cfg(feature = "aws")]
mod dynamodb_serve;
mod export_import;
#[cfg(feature = "aws")]
mod lambda;
mod module_graph;
mod notify_delivery;
mod notify_email;
mod oidc;
#[cfg(feature = "otlp")]
mod otlp;
#[cfg(feature = "postgres")]
mod postgres_serve;
#[cfg(feature = "aws")]
mod table_schema;
