//! The `stampede` binary's pieces, as a library so tests and tools can reuse them.

pub mod accept_loop;
pub mod admin_cli;
pub mod backup;
pub mod cli;
#[cfg(feature = "aws")]
pub mod dynamodb_cli;
pub mod json_lines;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod log_sink;
pub mod logging;
pub mod oidc_keys;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod secrets;
pub mod serve;
pub mod shop_args;
pub mod transfer;
