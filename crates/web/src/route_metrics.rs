//! Requests counted and timed per route, method and status (`/metrics`), with the recorder's
//! handles kept per route: `counter!` and `histogram!` build their key's labels (three
//! `String`s and a shared slice) and look them up in the registry on every call, about a
//! tenth of the allocations of a `GET /healthz`. Routes are the router's patterns and methods
//! other than the standard nine are labelled `other`, so neither the map nor the metrics grow
//! with what clients make up (`FOO1 /healthz`, `FOO2 /healthz`, … are each a 405).

use axum::http::Method;
use metrics::{Counter, Histogram};
use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

/// One route's handles, by method label and status.
#[derive(Default)]
struct RouteHandles {
    requests: Vec<(&'static str, u16, Counter)>,
    latency: Vec<(&'static str, Histogram)>,
}

impl RouteHandles {
    fn get(&self, method: &str, status: u16) -> Option<(&Counter, &Histogram)> {
        let (.., requests) = self.requests.iter().find(|(m, s, _)| *m == method && *s == status)?;
        let (_, latency) = self.latency.iter().find(|(m, _)| *m == method)?;
        Some((requests, latency))
    }

    fn register(&mut self, method: &'static str, route: &str, status: u16) {
        if !self.requests.iter().any(|(m, s, _)| *m == method && *s == status) {
            let labels = [("method", method.to_owned()), ("route", route.to_owned()), ("status", status.to_string())];
            self.requests.push((method, status, metrics::counter!("stampede_http_requests_total", &labels)));
        }
        if !self.latency.iter().any(|(m, _)| *m == method) {
            let labels = [("method", method.to_owned()), ("route", route.to_owned())];
            self.latency.push((method, metrics::histogram!("stampede_http_request_duration_seconds", &labels)));
        }
    }
}

static ROUTES: LazyLock<RwLock<HashMap<String, RouteHandles>>> = LazyLock::new(Default::default);

/// Counts one request to `route` answered with `status`, and records how long it took.
/// Handlers run only behind `router()`, which installs the recorder before any request.
pub fn record(method: &Method, route: &str, status: u16, seconds: f64) {
    let method = label(method);
    {
        let routes = ROUTES.read().unwrap_or_else(|e| e.into_inner());
        if let Some((requests, latency)) = routes.get(route).and_then(|r| r.get(method, status)) {
            requests.increment(1);
            latency.record(seconds);
            return;
        }
    }
    let mut routes = ROUTES.write().unwrap_or_else(|e| e.into_inner());
    let handles = routes.entry(route.to_owned()).or_default();
    handles.register(method, route, status);
    if let Some((requests, latency)) = handles.get(method, status) {
        requests.increment(1);
        latency.record(seconds);
    }
}

/// The method's label: its name if it is one of the standard nine, else `other`.
fn label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_methods_keep_their_name_and_made_up_ones_are_other() {
        assert_eq!(label(&Method::GET), "GET");
        assert_eq!(label(&Method::DELETE), "DELETE");
        assert_eq!(label(&Method::from_bytes(b"FOO1").unwrap()), "other");
    }
}
