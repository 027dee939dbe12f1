//! Per-invocation trace context: every log line of a request carries the Lambda request id
//! and the X-Ray trace id, so CloudWatch Logs and X-Ray can be joined on them.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use lambda_http::RequestExt;
use tracing::Instrument;

/// The X-Ray trace header of this invocation: from the runtime's context, else from the
/// environment variable the runtime sets (one invocation at a time), else API Gateway's header.
pub fn xray_trace_id(req: &Request) -> Option<String> {
    req.lambda_context_ref()
        .and_then(|c| c.xray_trace_id.clone())
        .or_else(|| std::env::var("_X_AMZN_TRACE_ID").ok())
        .or_else(|| req.headers().get("x-amzn-trace-id").and_then(|v| v.to_str().ok()).map(str::to_owned))
        .filter(|t| !t.is_empty())
}

/// `Root=1-...;Parent=...;Sampled=1` → `1-...`: the id X-Ray's console searches by.
pub fn root_of(header: &str) -> &str {
    header.split(';').find_map(|part| part.trim().strip_prefix("Root=")).unwrap_or(header)
}

/// Runs the request inside an info-level span holding the ids, so JSON logs show them.
pub async fn lambda_span(req: Request, next: Next) -> Response {
    let header = xray_trace_id(&req);
    let trace_id = header.as_deref().map(root_of).unwrap_or("-").to_owned();
    let request_id = req.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_else(|| "-".to_owned());
    let span = tracing::info_span!("lambda", aws_request_id = %request_id, xray_trace_id = %trace_id);
    next.run(req).instrument(span).await
}

#[cfg(test)]
mod tests {
    use super::root_of;

    #[test]
    fn the_root_id_is_taken_from_the_header() {
        assert_eq!(
            root_of("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
            "1-5759e988-bd862e3fe1be46a994272793"
        );
        assert_eq!(root_of("1-abc"), "1-abc");
    }
}
