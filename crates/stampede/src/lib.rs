//! The `stampede` binary's pieces, as a library so tests and tools can reuse them.

pub mod backup;
pub mod cli;
pub mod http_server;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod loadtest;
pub mod logging;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod seed;
pub mod serve;
