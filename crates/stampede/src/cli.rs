//! Command-line interface. Every flag can also come from a `STAMPEDE_*` environment variable.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Stampede: a storefront backend that never oversells, even when everyone orders at once.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options for `serve`, which runs when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Log format: `auto` is human-readable on a terminal and JSON otherwise.
    #[arg(long, env = "STAMPEDE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Auto, global = true, help_heading = "Logging")]
    pub log_format: LogFormat,
    /// Log one line per HTTP request (request id, route, status, latency).
    #[arg(long, env = "STAMPEDE_ACCESS_LOG", default_value_t = true, action = clap::ArgAction::Set, global = true, help_heading = "Logging")]
    pub access_log: bool,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the shop: JSON API and health checks over the embedded SQLite store (the default).
    Serve(ServeArgs),
    /// Prove the invariants under load and measure throughput and latency.
    #[command(subcommand)]
    Loadtest(stampede_loadtest::LoadtestCommand),
    /// Copy the live database to FILE without stopping sales (SQLite online backup; a
    /// PostgreSQL store is backed up with pg_dump, see docs/postgres.md).
    Backup(BackupArgs),
    /// Replace the database with the backup FILE (stop the server first).
    Restore(RestoreArgs),
    /// Write the whole shop (catalog and stock, orders, accounts) to FILE as JSON Lines, from
    /// the store `--store` names, while it keeps selling (docs/operations.md).
    Export(ExportArgs),
    /// Load a file made by `stampede export` into the empty store `--store` names.
    Import(TransferArgs),
    /// Manage staff and customer accounts.
    #[command(subcommand)]
    Admin(crate::admin_cli::AdminCommand),
    /// DynamoDB tables (feature `aws`).
    #[cfg(feature = "aws")]
    #[command(subcommand)]
    Dynamodb(DynamodbCommand),
    /// Create or upgrade the PostgreSQL schema and exit (feature `postgres`); `serve --store
    /// postgres` does the same on start.
    #[cfg(feature = "postgres")]
    Migrate(MigrateArgs),
}

/// `stampede migrate`.
#[cfg(feature = "postgres")]
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// The PostgreSQL database, `postgres://user:password@host:port/database`.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
}

/// `stampede dynamodb ...`.
#[cfg(feature = "aws")]
#[derive(Debug, Clone, Subcommand)]
pub enum DynamodbCommand {
    /// Create the table with the keys, indexes, stream, TTL and point-in-time recovery of
    /// deploy/template.yaml (for local servers and first setups; the template stays the deploy
    /// path). An existing table is left as it is.
    CreateTable {
        /// The table's name.
        table: String,
        /// A local DynamoDB-compatible server (e.g. moto), with any credentials.
        #[arg(long, env = "STAMPEDE_AWS_ENDPOINT_URL")]
        aws_endpoint_url: Option<String>,
    },
}

/// Where the database lives, for commands that only need that.
#[derive(Debug, Clone, Args)]
pub struct DataDirArg {
    /// Directory of the SQLite database (`stampede.db`).
    #[arg(long, env = "STAMPEDE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

/// `stampede backup`.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// Where to write the backup; replaced atomically if it exists.
    pub file: PathBuf,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// `stampede restore`.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// A file made by `stampede backup`.
    pub file: PathBuf,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Replace an existing database.
    #[arg(long)]
    pub force: bool,
}

/// The store `export` reads and `import` writes: the same flags as `serve`.
#[derive(Debug, Clone, Args)]
pub struct StoreLocation {
    /// Directory of the SQLite database (`stampede.db`), for `--store sqlite`.
    #[arg(long, env = "STAMPEDE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// A local DynamoDB-compatible server (e.g. moto) for `--store dynamodb`, with any credentials.
    #[arg(long, env = "STAMPEDE_AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
}

/// `stampede export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Write the export to this file (replaced only once complete); without it, to standard
    /// output, with the counts on standard error.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub from: StoreLocation,
}

/// `stampede import`.
#[derive(Debug, Clone, Args)]
pub struct TransferArgs {
    /// The file `stampede export` wrote.
    pub file: PathBuf,
    #[command(flatten)]
    pub into: StoreLocation,
}

/// Which store serves the shop.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// `sqlite` (embedded, the default), `dynamodb` (a table several instances can serve at
    /// once; build with `--features aws`) or `postgres` (one database several instances can
    /// serve at once; build with `--features postgres`).
    #[arg(long = "store", env = "STAMPEDE_STORE", value_enum, default_value_t = StoreKind::Sqlite)]
    pub kind: StoreKind,
    /// The DynamoDB table (`stampede dynamodb create-table` or deploy/template.yaml makes it).
    #[arg(long, env = "STAMPEDE_DYNAMODB_TABLE", required_if_eq("kind", "dynamodb"))]
    pub dynamodb_table: Option<String>,
    /// The PostgreSQL database for `--store postgres`, `postgres://user:password@host:port/database`;
    /// its schema is created or upgraded on start.
    #[arg(long, env = "DATABASE_URL", required_if_eq("kind", "postgres"))]
    pub database_url: Option<String>,
    /// Connections this instance keeps to PostgreSQL. Every instance's pool must fit in the
    /// server's `max_connections` (docs/postgres.md).
    #[arg(long, env = "STAMPEDE_DATABASE_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_pool_size: u32,
}

/// The stores `--store` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    Sqlite,
    Dynamodb,
    Postgres,
}

/// How to run the shop.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "STAMPEDE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Directory of the SQLite database (`stampede.db`), created on first start. With
    /// `--store dynamodb` it keeps only the signing secret, unless `--secret-key` is given.
    #[arg(long, env = "STAMPEDE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Do not seed the demo shop into an empty database.
    #[arg(long, env = "STAMPEDE_NO_SEED")]
    pub no_seed: bool,
    /// Orders that may wait for the writer; beyond this, new orders get 503 + Retry-After.
    #[arg(long, env = "STAMPEDE_QUEUE_DEPTH", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub queue_depth: u32,
    /// Most orders committed in one transaction.
    #[arg(long, env = "STAMPEDE_MAX_BATCH", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_batch: u32,
    /// Longest an order may wait in the queue, in milliseconds, before it gets 503 instead.
    #[arg(long, env = "STAMPEDE_MAX_WAIT_MS", default_value_t = 2000)]
    pub max_wait_ms: u64,
    /// Seconds a client turned away is told to wait (`Retry-After`).
    #[arg(long, env = "STAMPEDE_RETRY_AFTER_SECS", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub retry_after_secs: u64,
    /// Most client connections open at once; more wait in the listen backlog.
    #[arg(long, env = "STAMPEDE_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Seconds a client has to send its request headers, and then its body, before the
    /// connection is closed (slow clients cannot hold connections).
    #[arg(long, env = "STAMPEDE_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub read_timeout_secs: u64,
    /// Orders per second one client IP may place (0 turns the limit off). Off by default:
    /// many real buyers can share one address behind a carrier's NAT.
    #[arg(long, env = "STAMPEDE_ORDER_RATE_PER_IP", default_value_t = 0)]
    pub order_rate_per_ip: u32,
    /// Orders one client IP may place in a burst above its rate.
    #[arg(long, env = "STAMPEDE_ORDER_BURST_PER_IP", default_value_t = 20)]
    pub order_burst_per_ip: u32,
    /// Orders per second one customer (email or user id) may place (0 turns the limit off).
    #[arg(long, env = "STAMPEDE_ORDER_RATE_PER_CUSTOMER", default_value_t = 2)]
    pub order_rate_per_customer: u32,
    /// Orders one customer may place in a burst above their rate.
    #[arg(long, env = "STAMPEDE_ORDER_BURST_PER_CUSTOMER", default_value_t = 10)]
    pub order_burst_per_customer: u32,
    /// Joins of waiting-room lines per second one client IP may make (0 turns the limit off).
    /// Higher than for orders: a carrier's NAT puts many real people behind one address.
    #[arg(long, env = "STAMPEDE_JOIN_RATE_PER_IP", default_value_t = 20)]
    pub join_rate_per_ip: u32,
    /// Joins one client IP may make in a burst above its rate.
    #[arg(long, env = "STAMPEDE_JOIN_BURST_PER_IP", default_value_t = 100)]
    pub join_burst_per_ip: u32,
    /// Joins per second one customer may make after their first (0 turns the limit off); joining again gives
    /// the same ticket, so more only costs the shop.
    #[arg(long, env = "STAMPEDE_JOIN_RATE_PER_CUSTOMER", default_value_t = 1)]
    pub join_rate_per_customer: u32,
    /// Joins one customer may make in a burst above their rate.
    #[arg(long, env = "STAMPEDE_JOIN_BURST_PER_CUSTOMER", default_value_t = 5)]
    pub join_burst_per_customer: u32,
    /// Bearer token for the admin API (`/api/admin/...`); the admin API is off without it
    /// (unless OIDC is set up: then an admin's ID token is accepted too).
    #[arg(long, env = "STAMPEDE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Secret(s) that sign order access tokens, CSRF tokens and emailed links, comma
    /// separated: the first signs, all verify (put a new one first to rotate). Without it, a
    /// secret is made once and kept in `<data-dir>/secret.key`. Instances of one shop must share it.
    #[arg(long, env = "STAMPEDE_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Serve the dev mailbox (`/dev/mailbox`, every customer email) on a non-loopback address,
    /// to admins only. On a loopback address it is always on while no mail channel is set.
    #[arg(long, env = "STAMPEDE_DEV_MAILBOX")]
    pub dev_mailbox: bool,
    /// Require `Authorization: Bearer <token>` for `/metrics` on the shop's address.
    #[arg(long, env = "STAMPEDE_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Serve `/metrics` on this separate address instead (e.g. `127.0.0.1:9090`, reachable
    /// only by the scraper). Without this or a token, `/metrics` is served on the shop's
    /// address only when that is a loopback address.
    #[arg(long, env = "STAMPEDE_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Export traces over OTLP/HTTP (protobuf) to this collector, e.g. `http://127.0.0.1:4318`
    /// (`/v1/traces` is added). Service name from `OTEL_SERVICE_NAME` (default `stampede`).
    /// Build with `--features otlp`.
    #[arg(long, env = "STAMPEDE_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    #[command(flatten)]
    pub cors: CorsArgs,
    /// Boxed: the notification settings would otherwise make every `Command` as large as `Serve`.
    #[command(flatten)]
    pub notify: Box<NotifyArgs>,
    #[command(flatten)]
    pub accounts: Box<crate::admin_cli::AccountArgs>,
    #[command(flatten)]
    pub shop: Box<crate::shop_args::ShopArgs>,
}

/// Which other sites' pages may call the JSON API; shared by `serve` and the Lambda.
#[derive(Debug, Clone, Args)]
pub struct CorsArgs {
    /// Origins whose pages may call the JSON API (`/api/...`) from a browser: a comma-separated
    /// list such as `https://shop.example.com,http://localhost:5173`, or `*`. Unset: same-origin
    /// only. No credentials cross origins. The Flash Sale Handler's compat routes answer `*`
    /// unless this narrows them.
    #[arg(long, env = "STAMPEDE_CORS_ALLOW_ORIGINS", default_value = "", hide_default_value = true)]
    pub cors_allow_origins: stampede_web::cors::AllowedOrigins,
}

/// Where order notifications go and how hard the relay tries.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Notifications")]
pub struct NotifyArgs {
    /// Send customer email through this SMTP server (`smtp://host:port`, plain SMTP). Without it
    /// (and without --ses), customer email goes to the dev mailbox at /dev/mailbox.
    #[arg(long, env = "STAMPEDE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of customer email.
    #[arg(long, env = "STAMPEDE_MAIL_FROM", default_value = "Stampede <orders@stampede.localhost>")]
    pub mail_from: String,
    /// The shop's public base URL, for links in email; defaults to http://<listen address>.
    #[arg(long, env = "STAMPEDE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// URLs that receive every order event as a signed JSON POST (comma separated).
    #[arg(long, env = "STAMPEDE_WEBHOOK_URLS", value_delimiter = ',')]
    pub webhook_urls: Vec<String>,
    /// Secret for the webhooks' HMAC-SHA256 `Stampede-Signature` header.
    #[arg(long, env = "STAMPEDE_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Publish every order event to this SNS topic (build with `--features aws`).
    #[arg(long, env = "STAMPEDE_SNS_TOPIC_ARN")]
    pub sns_topic_arn: Option<String>,
    /// Send customer email through Amazon SES v2 from --mail-from (build with `--features aws`).
    #[arg(long, env = "STAMPEDE_SES")]
    pub ses: bool,
    /// Endpoint override for AWS services, e.g. a local test server.
    #[arg(long, env = "STAMPEDE_AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
    /// Delivery attempts before an event is parked as failed (see /api/admin/outbox?state=failed).
    #[arg(long, env = "STAMPEDE_NOTIFY_MAX_ATTEMPTS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub notify_max_attempts: u32,
    /// Delay before the first retry, in milliseconds; it doubles per attempt, with jitter.
    #[arg(long, env = "STAMPEDE_NOTIFY_BACKOFF_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub notify_backoff_ms: u64,
    /// Longest delay between retries, in seconds.
    #[arg(long, env = "STAMPEDE_NOTIFY_BACKOFF_MAX_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub notify_backoff_max_secs: u64,
    /// Longest one channel may take to deliver one event, in seconds.
    #[arg(long, env = "STAMPEDE_NOTIFY_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub notify_timeout_secs: u64,
    /// Days to keep delivered events and dev-mailbox messages; older ones are deleted once an
    /// hour. Pending and parked events are always kept. 0 keeps everything.
    #[arg(long, env = "STAMPEDE_NOTIFY_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(0..=3650))]
    pub notify_retention_days: u32,
    /// CPU priority of the outbox relay on SQLite, as a nice value (0 to 19, higher is
    /// lower): it delivers on a thread of its own that gets what requests leave, so a
    /// receipt backlog slows neither orders nor refusals. 0 runs it beside the requests.
    #[arg(long, env = "STAMPEDE_NOTIFY_RELAY_NICE", default_value_t = 10, value_parser = clap::value_parser!(i32).range(0..=19))]
    pub notify_relay_nice: i32,
}

impl NotifyArgs {
    /// How long delivered events and dev-mailbox messages are kept; `None` keeps them.
    pub fn retention(&self) -> Option<std::time::Duration> {
        let days = self.notify_retention_days;
        (days > 0).then(|| std::time::Duration::from_secs(u64::from(days) * 86_400))
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Auto,
    Json,
    Pretty,
}
