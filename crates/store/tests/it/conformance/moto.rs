//! A moto server (DynamoDB-compatible, see scripts/moto_serial.py) on a free loopback port,
//! one per test binary, and a fresh table on it for every check.

use stampede_store::dynamo::create_table;
use stampede_store::{DynamoConfig, DynamoStore, Store};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

static URL: OnceLock<String> = OnceLock::new();

/// The server's URL, starting it on first use. It exits by itself when this test process
/// is gone, since statics are never dropped.
pub fn url() -> &'static str {
    URL.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        // See scripts/moto_serial.py for why not `moto_server` itself.
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/moto_serial.py");
        let mut server = Command::new("python3")
            .args([script, &port.to_string(), &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 must exist");
        // Reaped when it exits, which it does once this process is gone.
        std::thread::spawn(move || server.wait());
        for _ in 0..300 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return format!("http://127.0.0.1:{port}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("moto_server did not start on port {port} (scripts/test.sh installs it: pip install 'moto[server]')");
    })
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
