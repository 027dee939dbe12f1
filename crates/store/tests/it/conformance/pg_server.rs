//! A PostgreSQL server for tests: a throwaway cluster (scripts/pg_temp.sh) on a free loopback
//! port, one per test binary. Shared by the store's conformance suite and the binary's tests.
//! A test that stops the server starts a `Cluster` of its own instead.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

static SHARED: OnceLock<Cluster> = OnceLock::new();

/// The shared server's base URL (database `postgres`), starting it on first use. It stops and
/// removes its files by itself when this test process is gone, since statics are never dropped.
pub fn url() -> &'static str {
    &SHARED.get_or_init(Cluster::start).url
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A throwaway cluster; stopped and removed on drop (or when this test process is gone).
pub struct Cluster {
    /// Base URL, database `postgres`.
    pub url: String,
    /// `pg_ctl` with the cluster's data directory, as its owner.
    pg_ctl: Vec<String>,
    script: Child,
}

impl Cluster {
    pub fn start() -> Cluster {
        // PostgreSQL needs its port fixed (a test stops and resumes it), so it is chosen here
        // and may be taken by another process before the server binds it: then another.
        for _ in 0..5 {
            if let Some(cluster) = Cluster::start_on(free_port()) {
                return cluster;
            }
        }
        panic!("PostgreSQL did not start (scripts/test.sh installs it: apt-get install postgresql)");
    }

    fn start_on(port: u16) -> Option<Cluster> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg_temp.sh");
        let mut child = Command::new("bash")
            .args([script, &port.to_string(), &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("bash must exist");
        // The script prints the URL once the server accepts connections, then its pg_ctl;
        // nothing if the server could not start.
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut url, mut pg_ctl) = (String::new(), String::new());
        out.read_line(&mut url).unwrap();
        if !url.starts_with("postgres://") {
            let _ = child.wait();
            return None;
        }
        out.read_line(&mut pg_ctl).unwrap();
        Some(Cluster {
            url: url.trim().to_owned(),
            pg_ctl: pg_ctl.split_whitespace().map(str::to_owned).collect(),
            script: child,
        })
    }

    /// `pg_ctl stop -m fast`: open connections are ended, new ones refused until `resume`.
    #[allow(dead_code)]
    pub fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast"]);
    }

    /// Starts the stopped server again on the same port, waiting until it accepts connections.
    #[allow(dead_code)]
    pub fn resume(&self) {
        self.pg_ctl(&["start"]);
    }

    /// The cluster's data directory (its configuration files are in it).
    #[allow(dead_code)]
    pub fn data_dir(&self) -> std::path::PathBuf {
        let at = self.pg_ctl.iter().position(|a| a == "-D").expect("pg_ctl -D DIR");
        self.pg_ctl[at + 1].clone().into()
    }

    /// `pg_ctl reload`: the server reads its configuration files again.
    #[allow(dead_code)]
    pub fn reload(&self) {
        self.pg_ctl(&["reload"]);
    }

    fn pg_ctl(&self, args: &[&str]) {
        let out = Command::new(&self.pg_ctl[0]).args(&self.pg_ctl[1..]).args(args).output().unwrap();
        assert!(out.status.success(), "pg_ctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SIGTERM: the script stops the server and removes its directory on the way out.
        let _ = Command::new("kill").arg(self.script.id().to_string()).status();
        let _ = self.script.wait();
    }
}
