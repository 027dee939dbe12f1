//! Trace export to an OpenTelemetry collector over OTLP/HTTP with protobuf (feature `otlp`):
//! the request spans (method, route, status, request id) and their `place_order` children go
//! to Jaeger, Tempo or any OTel collector.

use anyhow::Context as _;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{Key, Value};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::{Level, Metadata};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::{Layer, Registry};

/// The service name when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` names one.
const SERVICE_NAME: &str = "stampede";

/// A tracing layer that exports spans to `endpoint`, and the provider to shut down at exit
/// (which sends the spans still queued). Spans go out in batches from a background thread.
pub fn layer(endpoint: &str) -> anyhow::Result<(Box<dyn Layer<Registry> + Send + Sync>, SdkTracerProvider)> {
    let url = traces_url(endpoint)?;
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .build()
        .context("setting up the OTLP trace exporter")?;
    let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource()).build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("stampede"))
        // Activating the context on entry would start the OTel span at once, fixing its name
        // before the request span learns its route ("POST /api/orders"); nothing here reads
        // the active OTel context, so spans start lazily instead.
        .with_context_activation(false)
        .with_filter(filter_fn(exported).with_max_level_hint(LevelFilter::DEBUG))
        .boxed();
    stampede_web::telemetry::set_trace_id_source(current_trace_id);
    Ok((layer, provider))
}

/// The traces URL for an OTLP/HTTP base endpoint, as `OTEL_EXPORTER_OTLP_ENDPOINT` is read.
fn traces_url(endpoint: &str) -> anyhow::Result<String> {
    let base = endpoint.trim().trim_end_matches('/');
    if base.starts_with("https://") {
        // reqwest is built without a TLS stack to keep the build small.
        anyhow::bail!(
            "--otlp-endpoint {endpoint}: https is not supported; send to a collector over http:// \
             (e.g. an OpenTelemetry Collector next to the server, which can forward over TLS)"
        );
    }
    if !base.starts_with("http://") || base.len() == "http://".len() {
        anyhow::bail!("--otlp-endpoint must be an http:// URL such as http://127.0.0.1:4318, not {endpoint:?}");
    }
    Ok(if base.ends_with("/v1/traces") { base.to_owned() } else { format!("{base}/v1/traces") })
}

/// Names the service `stampede` unless the standard variables name it.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let unnamed = detected
        .get(&Key::from_static_str("service.name"))
        .is_none_or(|name| matches!(&name, Value::String(s) if s.as_str().starts_with("unknown_service")));
    if unnamed { Resource::builder().with_service_name(SERVICE_NAME).build() } else { detected }
}

/// What is exported: Stampede's own spans down to debug level (the request and order spans are
/// debug so that they stay out of the logs at the default level) and its events from info up,
/// except the access line, whose fields the request span already carries. Spans of the HTTP
/// client that sends the traces are never exported, or each export would make more.
fn exported(meta: &Metadata<'_>) -> bool {
    let ours = meta.target().starts_with("stampede");
    let level = if meta.is_span() { Level::DEBUG } else { Level::INFO };
    ours && meta.target() != stampede_web::telemetry::ACCESS_TARGET && *meta.level() <= level
}

/// The trace id of the current span, for the access line.
fn current_trace_id() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| span_context.trace_id().to_string())
}
