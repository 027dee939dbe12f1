//! The server under test: targets given by URL (several instances of one shop, e.g. on one
//! PostgreSQL database), or fresh `stampede serve` child processes (several only over one
//! shared DynamoDB table).

use anyhow::{Context, bail};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// Warnings, errors and panics the spawned server logged: a count and the first few lines, so a
/// failed audit can say what the server saw (a failed delivery, a lost lease).
#[derive(Debug, Default)]
pub struct ServerWarnings {
    pub count: usize,
    /// Of `count`, the panics: a defect whatever else the run shows.
    pub panics: usize,
    pub first: Vec<String>,
}

/// Lines of `ServerWarnings::first` kept.
const WARNINGS_KEPT: usize = 10;

/// A server to load (one or more instances of one shop), stopped on drop if we started it.
pub struct Target {
    /// The first instance: admin calls (the product, the audit) go there.
    pub base: String,
    /// Every instance; requests are spread over them round-robin.
    pub bases: Vec<String>,
    pub admin_token: String,
    /// The server processes whose CPU is summed (`--target-pid`), for remote targets.
    pids: Vec<u32>,
    /// The instances this command started, in the order of `bases`.
    children: Vec<Child>,
    /// What all of `children` logged, together.
    warnings: Arc<Mutex<ServerWarnings>>,
    _data_dirs: Vec<tempfile::TempDir>,
}

impl Drop for Target {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Target {
    /// Resident memory of the (first) server process in KiB, when this command started it (Linux).
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.children.first()?.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
    }

    /// CPU time (user + system) the server processes have used, summed: the ones this
    /// command started, or the `--target-pid`s (Linux). Unlike wall-clock rates, it barely
    /// moves when a neighbour loads the machine.
    pub fn cpu_time(&self) -> Option<Duration> {
        let pids: Vec<u32> = match self.children.is_empty() {
            false => self.children.iter().map(Child::id).collect(),
            true => self.pids.clone(),
        };
        if pids.is_empty() {
            return None;
        }
        pids.iter().map(|pid| process_cpu(*pid)).sum()
    }

    /// Uses the instances at `urls` (at least one) with `token`; `pids` are their processes
    /// on this machine, if known, for their CPU time.
    pub fn remote(urls: &[String], token: Option<String>, pids: Vec<u32>) -> anyhow::Result<Target> {
        let admin_token =
            token.context("--target needs --admin-token (or STAMPEDE_ADMIN_TOKEN) to create the sale product")?;
        let bases: Vec<String> = urls.iter().map(|url| url.trim_end_matches('/').to_owned()).collect();
        Ok(Target {
            base: bases.first().context("no --target")?.clone(),
            bases,
            admin_token,
            pids,
            children: Vec::new(),
            warnings: Arc::default(),
            _data_dirs: Vec::new(),
        })
    }

    /// Starts this binary's `serve` on a free loopback port and an empty temporary database,
    /// with `extra` serve flags.
    pub fn spawn(queue_depth: Option<u32>, extra: &[String]) -> anyhow::Result<Target> {
        Target::spawn_instances(1, queue_depth, extra)
    }

    /// Starts `instances` of this binary's `serve`, each on a free loopback port and its own
    /// temporary data directory, all with `extra` serve flags (which must name one shared
    /// store: a DynamoDB table), one admin token and one signing secret, as a shop's
    /// instances behind a load balancer have.
    pub fn spawn_instances(instances: u32, queue_depth: Option<u32>, extra: &[String]) -> anyhow::Result<Target> {
        let secret = format!("loadtest-secret-{:x}{:x}", rand::random::<u64>(), rand::random::<u64>());
        let mut target = Target {
            base: String::new(),
            bases: Vec::new(),
            admin_token: format!("loadtest-{}", rand::random::<u64>()),
            pids: Vec::new(),
            children: Vec::new(),
            warnings: Arc::default(),
            _data_dirs: Vec::new(),
        };
        for _ in 0..instances.max(1) {
            // On failure `target` drops, stopping the instances already started.
            let (child, dir, base) = spawn_one(queue_depth, extra, &target.admin_token, &secret, &target.warnings)?;
            target.children.push(child);
            target._data_dirs.push(dir);
            target.bases.push(base);
        }
        target.base = target.bases[0].clone();
        Ok(target)
    }

    /// Prints what `warnings` holds, if anything.
    pub fn print_warnings(&self) {
        let warnings = self.warnings();
        if warnings.count > 0 {
            eprintln!("the server logged {} warnings, errors or panics; the first:", warnings.count);
            warnings.first.iter().for_each(|line| eprintln!("  {line}"));
        }
    }

    /// What the spawned server has logged at WARN or ERROR, or panicked with, so far (nothing for a remote target).
    pub fn warnings(&self) -> ServerWarnings {
        let w = self.warnings.lock().unwrap_or_else(|p| p.into_inner());
        ServerWarnings { count: w.count, panics: w.panics, first: w.first.clone() }
    }
}

/// Starts one `serve` instance; returns it with its data directory and base URL. What it
/// logs at WARN or above goes to `warnings`.
fn spawn_one(
    queue_depth: Option<u32>,
    extra: &[String],
    admin_token: &str,
    secret: &str,
    warnings: &Arc<Mutex<ServerWarnings>>,
) -> anyhow::Result<(Child, tempfile::TempDir, String)> {
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(std::env::current_exe()?)
        // Every buyer comes from 127.0.0.1, so the per-IP limit (off by default) stays off.
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--no-seed",
            "--log-format",
            "json",
            "--order-rate-per-ip",
            "0",
            "--data-dir",
        ])
        .arg(dir.path())
        .args(queue_depth.map(|d| format!("--queue-depth={d}")))
        .args(extra)
        .env("STAMPEDE_ADMIN_TOKEN", admin_token)
        .env("STAMPEDE_SECRET_KEY", secret)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting stampede serve")?;
    let stderr = child.stderr.take().context("no stderr")?;
    let (tx, rx) = mpsc::channel();
    // Read the log until the server says where it listens, then keep draining it (without
    // parsing: one line per request) so the server never blocks on a full pipe.
    let seen = warnings.clone();
    std::thread::spawn(move || {
        let mut log = BufReader::new(stderr);
        for line in (&mut log).lines().map_while(Result::ok) {
            let addr = serde_json::from_str::<serde_json::Value>(&line)
                .ok()
                .and_then(|v| v["addr"].as_str().map(str::to_owned));
            if let Some(addr) = addr {
                let _ = tx.send(addr);
                break;
            }
        }
        keep_warnings(log, &seen);
    });
    let Ok(addr) = rx.recv_timeout(Duration::from_secs(30)) else {
        let _ = child.kill();
        bail!("the server did not start within 30 s");
    };
    Ok((child, dir, format!("http://{addr}")))
}

/// CPU time (user + system) process `pid` has used (Linux).
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let fields = stat_fields(pid)?;
    ticks(fields.get(11)?, fields.get(12)?)
}

/// CPU time (user + system) of process `pid`, its live children, and the children it has
/// waited for: a PostgreSQL server (the postmaster) with its backends, a backend that
/// ended since included (Linux).
pub fn process_tree_cpu(pid: u32) -> Option<Duration> {
    let own = stat_fields(pid)?;
    let mut total = ticks(own.get(11)?, own.get(12)?)? + ticks(own.get(13)?, own.get(14)?)?;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else { continue };
        let Some(fields) = stat_fields(child) else { continue };
        if fields.get(1).and_then(|ppid| ppid.parse::<u32>().ok()) == Some(pid) {
            total += fields.get(11).zip(fields.get(12)).and_then(|(u, s)| ticks(u, s)).unwrap_or_default();
        }
    }
    Some(total)
}

/// The fields of `/proc/PID/stat` after the command name (which is in parentheses and may
/// contain spaces): index 1 is the parent, 11 and 12 user and system time, 13 and 14 those
/// of the children waited for.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(stat.rsplit_once(')')?.1.split_whitespace().map(str::to_owned).collect())
}

/// Two clock-tick counts as time; USER_HZ is 100 on every Linux ABI.
fn ticks(a: &str, b: &str) -> Option<Duration> {
    Some(Duration::from_millis((a.parse::<u64>().ok()? + b.parse::<u64>().ok()?) * 10))
}

/// Drains the JSON log to its end, keeping WARN and ERROR lines. A byte search per line,
/// no parsing: the access log writes one line per request.
fn keep_warnings(mut log: impl BufRead, into: &Mutex<ServerWarnings>) {
    let mut line = Vec::with_capacity(512);
    while log.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
        let warn = |level: &[u8]| line.windows(level.len()).any(|w| w == level);
        // A panic's message is not a JSON line: the panic hook writes it as plain text.
        let panic = warn(b"panicked at");
        if panic || warn(br#""level":"WARN""#) || warn(br#""level":"ERROR""#) {
            let mut w = into.lock().unwrap_or_else(|p| p.into_inner());
            w.count += 1;
            w.panics += usize::from(panic);
            if w.first.len() < WARNINGS_KEPT {
                w.first.push(String::from_utf8_lossy(&line).trim_end().to_owned());
            }
        }
        line.clear();
    }
}

/// `serve` flags for a fresh DynamoDB table at `endpoint`, which this makes first (through
/// this binary's `dynamodb create-table`, so a build without the `aws` feature says so).
pub fn dynamodb_flags(endpoint: &str) -> anyhow::Result<Vec<String>> {
    let table = format!("loadtest-{:x}", rand::random::<u64>());
    let made = Command::new(std::env::current_exe()?)
        .args(["dynamodb", "create-table", &table, "--aws-endpoint-url", endpoint])
        .output()
        .context("running stampede dynamodb create-table")?;
    if !made.status.success() {
        anyhow::bail!(
            "could not create a DynamoDB table at {endpoint} (is this a build with --features aws?): {}",
            String::from_utf8_lossy(&made.stderr).trim()
        );
    }
    Ok(vec![
        "--store=dynamodb".to_owned(),
        format!("--dynamodb-table={table}"),
        format!("--aws-endpoint-url={endpoint}"),
    ])
}
