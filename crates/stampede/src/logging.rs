//! Structured logs: JSON for machines, readable lines for people at a terminal; with the `otlp`
//! feature, optionally traces exported to an OpenTelemetry collector as well.

use crate::cli::LogFormat;
use crate::json_lines::JsonLines;
use crate::log_sink::{self, LogGuard};
use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// What `init` set up that needs an orderly end: log lines not yet written, spans still
/// queued for export.
#[must_use = "call `shutdown` before exiting, or queued log lines and spans are lost"]
pub struct Telemetry {
    /// Dropping it writes the log lines still queued.
    _logs: LogGuard,
    #[cfg(feature = "otlp")]
    traces: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still queued (bounded by the exporter's timeout), then writes the
    /// queued log lines.
    pub fn shutdown(self) {
        #[cfg(feature = "otlp")]
        if let Some(traces) = self.traces
            && let Err(e) = traces.shutdown()
        {
            tracing::warn!(error = %e, "could not send the last traces");
        }
    }
}

/// Installs the global subscriber. `RUST_LOG` overrides the default `info` level of the logs;
/// exported traces have their own filter, so they do not depend on it. Fails if
/// `otlp_endpoint` is set but unusable, or the binary was built without the `otlp` feature.
pub fn init(format: LogFormat, access_log: bool, otlp_endpoint: Option<&str>) -> anyhow::Result<Telemetry> {
    let otlp_endpoint = otlp_endpoint.map(str::trim).filter(|e| !e.is_empty());
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if !access_log && let Ok(off) = format!("{}=off", stampede_web::telemetry::ACCESS_TARGET).parse() {
        filter = filter.add_directive(off);
    }
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let (writer, logs) = log_sink::start(std::io::stderr(), log_sink::MAX_QUEUED)?;
    let (export, telemetry) = exporter(otlp_endpoint, logs)?;
    match export {
        // Logs only: one global filter, so a disabled span or event costs nothing. Per-layer
        // filters make every span and event ask each layer at run time, which measurably
        // slowed order placement (see BENCHMARKS.md).
        None => {
            let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
            let logs = if json { fmt.json().event_format(JsonLines::default()).boxed() } else { fmt.boxed() };
            tracing_subscriber::registry().with(filter).with(logs).init();
        }
        // Each layer filters for itself: the log level must not decide what is exported.
        Some(export) => {
            let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
            let logs = if json {
                fmt.json().event_format(JsonLines::default()).with_filter(filter).boxed()
            } else {
                fmt.with_filter(filter).boxed()
            };
            let layers: Vec<BoxedLayer> = vec![logs, export];
            tracing_subscriber::registry().with(layers).init();
        }
    }
    #[cfg(feature = "otlp")]
    if let Some(endpoint) = otlp_endpoint {
        tracing::info!(endpoint, "exporting traces over OTLP/HTTP");
    }
    Ok(telemetry)
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// The trace-export layer for `endpoint`, if one is given.
#[cfg(feature = "otlp")]
fn exporter(endpoint: Option<&str>, logs: LogGuard) -> anyhow::Result<(Option<BoxedLayer>, Telemetry)> {
    let Some(endpoint) = endpoint else { return Ok((None, Telemetry { _logs: logs, traces: None })) };
    let (layer, provider) = crate::otlp::layer(endpoint)?;
    Ok((Some(layer), Telemetry { _logs: logs, traces: Some(provider) }))
}

/// Without the `otlp` feature there is nothing to export with: a configured endpoint is an error,
/// not something to ignore silently.
#[cfg(not(feature = "otlp"))]
fn exporter(endpoint: Option<&str>, logs: LogGuard) -> anyhow::Result<(Option<BoxedLayer>, Telemetry)> {
    match endpoint {
        Some(_) => anyhow::bail!(
            "--otlp-endpoint (STAMPEDE_OTLP_ENDPOINT) is set, but this stampede was built without \
             OpenTelemetry support: rebuild with --features otlp"
        ),
        None => Ok((None, Telemetry { _logs: logs })),
    }
}
