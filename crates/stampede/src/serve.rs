//! `stampede serve`: open the store, seed the demo shop on first start, serve HTTP until
//! SIGINT/SIGTERM, then let in-flight orders finish.

use crate::accept_loop::{self, ClientLimits};
use crate::cli::{NotifyArgs, ServeArgs, StoreKind};
use anyhow::Context;
use stampede_notify::{Backoff, NotifyConfig, Relay, RelayConfig};
use stampede_store::seed;
use stampede_store::{
    Accounts, Analytics, Backoffice, DataDirLock, SqliteAccounts, SqliteConfig, SqliteStore, Store, StoreError,
};
use stampede_web::auth::Auth;
use stampede_web::auth::cookies::CookiePolicy;
use stampede_web::rate_limit::{OrderRateLimits, Rate};
use stampede_web::{AppState, DevMailbox, MetricsAccess};
use std::sync::Arc;
use std::time::Duration;

/// Opens the SQLite store described by `args`.
pub fn open_store(args: &ServeArgs) -> anyhow::Result<SqliteStore> {
    let config = SqliteConfig {
        queue_depth: args.queue_depth as usize,
        max_batch: args.max_batch as usize,
        max_wait: Duration::from_millis(args.max_wait_ms),
        retry_after: Duration::from_secs(args.retry_after_secs),
        // `run` holds the data-dir lock before opening.
        exclusive: true,
        ..SqliteConfig::in_dir(&args.data_dir)
    };
    SqliteStore::open(config).with_context(|| format!("opening the database in {}", args.data_dir.display()))
}

/// The channel settings `args` describe; links point at `public_url` unless set.
pub fn notify_config(args: &NotifyArgs, public_url: String) -> NotifyConfig {
    NotifyConfig {
        smtp_url: args.smtp_url.clone().filter(|u| !u.is_empty()),
        mail_from: args.mail_from.clone(),
        public_url: args.public_url.clone().unwrap_or(public_url),
        webhook_urls: args.webhook_urls.iter().map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()).collect(),
        webhook_secret: args.webhook_secret.clone(),
        send_timeout: Duration::from_secs(args.notify_timeout_secs),
        sns_topic_arn: args.sns_topic_arn.clone().filter(|a| !a.is_empty()),
        ses: args.ses,
        aws_endpoint_url: args.aws_endpoint_url.clone().filter(|u| !u.is_empty()),
        signer: None,
        shop: Default::default(),
        zone: None,
    }
}

/// The longest one event's delivery may take: its channels are tried one after another, each
/// up to the send timeout.
pub fn longest_delivery(send_timeout: Duration, channels: usize) -> Duration {
    send_timeout.saturating_mul(u32::try_from(channels.max(1)).unwrap_or(u32::MAX))
}

/// How the relay retries, from `args`.
pub fn relay_config(args: &NotifyArgs, channels: usize) -> RelayConfig {
    let send_timeout = Duration::from_secs(args.notify_timeout_secs);
    RelayConfig {
        max_attempts: args.notify_max_attempts,
        backoff: Backoff {
            base: Duration::from_millis(args.notify_backoff_ms),
            max: Duration::from_secs(args.notify_backoff_max_secs),
        },
        send_timeout,
        // The lease must outlast a delivery (plus the settle) or a slow attempt would let a
        // second relay send the event again.
        lease: longest_delivery(send_timeout, channels) + Duration::from_secs(30),
        ..RelayConfig::default()
    }
}

/// Runs the shop until a shutdown signal, over the store `--store` names.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    match args.store.kind {
        StoreKind::Sqlite => run_sqlite(args).await,
        StoreKind::Dynamodb => run_dynamodb(args).await,
        StoreKind::Postgres => run_postgres(args).await,
    }
}

/// The parts beside the order store: accounts (sign-in, the dashboard), staff operations on
/// the catalog and order search, and analytics; every store has them. Without accounts the shop serves the storefront and the JSON API, and the admin API
/// with its token, as on Lambda.
#[derive(Default)]
struct LocalParts {
    accounts: Option<Arc<dyn Accounts>>,
    backoffice: Option<Arc<dyn Backoffice>>,
    analytics: Option<Arc<dyn Analytics>>,
}

#[cfg(any(feature = "aws", feature = "postgres"))]
impl LocalParts {
    /// All three parts from one shared store (DynamoDB, PostgreSQL): an edit or a session
    /// begun on one instance reaches every instance.
    fn shared<S: Accounts + Backoffice + Analytics + 'static>(store: &Arc<S>) -> LocalParts {
        LocalParts { accounts: Some(store.clone()), backoffice: Some(store.clone()), analytics: Some(store.clone()) }
    }
}

async fn run_sqlite(args: ServeArgs) -> anyhow::Result<()> {
    // One process per data directory: a second server or a restore fails fast instead of
    // two writers sharing the database.
    let _lock = DataDirLock::acquire(&args.data_dir)?;
    let store = Arc::new(open_store(&args)?);
    if let Some(keep) = args.notify.retention() {
        tokio::spawn(prune_history(store.clone(), keep));
    }
    let parts = LocalParts {
        accounts: Some(Arc::new(SqliteAccounts::open(&args.data_dir.join("stampede.db"))?)),
        backoffice: Some(store.clone()),
        analytics: Some(store.clone()),
    };
    serve_store(args, store, parts).await
}

/// Serves a DynamoDB table; several instances may serve one table at once (the relay's
/// leases keep delivery once per event, and live stock follows every instance's sales).
#[cfg(feature = "aws")]
async fn run_dynamodb(args: ServeArgs) -> anyhow::Result<()> {
    use stampede_store::{DynamoConfig, DynamoStore};
    let table = args.store.dynamodb_table.clone().context("--store dynamodb needs --dynamodb-table")?;
    let client = DynamoStore::client_or_local(args.notify.aws_endpoint_url.as_deref()).await;
    let retention = args.notify.retention();
    let store = Arc::new(DynamoStore::new(client, DynamoConfig { retention, ..DynamoConfig::new(&table) }));
    store.ping().await.with_context(|| format!("reaching the DynamoDB table {table}"))?;
    crate::transfer::refuse_unfinished_import(&store, &table).await?;
    store.follow_other_instances(Duration::from_secs(1));
    tracing::info!(%table, "serving the DynamoDB table");
    // Accounts, sessions, the back office and analytics live in the same table, so a session
    // begun on one instance is good on all of them and an edit reaches every instance.
    let parts = LocalParts::shared(&store);
    serve_shared(args, store, parts, "DynamoDB").await
}

#[cfg(not(feature = "aws"))]
async fn run_dynamodb(_: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "--store dynamodb needs a build with the aws feature: cargo run --release --features aws -- serve ..."
    )
}

/// Serves a PostgreSQL database; several instances may serve one database at once (stock
/// is taken by conditional updates in each order's transaction, the relay claims with
/// `SKIP LOCKED` leases, and live stock follows other instances by a 1 s poll).
#[cfg(feature = "postgres")]
async fn run_postgres(args: ServeArgs) -> anyhow::Result<()> {
    use stampede_store::{PostgresConfig, PostgresStore};
    let url = args.store.database_url.clone().context("--store postgres needs --database-url (or DATABASE_URL)")?;
    let config = PostgresConfig {
        pool_size: args.store.database_pool_size as usize,
        retry_after: Duration::from_secs(args.retry_after_secs),
        ..PostgresConfig::new(url)
    };
    let store = Arc::new(PostgresStore::connect(config).await.context("opening the PostgreSQL store")?);
    store.follow_other_instances(Duration::from_secs(1));
    if let Some(keep) = args.notify.retention() {
        tokio::spawn(prune_history(store.clone(), keep));
    }
    // Accounts, sessions, the back office and analytics live in the same database, so a
    // session begun on one instance is good on all of them.
    let parts = LocalParts::shared(&store);
    serve_shared(args, store, parts, "PostgreSQL").await
}

#[cfg(not(feature = "postgres"))]
async fn run_postgres(_: ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "--store postgres needs a build with the postgres feature: cargo run --release --features postgres -- serve ..."
    )
}

/// `stampede migrate`: brings the PostgreSQL schema up to date and says what it did.
#[cfg(feature = "postgres")]
pub async fn migrate(args: crate::cli::MigrateArgs) -> anyhow::Result<()> {
    let applied =
        stampede_store::postgres::migrate(&args.database_url).await.context("migrating the PostgreSQL schema")?;
    let latest = stampede_store::postgres::latest_version();
    match applied.as_slice() {
        [] => println!("schema is up to date (version {latest})"),
        versions => println!("applied migrations {versions:?}; schema is at version {latest}"),
    }
    Ok(())
}

/// Serves a store several instances share (DynamoDB, PostgreSQL), with the `parts` it has.
#[cfg(any(feature = "aws", feature = "postgres"))]
async fn serve_shared(args: ServeArgs, store: Arc<dyn Store>, parts: LocalParts, engine: &str) -> anyhow::Result<()> {
    if args.secret_key.is_none() {
        tracing::warn!(
            "no --secret-key: this instance signs with its own data-directory secret, so order links and \
             access tokens it makes fail on other instances; give every instance the same --secret-key"
        );
    }
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    match parts.backoffice {
        Some(_) => tracing::info!("serving the {engine} store"),
        None => tracing::info!("serving the {engine} store; it has no back office (order search, product edits)"),
    }
    serve_store(args, store, parts).await
}

/// Serves `store` until a shutdown signal, then lets in-flight orders finish.
async fn serve_store(args: ServeArgs, store: Arc<dyn Store>, parts: LocalParts) -> anyhow::Result<()> {
    if !args.no_seed && store.products().await?.is_empty() {
        let count = seed::demo_shop(store.as_ref()).await.context("seeding the demo shop")?;
        tracing::info!(products = count, "seeded the demo shop");
    }
    let listener = tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("binding {}", args.addr))?;
    let addr = listener.local_addr()?;
    let signer = crate::secrets::signer(args.secret_key.as_deref(), &args.data_dir)?;
    let notify = NotifyConfig {
        signer: Some(signer.clone()),
        shop: args.shop.profile(),
        zone: Some(args.shop.shop_timezone.tz().clone()),
        ..notify_config(&args.notify, format!("http://{addr}"))
    };
    let channels = notify.channels(store.clone()).await.context("configuring notifications")?;
    let relay_config = relay_config(&args.notify, channels.len());
    let relay = Relay::new(store.clone(), channels, relay_config);
    // On SQLite the relay may run at a lower priority (see `Relay::spawn_background`); the
    // other stores' pooled connections belong to the runtime that opened them, so their
    // relay stays on the requests' runtime.
    let relay = match args.notify.notify_relay_nice {
        nice if nice > 0 && args.store.kind == StoreKind::Sqlite => {
            relay.spawn_background(nice).context("starting the outbox relay thread")?
        }
        _ => relay.spawn(),
    };
    // Flipped when shutdown starts, so open live-stock streams end and the drain is quick.
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    let state = app_state(&args, store.clone(), parts, addr, &notify, signer, closing_rx).await?;
    forget_idle_clients(&state);
    match state.dev_mailbox {
        DevMailbox::Open => tracing::info!("customer email goes to the dev mailbox: http://{addr}/dev/mailbox"),
        DevMailbox::AdminOnly => tracing::warn!("the dev mailbox is on at http://{addr}/dev/mailbox, for admins only"),
        DevMailbox::Off => {}
    }
    if let Some(metrics_addr) = args.metrics_addr {
        serve_metrics(metrics_addr, &state).await?;
    }
    tracing::info!(%addr, data_dir = %args.data_dir.display(), admin_api = state.admin_token.is_some(), "Stampede is open at http://{addr}");
    let client_limits = ClientLimits {
        max_connections: args.max_connections as usize,
        read_timeout: Duration::from_secs(args.read_timeout_secs),
    };
    let shutdown = async move {
        shutdown_signal().await;
        let _ = closing.send(true);
    };
    let rooms = state.rooms.clone();
    accept_loop::serve(listener, stampede_web::router(state), client_limits, shutdown).await;
    // Joins written behind go to the store before it closes (a lost one would be recorded
    // again from its ticket, but the place count would miss it until then).
    if let Err(e) = rooms.flush().await {
        tracing::warn!(error = %e, "waiting-room joins not all written at shutdown");
    }
    // Requests are done, so no new events can appear: one last delivery round, bounded in time.
    relay.shutdown().await;
    // Dropping the last handle to the store joins the writer after its final commit.
    tracing::info!("stopped accepting; closing the store");
    Ok(())
}

/// The web app's state: the store and its `parts`, rate limits, sign-in, what the shop
/// exposes on `addr`, and a notice when a public shop sends no mail.
async fn app_state(
    args: &ServeArgs,
    store: Arc<dyn Store>,
    parts: LocalParts,
    addr: std::net::SocketAddr,
    notify: &NotifyConfig,
    signer: stampede_domain::Signer,
    closing: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<AppState> {
    let rate = |per_second, burst| (per_second > 0).then_some(Rate { per_second, burst });
    let limits = OrderRateLimits::new(
        rate(args.order_rate_per_ip, args.order_burst_per_ip),
        rate(args.order_rate_per_customer, args.order_burst_per_customer),
    );
    let join_limits = OrderRateLimits::for_joins(
        rate(args.join_rate_per_ip, args.join_burst_per_ip),
        rate(args.join_rate_per_customer, args.join_burst_per_customer),
    );
    let auth = match parts.accounts {
        Some(accounts) => Some(Auth {
            accounts,
            backoffice: parts.backoffice,
            cookies: CookiePolicy { secure: args.accounts.secure_cookies(args.notify.public_url.as_deref()) },
            limits: args.accounts.login_limits(),
            oidc: crate::oidc_keys::verifier(&args.accounts).await?,
        }),
        None => None,
    };
    let public = !addr.ip().is_loopback();
    let exposure = Exposure::of(args, public, notify.dev_mailbox());
    let mut state = AppState::new(store, args.admin_token.as_deref().map(Arc::from))
        .with_order_limits(limits)
        .with_join_limits(join_limits)
        .with_dev_mailbox(exposure.dev_mailbox)
        .with_metrics(exposure.metrics.clone())
        .with_signer(signer)
        .with_shop(args.shop.settings())
        .with_cors(args.cors.cors_allow_origins.clone())
        .with_shutdown(closing);
    if let Some(auth) = auth {
        state = state.with_auth(auth);
    }
    if let Some(analytics) = parts.analytics {
        state = state.with_analytics(analytics);
    }
    if public && notify.dev_mailbox() {
        let notice = "no mail channel is configured (STAMPEDE_SMTP_URL or --ses): customers get no receipts, \
                      and emailed order links and email confirmations are not delivered";
        tracing::error!("{notice}");
        state = state.with_notice(notice);
    }
    Ok(state)
}

/// Idle keys are forgotten every minute, so a flood of distinct clients cannot grow memory
/// without bound. The sweep walks every key a sale's crowd left (one per buyer) and shrinks
/// the maps: on a blocking thread, not on a worker that has requests to answer.
fn forget_idle_clients(state: &AppState) {
    let auth = state.auth.clone();
    let (limits, join_limits) = (state.order_limits.clone(), state.join_limits.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let (limits, join_limits, auth) = (limits.clone(), join_limits.clone(), auth.clone());
            let sweep = tokio::task::spawn_blocking(move || {
                limits.forget_idle();
                join_limits.forget_idle();
                if let Some(auth) = &auth {
                    auth.limits.forget_idle();
                }
            });
            if let Err(e) = sweep.await {
                tracing::error!(error = %e, "forgetting idle rate-limit keys failed");
            }
        }
    });
}

/// Serves `/metrics` on an address of its own.
async fn serve_metrics(metrics_addr: std::net::SocketAddr, state: &AppState) -> anyhow::Result<()> {
    let metrics = tokio::net::TcpListener::bind(metrics_addr)
        .await
        .with_context(|| format!("binding the metrics address {metrics_addr}"))?;
    let router = stampede_web::metrics_router(state.clone());
    tracing::info!("metrics at http://{metrics_addr}/metrics");
    tokio::spawn(async move { axum::serve(metrics, router).await });
    Ok(())
}

/// What the shop shows of itself beyond the storefront and API.
struct Exposure {
    dev_mailbox: DevMailbox,
    metrics: MetricsAccess,
}

impl Exposure {
    /// On a loopback address (local development) the dev mailbox and metrics are open; on a
    /// public one the mailbox is off unless `--dev-mailbox` (then admins only), and metrics
    /// need a token or their own address.
    fn of(args: &ServeArgs, public: bool, mailbox_channel: bool) -> Exposure {
        let dev_mailbox = match (mailbox_channel, public, args.dev_mailbox) {
            (false, _, _) => DevMailbox::Off,
            (true, false, _) => DevMailbox::Open,
            (true, true, true) => DevMailbox::AdminOnly,
            (true, true, false) => DevMailbox::Off,
        };
        let metrics = match (&args.metrics_token, args.metrics_addr, public) {
            (_, Some(_), _) => MetricsAccess::Off,
            (Some(token), None, _) => MetricsAccess::Token(Arc::from(token.as_str())),
            (None, None, false) => MetricsAccess::Open,
            (None, None, true) => MetricsAccess::Off,
        };
        Exposure { dev_mailbox, metrics }
    }
}

/// Rows deleted per command: small enough that the writer's batch stays short.
const PRUNE_STEP: u32 = 1_000;

/// Once an hour, deletes delivered events and dev-mailbox messages older than `keep`, in
/// steps, so the database stops growing with history nobody reads. Each step is one writer
/// command between order batches; a pause between steps leaves the writer to orders.
/// Stores whose delivered events and dev-mailbox messages `--notify-retention-days` prunes.
trait PruneHistory: Send + Sync + 'static {
    fn prune(&self, before: i64, limit: u32) -> impl Future<Output = Result<(u64, u64), StoreError>> + Send;
}

impl PruneHistory for SqliteStore {
    fn prune(&self, before: i64, limit: u32) -> impl Future<Output = Result<(u64, u64), StoreError>> + Send {
        self.prune_history(before, limit)
    }
}

#[cfg(feature = "postgres")]
impl PruneHistory for stampede_store::PostgresStore {
    fn prune(&self, before: i64, limit: u32) -> impl Future<Output = Result<(u64, u64), StoreError>> + Send {
        self.prune_history(before, limit)
    }
}

async fn prune_history(store: Arc<impl PruneHistory>, keep: Duration) {
    let mut hourly = tokio::time::interval(Duration::from_secs(3_600));
    loop {
        hourly.tick().await;
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |now| now.saturating_sub(keep).as_millis() as i64);
        let (mut events, mut mails) = (0, 0);
        loop {
            match store.prune(before, PRUNE_STEP).await {
                Ok((e, m)) => {
                    (events, mails) = (events + e, mails + m);
                    if e < u64::from(PRUNE_STEP) && m < u64::from(PRUNE_STEP) {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not prune delivered events; will try again in an hour");
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if events + mails > 0 {
            tracing::info!(events, mails, "pruned delivered events and dev-mailbox messages past their retention");
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
