//! The HTTP/1.1 accept loop of `stampede serve`. axum's `serve` has no knobs for slow or
//! excess clients, so this loop adds them: a cap on open connections (memory stays bounded
//! under a flood: past the cap, new clients wait in the kernel's backlog), a deadline for
//! request headers and bodies (a slowloris client cannot hold a connection), a header size
//! limit, and graceful shutdown that lets requests in flight finish.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use stampede_web::body_deadline::DeadlineBody;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Limits on clients.
#[derive(Debug, Clone, Copy)]
pub struct ClientLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Time a client has to send complete request headers, and then its body.
    pub read_timeout: Duration,
}

/// Largest request head (request line + headers) accepted, in bytes.
const MAX_HEADER_BYTES: usize = 16 * 1024;
/// How long shutdown waits for requests in flight before giving up on them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `router` on `listener` until `shutdown` resolves, then drains connections.
pub async fn serve(listener: TcpListener, router: Router, limits: ClientLimits, shutdown: impl Future<Output = ()>) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.read_timeout).max_buf_size(MAX_HEADER_BYTES.max(8192));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot { Ok(s) => s, Err(_) => break },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req.map(|body| axum::body::Body::new(DeadlineBody::new(body, limits.read_timeout)))
        });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!("stopped accepting; finishing requests in flight");
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("gave up waiting for connections after {} s", DRAIN_TIMEOUT.as_secs());
    }
}
