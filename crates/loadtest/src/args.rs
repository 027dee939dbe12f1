//! The command line of `stampede loadtest`: its subcommands and their parameters. Kept apart
//! from lib.rs so the runners can read their parameters without importing the module that
//! dispatches to them.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Load tests.
#[derive(Debug, Subcommand)]
pub enum LoadtestCommand {
    /// Simulate a flash sale: many distinct buyers, retries with the same Idempotency-Key, and
    /// greedy buyers trying to pass the per-customer limit; then verify the invariants.
    FlashSale(FlashSaleArgs),
    /// Steady orders for a long time against a fresh server: shows that memory stays flat
    /// (RSS sampled throughout) and the invariants hold at the end.
    Soak(SoakArgs),
}

/// Parameters of a soak run.
#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    /// How long to keep the load on, in seconds.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub duration: u64,
    /// Orders per second; without it, a short burst measures the peak first.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: Option<u32>,
    /// Share of the measured peak to run at, when `--rate` is not given.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub percent_of_peak: u32,
    /// Concurrent connections.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// Seconds between RSS samples.
    #[arg(long, default_value_t = 30)]
    pub sample_every: u64,
    /// Write the Markdown report into this file (e.g. BENCHMARKS.md): its soak section is
    /// replaced, the rest kept.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// Parameters of a flash-sale load test.
#[derive(Debug, Clone, Args)]
pub struct FlashSaleArgs {
    /// Base URL of a running server to target; repeat it for several instances of one shop
    /// (on one PostgreSQL database, say): requests are spread over them round-robin, the
    /// baseline too. Without it a fresh server is started on a temporary data directory and
    /// stopped afterwards.
    #[arg(long)]
    pub target: Vec<String>,
    /// Process id of a `--target` server on this machine (repeatable): their CPU time, summed,
    /// gives the server CPU per request.
    #[arg(long, requires = "target")]
    pub target_pid: Vec<u32>,
    /// Process id of the PostgreSQL server (the postmaster) on this machine: its CPU and its
    /// backends' gives the database's CPU per accepted order and per sold-out refusal.
    #[arg(long)]
    pub database_pid: Option<u32>,
    /// Admin token of the `--target` server, used to create the sale product and audit its sales.
    #[arg(long, env = "STAMPEDE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// The sale product's `stockShards` (counter rows on PostgreSQL and DynamoDB).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub stock_shards: Option<u32>,
    /// With two or more `--target`s: after the sale, time how late the second instance's
    /// live stock learns that a product sold on the first is sold out, over this many trials
    /// (reported with `--summary`).
    #[arg(long, default_value_t = 0, requires = "target")]
    pub staleness_trials: u32,
    /// Append the medians of each series as one JSON line to this file, for scripts that
    /// compare set-ups (scripts/bench-postgres.sh).
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// Units on sale.
    #[arg(long, default_value_t = 10_000)]
    pub stock: u32,
    /// Distinct buyers in the sale (each one order of `--quantity`).
    #[arg(long, default_value_t = 12_000)]
    pub buyers: u32,
    /// Units each buyer orders.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub quantity: u32,
    /// Most units one customer may hold.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub per_customer_limit: u32,
    /// Percent of buyers who resend their order with the same Idempotency-Key.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub retry_percent: u32,
    /// Percent of buyers who then try to buy the limit again with a new key.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub greedy_percent: u32,
    /// Orders fired at the product once it is sold out, to measure the rejection path.
    #[arg(long, default_value_t = 20_000)]
    pub sold_out_requests: u32,
    /// Requests to `/healthz` for the baseline.
    #[arg(long, default_value_t = 20_000)]
    pub baseline_requests: u32,
    /// Concurrent connections.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// Queue depth of the server this command starts (`serve --queue-depth`); a small one
    /// shows the waiting room: 503 + Retry-After, then the buyer comes back.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub server_queue_depth: Option<u32>,
    /// Run the started server without notifications. By default it delivers every order
    /// event to a webhook receiver in this process (and the dev mailbox), and the audit checks
    /// each acknowledged order's event arrived exactly once.
    #[arg(long)]
    pub no_notifications: bool,
    /// Also run the same sale against a server without notifications, and compare.
    #[arg(long)]
    pub compare_notifications_off: bool,
    /// Also run the same sale against a server that commits one transaction per order
    /// (`serve --max-batch 1`), the design group commit replaced, and compare in the report.
    #[arg(long)]
    pub compare_per_order_commit: bool,
    /// Run the started server over DynamoDB at this endpoint (a local moto server), on a
    /// fresh table, and report what each accepted order, refusal and product view cost in
    /// DynamoDB requests (build with `--features aws`; moto is slow: use a small sale, e.g.
    /// `--stock 200 --buyers 300 --sold-out-requests 300 --concurrency 16`).
    #[arg(long, conflicts_with = "target")]
    pub dynamodb_endpoint: Option<String>,
    /// With `--dynamodb-endpoint`: start this many `serve` instances on the one table (one
    /// admin token, one signing secret, every relay delivering to the one webhook receiver)
    /// and spread the buyers over them round-robin; the report adds up their store calls,
    /// conflicts and retries, and the audit checks every event arrived once.
    #[arg(long, default_value_t = 1, requires = "dynamodb_endpoint", value_parser = clap::value_parser!(u32).range(1..=8))]
    pub instances: u32,
    /// Repetitions; the report gives medians.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub runs: u32,
    /// Write a Markdown report (e.g. BENCHMARKS.md); a soak section the file holds is kept.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Sell through a waiting room instead (#14): `--buyers` people join once and poll,
    /// `--bots` scripted customers join too and fire `--bot-orders` orders without tickets;
    /// reports fairness, refusals and the cost of joining.
    #[arg(long)]
    pub waiting_room: bool,
    /// Waiting room: bot customer ids that join the line (and never buy with their ticket).
    #[arg(long, default_value_t = 50)]
    pub bots: u32,
    /// Waiting room: orders the bots fire without a ticket.
    #[arg(long, default_value_t = 2_000)]
    pub bot_orders: u32,
    /// Waiting room: milliseconds between a person's status checks (plus up to a quarter of jitter).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub poll_ms: u64,
    /// Waiting room: the product's `admissionsPerMinute` (people let in per minute).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..))]
    pub admissions_per_minute: u32,
    /// Waiting room: joins by distinct customers that measure join throughput against
    /// `/healthz`, in a line of their own before the sale (as many as the baseline's requests,
    /// so both phases are long enough to time).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub join_requests: u32,
}
