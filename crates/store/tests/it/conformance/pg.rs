//! A fresh database for every check, on the test binary's one PostgreSQL server.

pub use super::pg_server::url;
use stampede_store::{PostgresConfig, PostgresStore, Store};
use std::sync::Arc;

/// A new, empty database on the shared server; its URL.
pub async fn fresh_database() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = url();
    let name = format!("stampede_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let (client, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    drop(client);
    let _ = driver.await;
    format!("{}/{name}", base.trim_end_matches("/postgres"))
}

/// A store on a fresh database; the URL is the guard.
pub async fn fresh_store() -> (Arc<dyn Store>, String) {
    let url = fresh_database().await;
    let store = PostgresStore::connect(PostgresConfig::new(&url)).await.unwrap();
    (Arc::new(store), url)
}
