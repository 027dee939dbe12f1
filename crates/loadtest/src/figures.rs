//! What a flash-sale run measured, shared by the run (`flash_sale.rs`), the report
//! (`report.rs`) and the storage costs (`store_costs.rs`).

use super::receiver::Deliveries;
use super::stats::Latency;
use super::store_costs::StoreCosts;
use std::time::Duration;

/// How often a buyer turned away with 503 comes back (after `Retry-After`) before giving up.
pub const BUSY_ATTEMPTS: u32 = 5;

/// One server set-up the sale runs against.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// One transaction (and fsync) per order (`--max-batch 1`), the design group commit
    /// replaced, instead of group commit.
    pub per_order_commit: bool,
    /// Order events delivered to a webhook receiver in this process.
    pub notifications: bool,
}

impl Variant {
    /// How the report names it.
    pub fn name(self) -> &'static str {
        match (self.per_order_commit, self.notifications) {
            (false, true) => "group commit, notifications on",
            (false, false) => "group commit, notifications off",
            (true, true) => "one transaction per order, notifications on",
            (true, false) => "one transaction per order, notifications off",
        }
    }
}

/// The runs against one variant.
pub struct Series {
    pub variant: Variant,
    pub runs: Vec<RunFigures>,
}

/// The figures of one run.
pub struct RunFigures {
    /// Server CPU per request by phase, when this command started the server.
    pub server_cpu_us: Option<ServerCpuPerRequest>,
    /// The database server's CPU, when `--database-pid` names it.
    pub database_cpu_us: Option<DatabaseCpuPerRequest>,
    pub baseline_rps: f64,
    pub baseline: Latency,
    /// `GET /api/products`.
    pub catalog_rps: f64,
    pub catalog: Latency,
    /// Sold-out refusals fired right after the sale, while its receipts were being delivered.
    pub backlog_rps: f64,
    pub backlog: Latency,
    /// From the sale's start until the outbox had nothing pending: every receipt delivered.
    pub drain_time: Duration,
    pub accepted_rps: f64,
    pub accepted: Latency,
    pub sell_out_time: Duration,
    pub sold_out_rps: f64,
    pub sold_out: Latency,
    pub sale_sold_out: Latency,
    pub replayed: Latency,
    pub limit_refused: Latency,
    /// 503 answers during the sale (buyers then waited `Retry-After` and came back).
    pub busy: Latency,
    /// Buyers still turned away after every retry.
    pub gave_up: usize,
    pub errors: usize,
    pub units_sold: u64,
    pub orders: u64,
    pub stock_left: u32,
    pub violations: Vec<String>,
    /// What the webhook receiver saw, when notifications were on.
    pub notifications: Option<Deliveries>,
    /// Storage-service requests per accepted order, refusal and view (`--dynamodb-endpoint`).
    pub store_costs: Option<StoreCosts>,
}

/// Server CPU per request in each phase, in microseconds.
pub struct ServerCpuPerRequest {
    pub baseline: f64,
    /// `GET /api/products`.
    pub catalog: f64,
    /// Every request of the sale: accepted, replayed, refused.
    pub sale: f64,
    /// Sold-out rejections while the sale's receipts go out (the relay's work included).
    pub backlog: f64,
    /// Sold-out rejections.
    pub rush: f64,
}

/// The database server's CPU (its backends' included) in microseconds.
pub struct DatabaseCpuPerRequest {
    /// Over the sale, per accepted order (the sale's refusals and replays ride along).
    pub accepted_order: f64,
    /// Over the sold-out rush, per refusal.
    pub refusal: f64,
}
