//! A moto server (DynamoDB-compatible, see scripts/moto_serial.py) on a free loopback port,
//! one per test binary, and a fresh table on it for every check.

use stampede_store::dynamo::create_table;
use stampede_store::{DynamoConfig, DynamoStore, Store};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

#[path = "../../../../stampede/tests/it/common/moto.rs"]
mod server;

static SERVER: OnceLock<server::Moto> = OnceLock::new();

/// The server's URL, starting it on first use. It exits by itself when this test process
/// is gone, since statics are never dropped.
pub fn url() -> &'static str {
    &SERVER.get_or_init(server::Moto::start).url
}

/// A store on a new, empty table; the table name is the guard. The suite checks stock
/// right after each write, so menus are read afresh every time (`catalog_ttl` zero).
pub async fn fresh_store() -> (Arc<dyn Store>, String) {
    let (store, table) = fresh_dynamo(|config| DynamoConfig { catalog_ttl: Duration::ZERO, ..config }).await;
    (store, table)
}

/// A DynamoDB store on a new, empty table, with `configure`d settings.
pub async fn fresh_dynamo(configure: impl FnOnce(DynamoConfig) -> DynamoConfig) -> (Arc<DynamoStore>, String) {
    let client = DynamoStore::local_client(url()).await;
    let table = format!("stampede-{}", uuid_like());
    create_table(&client, &table).await.unwrap();
    (Arc::new(DynamoStore::new(client, configure(DynamoConfig::new(&table)))), table)
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{nanos:x}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}
