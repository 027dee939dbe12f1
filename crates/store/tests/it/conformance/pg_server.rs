//! A PostgreSQL server for tests: a throwaway cluster (scripts/pg_temp.sh) on a free loopback
//! port, one per test binary. Shared by the store's conformance suite and the binary's tests.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

static URL: OnceLock<String> = OnceLock::new();

/// The server's base URL (database `postgres`), starting it on first use. It stops and
/// removes its files by itself when this test process is gone, since statics are never dropped.
pub fn url() -> &'static str {
    URL.get_or_init(|| {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg_temp.sh");
        let mut server = Command::new("bash")
            .args([script, &port.to_string(), &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("bash must exist");
        // The script prints the URL once the server accepts connections.
        let mut line = String::new();
        BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(
            line.starts_with("postgres://"),
            "PostgreSQL did not start (scripts/test.sh installs it: apt-get install postgresql)"
        );
        // Reaped when it exits, which it does once this process is gone.
        std::thread::spawn(move || server.wait());
        line.trim().to_owned()
    })
}
