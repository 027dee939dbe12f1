//! What a run cost in storage-service requests, per accepted order, per refusal and per
//! catalog view: read from the server's `stampede_store_service_calls` metric before and
//! after each phase (`serve --store dynamodb` reports it; SQLite has no service to count).

use super::server::Target;
use reqwest::Client;
use std::collections::BTreeMap;

/// The server's counters at one moment, by kind.
#[derive(Debug, Clone, Default)]
pub struct Calls(BTreeMap<String, f64>);

impl Calls {
    /// Reads the counters from every instance's `/metrics`, summed; `None` when they report none.
    pub async fn scrape(client: &Client, target: &Target) -> Option<Calls> {
        let mut sum = BTreeMap::new();
        for base in &target.bases {
            let text = client.get(format!("{base}/metrics")).send().await.ok()?.text().await.ok()?;
            for (kind, value) in parse(&text).0 {
                *sum.entry(kind).or_insert(0.0) += value;
            }
        }
        (!sum.is_empty()).then_some(Calls(sum))
    }

    /// The requests made between `earlier` and `self`, divided over `requests` requests.
    pub fn per_request(&self, earlier: &Calls, requests: usize) -> PerRequest {
        let delta = |kind: &str| {
            let d = self.0.get(kind).copied().unwrap_or(0.0) - earlier.0.get(kind).copied().unwrap_or(0.0);
            d / requests.max(1) as f64
        };
        PerRequest {
            requests,
            reads: delta("reads"),
            writes: delta("writes"),
            transactions: delta("transactions"),
            retries: delta("retries"),
            conflicts: delta("conflicts"),
            short_draws: delta("short_draws"),
            read_units: delta("read_units"),
            write_units: delta("write_units"),
        }
    }
}

/// Storage requests per HTTP request of one phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct PerRequest {
    /// HTTP requests the figures are divided over.
    pub requests: usize,
    pub reads: f64,
    pub writes: f64,
    pub transactions: f64,
    pub retries: f64,
    /// Order transactions cancelled by `TransactionConflict` (another transaction on an item).
    pub conflicts: f64,
    /// Order transactions cancelled because a stock counter held too few units.
    pub short_draws: f64,
    pub read_units: f64,
    pub write_units: f64,
}

/// A run's costs: the sale per accepted order (its refusals, replays and the relay's delivery
/// included), the sold-out rush per refusal, and product views per view.
#[derive(Debug, Clone, Copy)]
pub struct StoreCosts {
    pub accepted_order: PerRequest,
    pub refusal: PerRequest,
    pub view: PerRequest,
    /// Requests per second with no traffic: the relay looking for due events and the
    /// live-stock poll. They run during every phase too, so they are part of its figures.
    pub idle_per_second: PerRequest,
}

/// Counts what the server asks of its store in `seconds` without traffic.
pub async fn idle(client: &Client, target: &Target, seconds: u64) -> PerRequest {
    let before = Calls::scrape(client, target).await.unwrap_or_default();
    tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
    let mut per = Calls::scrape(client, target).await.unwrap_or_default().per_request(&before, seconds as usize);
    per.requests = 0;
    per
}

/// `stampede_store_service_calls{kind="reads"} 12` lines of the Prometheus text format.
fn parse(text: &str) -> Calls {
    let mut calls = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("stampede_store_service_calls{")) {
        let Some((labels, value)) = line.rsplit_once(' ') else { continue };
        let kind = labels.split("kind=\"").nth(1).and_then(|rest| rest.split('"').next());
        if let (Some(kind), Ok(value)) = (kind, value.trim().parse::<f64>()) {
            calls.insert(kind.to_owned(), value);
        }
    }
    Calls(calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_metric_lines_and_divides_the_difference() {
        let before = parse(
            "# TYPE stampede_store_service_calls gauge\nstampede_store_service_calls{kind=\"reads\"} 10\nstampede_store_service_calls{kind=\"transactions\"} 4\nother 1\n",
        );
        let after = parse(
            "stampede_store_service_calls{kind=\"reads\"} 30\nstampede_store_service_calls{kind=\"transactions\"} 24\n",
        );
        let per = after.per_request(&before, 20);
        assert_eq!((per.reads, per.transactions, per.writes, per.requests), (1.0, 1.0, 0.0, 20));
        assert!(parse("nothing here").0.is_empty());
    }
}
