//! `stampede serve`: open the store, seed the demo shop on first start, serve HTTP until
//! SIGINT/SIGTERM, then let in-flight orders finish.

use crate::cli::{NotifyArgs, ServeArgs};
use crate::http_server::{self, ClientLimits};
use crate::seed;
use anyhow::Context;
use stampede_notify::{Backoff, NotifyConfig, Relay, RelayConfig};
use stampede_store::{DataDirLock, SqliteAccounts, SqliteConfig, SqliteStore, Store};
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
    }
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
        // Channels are tried one after another, each up to its timeout; the lease must outlast
        // that (plus the settle) or a slow attempt would let a second relay send the event again.
        lease: send_timeout * u32::try_from(channels.max(1)).unwrap_or(u32::MAX) + Duration::from_secs(30),
        ..RelayConfig::default()
    }
}

/// Runs the shop until a shutdown signal.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // One process per data directory: a second server or a restore fails fast instead of
    // two writers sharing the database.
    let _lock = DataDirLock::acquire(&args.data_dir)?;
    let store = Arc::new(open_store(&args)?);
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
        ..notify_config(&args.notify, format!("http://{addr}"))
    };
    let channels = notify.channels(store.clone()).await.context("configuring notifications")?;
    let relay_config = relay_config(&args.notify, channels.len());
    let relay = Relay::new(store.clone(), channels, relay_config).spawn();
    if args.notify.notify_retention_days > 0 {
        tokio::spawn(prune_history(
            store.clone(),
            Duration::from_secs(u64::from(args.notify.notify_retention_days) * 86_400),
        ));
    }
    let rate = |per_second, burst| (per_second > 0).then_some(Rate { per_second, burst });
    let limits = OrderRateLimits::new(
        rate(args.order_rate_per_ip, args.order_burst_per_ip),
        rate(args.order_rate_per_customer, args.order_burst_per_customer),
    );
    let join_limits = OrderRateLimits::for_joins(
        rate(args.join_rate_per_ip, args.join_burst_per_ip),
        rate(args.join_rate_per_customer, args.join_burst_per_customer),
    );
    // Flipped when shutdown starts, so open live-stock streams end and the drain is quick.
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    let auth = Auth {
        accounts: Arc::new(SqliteAccounts::open(&args.data_dir.join("stampede.db"))?),
        backoffice: store.clone(),
        cookies: CookiePolicy { secure: args.accounts.secure_cookies(args.notify.public_url.as_deref()) },
        limits: args.accounts.login_limits(),
        oidc: crate::oidc_keys::verifier(&args.accounts).await?,
    };
    let public = !addr.ip().is_loopback();
    let exposure = Exposure::of(&args, public, notify.dev_mailbox());
    let mut state = AppState::new(store.clone(), args.admin_token.as_deref().map(Arc::from))
        .with_analytics(store.clone())
        .with_order_limits(limits)
        .with_join_limits(join_limits)
        .with_dev_mailbox(exposure.dev_mailbox)
        .with_metrics(exposure.metrics.clone())
        .with_signer(signer)
        .with_auth(auth)
        .with_shop(args.shop.settings())
        .with_cors(args.cors.cors_allow_origins.clone())
        .with_shutdown(closing_rx);
    if public && notify.dev_mailbox() {
        let notice = "no mail channel is configured (STAMPEDE_SMTP_URL or --ses): customers get no receipts, \
                      and emailed order links and email confirmations are not delivered";
        tracing::error!("{notice}");
        state = state.with_notice(notice);
    }
    let auth = state.auth.clone();
    let (limits, join_limits) = (state.order_limits.clone(), state.join_limits.clone());
    // Idle keys are forgotten every minute, so a flood of distinct clients cannot grow memory without bound.
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limits.forget_idle();
            join_limits.forget_idle();
            if let Some(auth) = &auth {
                auth.limits.forget_idle();
            }
        }
    });
    match state.dev_mailbox {
        DevMailbox::Open => tracing::info!("customer email goes to the dev mailbox: http://{addr}/dev/mailbox"),
        DevMailbox::AdminOnly => tracing::warn!("the dev mailbox is on at http://{addr}/dev/mailbox, for admins only"),
        DevMailbox::Off => {}
    }
    if let Some(metrics_addr) = args.metrics_addr {
        let metrics = tokio::net::TcpListener::bind(metrics_addr)
            .await
            .with_context(|| format!("binding the metrics address {metrics_addr}"))?;
        let router = stampede_web::metrics_router(state.clone());
        tracing::info!("metrics at http://{metrics_addr}/metrics");
        tokio::spawn(async move { axum::serve(metrics, router).await });
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
    http_server::serve(listener, stampede_web::router(state), client_limits, shutdown).await;
    // Requests are done, so no new events can appear: one last delivery round, bounded in time.
    relay.shutdown().await;
    // Dropping the last handle to the store joins the writer after its final commit.
    tracing::info!("stopped accepting; closing the store");
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
async fn prune_history(store: Arc<SqliteStore>, keep: Duration) {
    let mut hourly = tokio::time::interval(Duration::from_secs(3_600));
    loop {
        hourly.tick().await;
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |now| now.saturating_sub(keep).as_millis() as i64);
        let (mut events, mut mails) = (0, 0);
        loop {
            match store.prune_history(before, PRUNE_STEP).await {
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
