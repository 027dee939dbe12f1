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

/// One route's handles: per method label and status, its request counter and the method's
/// latency histogram (one per method, shared by its statuses).
#[derive(Default)]
struct RouteHandles(Vec<(&'static str, u16, Counter, Histogram)>);

impl RouteHandles {
    fn get(&self, method: &str, status: u16) -> Option<(&Counter, &Histogram)> {
        let (.., requests, latency) = self.0.iter().find(|(m, s, ..)| *m == method && *s == status)?;
        Some((requests, latency))
    }

    fn register(&mut self, method: &'static str, route: &str, status: u16) -> (&Counter, &Histogram) {
        if let Some(at) = self.0.iter().position(|(m, s, ..)| *m == method && *s == status) {
            let (.., requests, latency) = &self.0[at];
            return (requests, latency);
        }
        let latency = self.0.iter().find(|(m, ..)| *m == method).map(|(.., latency)| latency.clone());
        let latency = latency.unwrap_or_else(|| {
            let labels = [("method", method.to_owned()), ("route", route.to_owned())];
            metrics::histogram!("stampede_http_request_duration_seconds", &labels)
        });
        let labels = [("method", method.to_owned()), ("route", route.to_owned()), ("status", status.to_string())];
        self.0.push((method, status, metrics::counter!("stampede_http_requests_total", &labels), latency));
        let (.., requests, latency) = self.0.last().expect("just pushed");
        (requests, latency)
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
    let (requests, latency) = routes.entry(route.to_owned()).or_default().register(method, route, status);
    requests.increment(1);
    latency.record(seconds);
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
