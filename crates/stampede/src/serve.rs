//! `stampede serve`: open the store, seed the demo shop on first start, serve HTTP until
//! SIGINT/SIGTERM, then let in-flight orders finish.

use crate::cli::ServeArgs;
use crate::http_server::{self, ClientLimits};
use crate::seed;
use anyhow::Context;
use stampede_store::{DataDirLock, SqliteConfig, SqliteStore, Store};
use stampede_web::AppState;
use stampede_web::rate_limit::{OrderRateLimits, Rate};
use std::sync::Arc;
use std::time::Duration;

/// Opens the SQLite store described by `args`.
pub fn open_store(args: &ServeArgs) -> anyhow::Result<SqliteStore> {
    let config = SqliteConfig {
        queue_depth: args.queue_depth as usize,
        max_batch: args.max_batch as usize,
        max_wait: Duration::from_millis(args.max_wait_ms),
        retry_after: Duration::from_secs(args.retry_after_secs),
        ..SqliteConfig::in_dir(&args.data_dir)
    };
    SqliteStore::open(config).with_context(|| format!("opening the database in {}", args.data_dir.display()))
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
    let rate = |per_second, burst| (per_second > 0).then_some(Rate { per_second, burst });
    let limits = OrderRateLimits::new(
        rate(args.order_rate_per_ip, args.order_burst_per_ip),
        rate(args.order_rate_per_customer, args.order_burst_per_customer),
    );
    let state = AppState::new(store, args.admin_token.as_deref().map(Arc::from)).with_order_limits(limits);
    let limits = state.order_limits.clone();
    // Idle keys are forgotten every minute, so a flood of distinct clients cannot grow memory without bound.
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limits.forget_idle();
        }
    });
    let listener = tokio::net::TcpListener::bind(args.addr).await.with_context(|| format!("binding {}", args.addr))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %args.data_dir.display(), admin_api = state.admin_token.is_some(), "Stampede is open at http://{addr}");
    let client_limits = ClientLimits {
        max_connections: args.max_connections as usize,
        read_timeout: Duration::from_secs(args.read_timeout_secs),
    };
    http_server::serve(listener, stampede_web::router(state), client_limits, shutdown_signal()).await;
    // Every connection has finished, so no request still waits on the writer; dropping the
    // last handle to the store joins the writer after its final commit.
    tracing::info!("stopped accepting; closing the store");
    Ok(())
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
