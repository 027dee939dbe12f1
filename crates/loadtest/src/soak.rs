//! `stampede loadtest soak`: steady load for a long time, to show memory stays flat and the
//! invariants still hold at the end.

use super::SoakArgs;
use super::flash_sale::{Shared, buy_once};
use super::sale_product::create_product;
use super::server::Target;
use super::stats::{Latency, Outcome, Sample, rate};
use anyhow::bail;
use reqwest::Client;
use serde_json::Value;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Runs the soak and prints (and maybe writes) its report.
pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    let target = Target::spawn(None, &[])?;
    let client = Client::builder().pool_max_idle_per_host(args.concurrency as usize).tcp_nodelay(true).build()?;
    let rate_per_sec = soak_rate(&client, &target, &args).await?;
    let planned = u64::from(rate_per_sec) * args.duration;
    let stock = u32::try_from(planned + planned / 10 + 1000).unwrap_or(u32::MAX);
    create_product(&client, &target, "soak", stock, u32::MAX).await?;
    let shared = Arc::new(Shared {
        client: client.clone(),
        bases: target.bases.clone(),
        product: "soak".into(),
        run: 0,
        quantity: 1,
        limit: u32::MAX,
        retry_percent: 0,
        greedy_percent: 0,
    });
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.duration);
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(paced_buyer(shared.clone(), next.clone(), start, deadline, rate_per_sec)))
        .collect();
    let mut rss = sample_memory(&target, start, deadline, args.sample_every, &next).await;
    let (mut samples, mut acked, mut errors) = (Vec::<Sample>::new(), 0u64, Vec::<String>::new());
    for w in workers {
        let (s, a, e) = w.await?;
        samples.extend(s);
        acked += a;
        errors.extend(e);
    }
    let elapsed = start.elapsed();
    rss.push((elapsed.as_secs(), target.rss_kib()));
    let violations = audit(&client, &target, stock, acked, &errors).await?;
    let report = markdown(&args, rate_per_sec, acked, elapsed, &samples, &rss, &violations);
    println!("{report}");
    if let Some(path) = &args.report {
        super::report_file::write_soak(path, &report)?;
    }
    if !violations.is_empty() {
        bail!("invariants violated: {}", violations.join("; "));
    }
    Ok(())
}

/// Accepted orders per second over a short unpaced burst.
/// The pace of the soak: `--rate`, or `--percent-of-peak` of a measured peak.
async fn soak_rate(client: &Client, target: &Target, args: &SoakArgs) -> anyhow::Result<u32> {
    Ok(match args.rate {
        Some(r) => r,
        None => {
            let peak = measure_peak(client, target, args.concurrency as usize).await?;
            eprintln!("peak accepted orders: {peak:.0}/s; soaking at {}%", args.percent_of_peak);
            (peak * f64::from(args.percent_of_peak) / 100.0).max(1.0) as u32
        }
    })
}

/// One worker: takes the next order number and sends it when it is due (order `i` leaves
/// at `start + i / rate`) until the deadline; returns its samples (every refusal, one in ten
/// accepted orders), how many orders were acknowledged, and the unexpected answers.
async fn paced_buyer(
    shared: Arc<Shared>,
    next: Arc<AtomicUsize>,
    start: Instant,
    deadline: Instant,
    rate_per_sec: u32,
) -> (Vec<Sample>, u64, Vec<String>) {
    let (mut samples, mut acked, mut errors) = (Vec::new(), 0u64, Vec::<String>::new());
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate_per_sec));
        if due >= deadline {
            return (samples, acked, errors);
        }
        tokio::time::sleep_until(due.into()).await;
        let buyer = buy_once(shared.clone(), i, start).await;
        acked += u64::from(buyer.order.is_some());
        errors.extend(buyer.errors);
        samples.extend(buyer.samples.into_iter().filter(|s| s.outcome != Outcome::Accepted || i.is_multiple_of(10)));
    }
}

/// The server's resident memory every `every` seconds until the deadline, printed as it goes.
async fn sample_memory(
    target: &Target,
    start: Instant,
    deadline: Instant,
    every: u64,
    sent: &AtomicUsize,
) -> Vec<(u64, Option<u64>)> {
    let mut rss = vec![(0u64, target.rss_kib())];
    let mut tick = tokio::time::interval(Duration::from_secs(every.max(1)));
    tick.tick().await;
    while Instant::now() < deadline {
        tick.tick().await;
        rss.push((start.elapsed().as_secs(), target.rss_kib()));
        eprintln!(
            "  {:>4} s  rss {:>8} KiB  orders sent {}",
            start.elapsed().as_secs(),
            target.rss_kib().unwrap_or(0),
            sent.load(Ordering::Relaxed)
        );
    }
    rss
}

/// The soak's invariants: no panic, stock plus units sold is the initial stock, every
/// acknowledged order is one order row of one unit, no unexpected answer.
async fn audit(
    client: &Client,
    target: &Target,
    stock: u32,
    acked: u64,
    errors: &[String],
) -> anyhow::Result<Vec<String>> {
    let sales: Value = client
        .get(format!("{}/api/admin/products/soak/sales", target.base))
        .bearer_auth(&target.admin_token)
        .send()
        .await?
        .json()
        .await?;
    let (left, sold, orders) = (
        sales["stock"].as_u64().unwrap_or(0),
        sales["unitsSold"].as_u64().unwrap_or(0),
        sales["orders"].as_u64().unwrap_or(0),
    );
    target.print_warnings();
    let mut violations = Vec::new();
    if target.warnings().panics > 0 {
        violations.push(format!("the server panicked {} times", target.warnings().panics));
    }
    if left + sold != u64::from(stock) {
        violations.push(format!("stock {left} + sold {sold} != initial {stock}"));
    }
    if orders != acked || sold != acked {
        violations.push(format!("{acked} orders acknowledged, {orders} order rows holding {sold} units"));
    }
    if let Some(first) = errors.first() {
        violations.push(format!("{} unexpected answers, first: {first}", errors.len()));
    }
    Ok(violations)
}

async fn measure_peak(client: &Client, target: &Target, concurrency: usize) -> anyhow::Result<f64> {
    const BURST: u32 = 20_000;
    create_product(client, target, "peak", BURST, u32::MAX).await?;
    let shared = Arc::new(Shared {
        client: client.clone(),
        bases: target.bases.clone(),
        product: "peak".into(),
        run: 1_000_000,
        quantity: 1,
        limit: u32::MAX,
        retry_percent: 0,
        greedy_percent: 0,
    });
    let s = shared.clone();
    let (buyers, start) =
        super::driver::fire("peak burst", BURST as usize, concurrency, move |i, start| buy_once(s.clone(), i, start))
            .await;
    let accepted = buyers.iter().filter(|b| b.order.is_some()).count();
    Ok(rate(accepted, start.elapsed()))
}

fn markdown(
    args: &SoakArgs,
    rate_per_sec: u32,
    acked: u64,
    elapsed: Duration,
    samples: &[Sample],
    rss: &[(u64, Option<u64>)],
    violations: &[String],
) -> String {
    let mut s = String::new();
    let mib = |k: Option<u64>| k.map_or("n/a".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0));
    let _ = writeln!(s, "## Soak: {} s of steady orders\n", args.duration);
    let _ = writeln!(
        s,
        "Produced by `stampede loadtest soak --duration {} --concurrency {}{}` against a fresh `stampede serve`.\n",
        args.duration,
        args.concurrency,
        args.rate.map_or(format!(" --percent-of-peak {}", args.percent_of_peak), |r| format!(" --rate {r}"))
    );
    let _ = writeln!(
        s,
        "- target rate: {rate_per_sec} orders/s; achieved: {:.0} orders/s ({acked} acknowledged orders)",
        rate(acked as usize, elapsed)
    );
    let accepted = Latency::of(samples, Outcome::Accepted);
    let _ = writeln!(
        s,
        "- accepted order latency (every 10th order sampled): p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        accepted.p50, accepted.p90, accepted.p99, accepted.max
    );
    let (first, last) = (rss.iter().find(|(t, _)| *t > 0).map(|r| r.1).unwrap_or(None), rss.last().and_then(|r| r.1));
    let _ = writeln!(
        s,
        "- server RSS: {} MiB at start (first sample under load), {} MiB at the end, peak {} MiB",
        mib(first),
        mib(last),
        mib(rss.iter().filter_map(|r| r.1).max())
    );
    let _ = writeln!(
        s,
        "- invariants: {}\n",
        if violations.is_empty() {
            "PASS (stock + sold == initial; order rows == acknowledged orders)".to_owned()
        } else {
            format!("FAIL: {}", violations.join("; "))
        }
    );
    let _ = writeln!(s, "| seconds | RSS (MiB) |\n|---|---|");
    for (t, k) in rss {
        let _ = writeln!(s, "| {t} | {} |", mib(*k));
    }
    s
}
