//! Logs for CloudWatch: one JSON object per line on stdout, with the enclosing spans' fields
//! (request id, X-Ray trace id) on every line. No timestamps from a terminal formatter or
//! colours: CloudWatch stamps each line itself, but the JSON keeps its own time for exports.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; `RUST_LOG` overrides the default `info`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_ansi(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .init();
}
