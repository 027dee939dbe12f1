//! The real `stampede` binary as a child process on a free loopback port.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

/// A running `stampede serve`; killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// Every log line the server wrote.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the binary on `data_dir` and waits for its "open at" log line.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Server::start_with_env(data_dir, extra, &[])
    }

    /// `start`, with extra environment variables for the server.
    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_on("127.0.0.1:0", data_dir, extra, env)
    }

    /// Starts the binary listening on every address, as a public shop does (reached here
    /// through loopback).
    pub fn start_public(data_dir: &Path, extra: &[&str]) -> Server {
        let mut server = Server::start_on("0.0.0.0:0", data_dir, extra, &[]);
        server.base = server.base.replace("0.0.0.0", "127.0.0.1");
        server
    }

    fn start_on(addr: &str, data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stampede"))
            .args(["--addr", addr, "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .envs(env.iter().copied())
            .env("STAMPEDE_LOG_FORMAT", "json")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut base = None;
        let mut early = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            eprintln!("server: {line}");
            early.push(line.clone());
            if let Some(addr) =
                serde_json::from_str::<Value>(&line).ok().and_then(|v| v["addr"].as_str().map(str::to_owned))
            {
                base = Some(format!("http://{addr}"));
                break;
            }
        }
        // Keep draining the log so the server never blocks on a full pipe; shown if a test fails.
        let log = Arc::new(Mutex::new(early));
        let kept = log.clone();
        std::thread::spawn(move || {
            lines.map_while(Result::ok).for_each(|line| {
                eprintln!("server: {line}");
                kept.lock().unwrap().push(line);
            })
        });
        Server { child, base: base.expect("server never said where it listens"), log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn crash(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        self.child.wait().unwrap()
    }
}
