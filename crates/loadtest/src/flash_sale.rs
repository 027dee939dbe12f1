//! One flash-sale run: baseline, the sale, the sold-out rush, then the audit.

use super::FlashSaleArgs;
use super::driver::fire;
use super::figures::{BUSY_ATTEMPTS, DatabaseCpuPerRequest, RunFigures, Series, ServerCpuPerRequest, Variant};
use super::receiver::{self, Receiver};
use super::report;
use super::sale_product::create_product_with;
use super::server::Target;
use super::stats::{Latency, Outcome, Sample, rate};
use super::store_costs::{Calls, PerRequest, StoreCosts};
use anyhow::bail;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one buyer saw.
#[derive(Default)]
pub(super) struct Buyer {
    pub(super) samples: Vec<Sample>,
    /// The order this buyer got, with its units.
    pub(super) order: Option<(String, u32)>,
    /// A retry with the same key answered with another order, or not as a replay.
    replay_mismatch: bool,
    /// A second order past the per-customer limit was accepted.
    limit_breached: bool,
    /// Unexpected answers (5xx, unknown problem types), for the report.
    pub(super) errors: Vec<String>,
    /// Still turned away (503) after every retry.
    gave_up: bool,
}

impl Shared {
    /// The instance buyer `i` goes to.
    fn base(&self, i: usize) -> &str {
        &self.bases[i % self.bases.len()]
    }
}

/// What every buyer of a run shares.
pub(super) struct Shared {
    pub(super) client: Client,
    /// Every instance; buyer `i` orders from `bases[i % n]`.
    pub(super) bases: Vec<String>,
    pub(super) product: String,
    pub(super) run: u32,
    pub(super) quantity: u32,
    pub(super) limit: u32,
    pub(super) retry_percent: u32,
    pub(super) greedy_percent: u32,
}

/// Runs every requested repetition (and the comparisons, if asked) and prints (and maybe
/// writes) the report.
pub async fn run(args: FlashSaleArgs) -> anyhow::Result<()> {
    let client = http_client(args.concurrency)?;
    let shipped = Variant { per_order_commit: false, notifications: !args.no_notifications && args.target.is_empty() };
    let mut variants = vec![shipped];
    if args.compare_notifications_off && shipped.notifications {
        variants.push(Variant { notifications: false, ..shipped });
    }
    if args.compare_per_order_commit {
        variants.push(Variant { per_order_commit: true, ..shipped });
    }
    if variants.len() > 1 && !args.target.is_empty() {
        bail!("comparisons start their own servers; leave out --target");
    }
    let mut series = Vec::new();
    for variant in variants {
        series.push(series_of(&client, &args, variant).await?);
    }
    if let Some(path) = &args.report {
        // A sale on moto measures DynamoDB requests, not speed: it writes only its own section.
        match &args.dynamodb_endpoint {
            Some(_) if args.instances > 1 => {
                let report = super::store_costs_report::markdown(&args, &series);
                let shards = args.stock_shards.unwrap_or(1);
                super::report_file::write_dynamodb_instances(path, args.instances, shards, &report)?
            }
            Some(_) => {
                super::report_file::write_dynamodb_costs(path, &super::store_costs_report::markdown(&args, &series))?
            }
            None => super::report_file::write_flash_sale(path, &report::markdown(&args, &series))?,
        }
    }
    if let Some(path) = &args.summary {
        super::summary::append(path, &args, &series)?;
    }
    if args.staleness_trials > 0 {
        let staleness = super::staleness::measure(&client, &args).await?;
        if let Some(path) = &args.summary {
            super::summary::append_line(path, &staleness.json())?;
        }
    }
    if series.iter().flat_map(|s| &s.runs).any(|r| !r.violations.is_empty()) {
        bail!("invariants violated: see FAIL lines above");
    }
    println!("\nPASS: no oversell, every acknowledged order persisted, retries idempotent, limits held");
    Ok(())
}

/// Every repetition against one server of `variant`.
async fn series_of(client: &Client, args: &FlashSaleArgs, variant: Variant) -> anyhow::Result<Series> {
    let mut extra = Vec::new();
    if variant.per_order_commit {
        extra.push("--max-batch=1".to_owned());
    }
    let receiver = if variant.notifications {
        let (receiver, url) = Receiver::start().await?;
        extra.extend([format!("--webhook-urls={url}"), format!("--webhook-secret={}", receiver::SECRET)]);
        Some(receiver)
    } else {
        None
    };
    if let Some(endpoint) = &args.dynamodb_endpoint {
        extra.extend(super::server::dynamodb_flags(endpoint)?);
    }
    let target = match args.target.is_empty() {
        false => Target::remote(&args.target, args.admin_token.clone(), args.target_pid.clone())?,
        true => Target::spawn_instances(args.instances, args.server_queue_depth, &extra)?,
    };
    let name = variant.name();
    eprintln!("flash sale against {} ({name}, {} run(s))", target.bases.join(", "), args.runs);
    let mut runs = Vec::new();
    for run in 1..=args.runs {
        let figures = one_run(client, &target, args, run, receiver.as_ref()).await?;
        report::print_run(run, &figures);
        runs.push(figures);
    }
    Ok(Series { variant, runs })
}

async fn one_run(
    client: &Client,
    target: &Target,
    args: &FlashSaleArgs,
    run: u32,
    receiver: Option<&Receiver>,
) -> anyhow::Result<RunFigures> {
    let mut opening = opening(client, target, args).await;
    let shared = sale_product(client, target, args, run).await?;
    let mut sale = sale(client, target, &shared, args, &mut opening.cpu).await;
    let (during, backlog) = refusals_during_backlog(target, &shared, args, &mut opening.cpu).await;
    // The relay delivers while the sale runs and trails it a little: let it finish, so its
    // work is counted neither in the rush nor in the baseline, and report how long it trailed.
    let delivery_lag = match receiver {
        Some(receiver) => Some(receiver.deliveries(&acknowledged(&sale.buyers), Duration::from_secs(60)).await.waited),
        None => None,
    };
    // Without a receiver the relay still settles every event (dev mailbox): wait for that too.
    outbox_drained(client, target, Duration::from_secs(60)).await;
    let drain_time = sale.clock.elapsed();
    let calls_after_sale = Calls::scrape(client, target).await;

    let (rush, rush_elapsed) =
        sold_out_rush(target, &shared, args, opening.slice, &mut opening.baseline, &mut opening.cpu).await;
    let rush_phase =
        Phase { samples: rush.iter().flat_map(|b| b.samples.iter().copied()).collect(), elapsed: rush_elapsed };
    let calls = sale.calls_before.take().zip(calls_after_sale);
    let store_costs = store_costs(client, target, &shared.product, args, calls, &sale.samples, &rush_phase).await;

    // The latecomers of both refusal phases are audited (and counted) together.
    let latecomers: Vec<Buyer> = during.into_iter().chain(rush).collect();
    let measured = Measured { opening, sale, backlog, rush: rush_phase, latecomers, drain_time };
    let (audit, notifications) =
        audit_run(client, target, &shared.product, args, &measured, receiver, delivery_lag).await?;
    Ok(figures(target, &measured, audit, notifications, store_costs))
}

/// What a run measured, phase by phase, for its figures.
struct Measured {
    opening: Opening,
    sale: SaleRun,
    /// The refusals while the sale's receipts go out.
    backlog: Phase,
    /// The sold-out rush.
    rush: Phase,
    /// The buyers of both refusal phases.
    latecomers: Vec<Buyer>,
    /// From the sale's start until the outbox drained.
    drain_time: Duration,
}

/// A phase's samples and its own elapsed time.
struct Phase {
    samples: Vec<Sample>,
    elapsed: Duration,
}

/// The warm-up, the first baseline slice and the catalog, before anything is sold.
struct Opening {
    baseline: Baseline,
    cpu: ServerCpu,
    /// Requests in each baseline slice.
    slice: usize,
    catalog: Phase,
}

async fn opening(client: &Client, target: &Target, args: &FlashSaleArgs) -> Opening {
    let conc = args.concurrency as usize;
    // Warm up connections and code paths; not counted.
    probe(client, &target.bases, 2_000.min(args.baseline_requests as usize), conc, "warm-up").await;
    // The machine is shared: the baseline is taken in slices between the measured phases, so
    // a neighbour's burst weighs on both sides of each ratio alike.
    let mut baseline = Baseline::default();
    let slice = (args.baseline_requests as usize).div_ceil(RUSH_SLICES + 1).max(1);
    let mut cpu = ServerCpu::default();
    let mark = target.cpu_time();
    baseline.add(probe(client, &target.bases, slice, conc, "baseline /healthz").await);
    cpu.baseline += since(target, mark);
    // The catalog as a buyer's page polls it: the same number of requests as a baseline slice.
    let mark = target.cpu_time();
    let (samples, elapsed) = get_many(client, &urls(&target.bases, "/api/products"), slice, conc, "catalog").await;
    cpu.catalog = since(target, mark);
    Opening { baseline, cpu, slice, catalog: Phase { samples, elapsed } }
}

/// Creates the run's product and what its buyers share.
async fn sale_product(client: &Client, target: &Target, args: &FlashSaleArgs, run: u32) -> anyhow::Result<Arc<Shared>> {
    let product = format!("flash-{run}-{}", rand::random::<u32>());
    let sale = json!({"perCustomerMax": args.per_customer_limit});
    let shards = args.stock_shards.map_or(Value::Null, |n| json!(n));
    create_product_with(client, target, &product, args.stock, sale, shards).await?;
    Ok(Arc::new(Shared {
        client: client.clone(),
        bases: target.bases.clone(),
        product,
        run,
        quantity: args.quantity,
        limit: args.per_customer_limit,
        retry_percent: args.retry_percent,
        greedy_percent: args.greedy_percent,
    }))
}

/// The sale itself and what it cost.
struct SaleRun {
    buyers: Vec<Buyer>,
    /// Started with the sale.
    clock: Instant,
    samples: Vec<Sample>,
    /// When the last accepted order finished.
    sell_out_time: Duration,
    /// The database server's CPU over the sale (`--database-pid`).
    database_cpu: Option<Duration>,
    /// The store's counters before the sale, when the server exposes them.
    calls_before: Option<Calls>,
}

async fn sale(
    client: &Client,
    target: &Target,
    shared: &Arc<Shared>,
    args: &FlashSaleArgs,
    cpu: &mut ServerCpu,
) -> SaleRun {
    let s = shared.clone();
    let mark = target.cpu_time();
    let database_mark = database_cpu(args);
    let calls_before = Calls::scrape(client, target).await;
    let (buyers, clock) =
        fire("flash sale", args.buyers as usize, args.concurrency as usize, move |i, start| buy(s.clone(), i, start))
            .await;
    cpu.sale = since(target, mark);
    let database_cpu = database_since(args, database_mark);
    let samples: Vec<Sample> = buyers.iter().flat_map(|b| b.samples.iter().copied()).collect();
    let sell_out_time =
        samples.iter().filter(|s| s.outcome == Outcome::Accepted).map(|s| s.finished).max().unwrap_or_default();
    SaleRun { buyers, clock, samples, sell_out_time, database_cpu, calls_before }
}

/// Sold-out refusals at once, while the sale's receipts are still going out: in a real sale
/// the rush of latecomers meets the relay's backlog, and neither may starve the other.
async fn refusals_during_backlog(
    target: &Target,
    shared: &Arc<Shared>,
    args: &FlashSaleArgs,
    cpu: &mut ServerCpu,
) -> (Vec<Buyer>, Phase) {
    let during_count = (args.sold_out_requests as usize).div_ceil(RUSH_SLICES);
    let (s, first) = (shared.clone(), args.buyers as usize + args.sold_out_requests as usize);
    let mark = target.cpu_time();
    let conc = args.concurrency as usize;
    let (during, during_start) = fire("refusals while receipts go out", during_count, conc, move |i, start| {
        buy_once(s.clone(), first + i, start)
    })
    .await;
    let elapsed = during_start.elapsed();
    cpu.backlog = since(target, mark);
    let samples: Vec<Sample> = during.iter().flat_map(|b| b.samples.iter().copied()).collect();
    (during, Phase { samples, elapsed })
}

/// What the store was asked per accepted order, per refusal, per view and when idle, from
/// its counters around the sale (`calls`: before and after) and after the rush.
async fn store_costs(
    client: &Client,
    target: &Target,
    product: &str,
    args: &FlashSaleArgs,
    calls: Option<(Calls, Calls)>,
    sale_samples: &[Sample],
    rush: &Phase,
) -> Option<StoreCosts> {
    let (before, after) = calls?;
    Some(StoreCosts {
        accepted_order: after
            .per_request(&before, sale_samples.iter().filter(|s| s.outcome == Outcome::Accepted).count()),
        refusal: Calls::scrape(client, target).await.unwrap_or_default().per_request(&after, rush.samples.len()),
        view: product_views(client, target, product, args.concurrency as usize).await,
        idle_per_second: super::store_costs::idle(client, target, 5).await,
    })
}

/// The run's audit: the records, the webhook's deliveries (the lag measured after the sale
/// is the one reported) and the server log.
async fn audit_run(
    client: &Client,
    target: &Target,
    product: &str,
    args: &FlashSaleArgs,
    m: &Measured,
    receiver: Option<&Receiver>,
    delivery_lag: Option<Duration>,
) -> anyhow::Result<(Audit, Option<receiver::Deliveries>)> {
    let mut audit = audit(client, target, product, args, &m.sale.buyers, &m.latecomers).await?;
    let mut ids = acknowledged(&m.sale.buyers);
    ids.extend(acknowledged(&m.latecomers));
    let mut notifications = audit_deliveries(receiver, target, &ids, &mut audit.violations).await;
    if let (Some(d), Some(lag)) = (notifications.as_mut(), delivery_lag) {
        d.waited = lag;
    }
    audit_server_log(target, &mut audit.violations);
    Ok((audit, notifications))
}

/// The run's figures from its phases and its audit.
fn figures(
    target: &Target,
    m: &Measured,
    audit: Audit,
    notifications: Option<receiver::Deliveries>,
    store_costs: Option<StoreCosts>,
) -> RunFigures {
    let Measured { opening, sale, backlog, rush, latecomers, drain_time } = m;
    let (baseline, cpu, catalog) = (&opening.baseline, &opening.cpu, &opening.catalog);
    let accepted = Latency::of(&sale.samples, Outcome::Accepted);
    let per_request = |cpu: Duration, requests: usize| cpu.as_secs_f64() * 1e6 / requests.max(1) as f64;
    let server_cpu_us = target.cpu_time().map(|_| ServerCpuPerRequest {
        baseline: per_request(cpu.baseline, baseline.samples.len()),
        catalog: per_request(cpu.catalog, catalog.samples.len()),
        backlog: per_request(cpu.backlog, backlog.samples.len()),
        sale: per_request(cpu.sale, sale.samples.len()),
        rush: per_request(cpu.rush, rush.samples.len()),
    });
    let accepted_count = sale.samples.iter().filter(|s| s.outcome == Outcome::Accepted).count();
    let database_cpu_us = sale.database_cpu.zip(cpu.database_rush).map(|(sale, rush_cpu)| DatabaseCpuPerRequest {
        accepted_order: per_request(sale, accepted_count),
        refusal: per_request(rush_cpu, rush.samples.len()),
    });
    let counted = |samples: &[Sample], outcome| samples.iter().filter(|s| s.outcome == outcome).count();
    RunFigures {
        server_cpu_us,
        database_cpu_us,
        baseline_rps: rate(baseline.samples.len(), baseline.elapsed),
        baseline: Latency::of(&baseline.samples, Outcome::Ok),
        catalog_rps: rate(counted(&catalog.samples, Outcome::Ok), catalog.elapsed),
        catalog: Latency::of(&catalog.samples, Outcome::Ok),
        backlog_rps: rate(counted(&backlog.samples, Outcome::SoldOut), backlog.elapsed),
        backlog: Latency::of(&backlog.samples, Outcome::SoldOut),
        drain_time: *drain_time,
        accepted_rps: rate(accepted.count, sale.sell_out_time),
        accepted,
        sell_out_time: sale.sell_out_time,
        sold_out_rps: rate(counted(&rush.samples, Outcome::SoldOut), rush.elapsed),
        sold_out: Latency::of(&rush.samples, Outcome::SoldOut),
        sale_sold_out: Latency::of(&sale.samples, Outcome::SoldOut),
        replayed: Latency::of(&sale.samples, Outcome::Replayed),
        limit_refused: Latency::of(&sale.samples, Outcome::LimitRefused),
        busy: Latency::of(&sale.samples, Outcome::Busy),
        gave_up: sale.buyers.iter().chain(latecomers).filter(|b| b.gave_up).count(),
        errors: sale.buyers.iter().chain(latecomers).map(|b| b.errors.len()).sum(),
        units_sold: audit.units_sold,
        orders: audit.orders,
        stock_left: audit.stock_left,
        violations: audit.violations,
        notifications,
        store_costs,
    }
}

/// What one product view costs the store: the counters around a burst of `GET /api/products/{id}`.
async fn product_views(client: &Client, target: &Target, product: &str, conc: usize) -> PerRequest {
    const VIEWS: usize = 500;
    let before = Calls::scrape(client, target).await.unwrap_or_default();
    let (viewer, url) = (client.clone(), format!("{}/api/products/{product}", target.base));
    let (views, _) = fire("product views", VIEWS, conc, move |_, _| {
        let (client, url) = (viewer.clone(), url.clone());
        async move { client.get(&url).send().await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;
    let served = views.iter().filter(|ok| **ok).count();
    Calls::scrape(client, target).await.unwrap_or_default().per_request(&before, served)
}

/// Waits (at most `patience`) until the server's outbox has nothing pending.
async fn outbox_drained(client: &Client, target: &Target, patience: Duration) {
    let url = format!("{}/api/admin/outbox?state=pending&limit=1", target.base);
    let start = Instant::now();
    while start.elapsed() < patience {
        let page = client.get(&url).bearer_auth(&target.admin_token).send().await;
        let pending = match page {
            Ok(resp) => resp.json::<Value>().await.ok().and_then(|v| v["counts"]["pending"].as_u64()),
            Err(_) => None,
        };
        if pending == Some(0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The order ids acknowledged to `buyers`.
fn acknowledged(buyers: &[Buyer]) -> Vec<String> {
    buyers.iter().filter_map(|b| b.order.as_ref().map(|o| o.0.clone())).collect()
}

/// The sold-out rush after the sale, in slices, each after a slice of the baseline (added to
/// `baseline`); returns the latecomers and the rush's own elapsed time.
async fn sold_out_rush(
    target: &Target,
    shared: &Arc<Shared>,
    args: &FlashSaleArgs,
    slice: usize,
    baseline: &mut Baseline,
    cpu: &mut ServerCpu,
) -> (Vec<Buyer>, Duration) {
    let conc = args.concurrency as usize;
    let mut rush = Vec::new();
    let mut rush_elapsed = Duration::ZERO;
    let per_slice = (args.sold_out_requests as usize).div_ceil(RUSH_SLICES);
    for k in 0..RUSH_SLICES {
        let mark = target.cpu_time();
        baseline.add(probe(&shared.client, &target.bases, slice, conc, "baseline /healthz").await);
        cpu.baseline += since(target, mark);
        let first = args.buyers as usize + k * per_slice;
        let count = per_slice.min((args.sold_out_requests as usize).saturating_sub(k * per_slice));
        let s = shared.clone();
        let mark = target.cpu_time();
        let database_mark = database_cpu(args);
        let (part, start) =
            fire("sold-out rush", count, conc, move |i, start| buy_once(s.clone(), first + i, start)).await;
        rush_elapsed += start.elapsed();
        cpu.rush += since(target, mark);
        if let Some(used) = database_since(args, database_mark) {
            *cpu.database_rush.get_or_insert_default() += used;
        }
        rush.extend(part);
    }
    (rush, rush_elapsed)
}

/// Slices of the sold-out rush, each after a slice of the baseline.
const RUSH_SLICES: usize = 4;

/// Server CPU time spent in each phase.
#[derive(Default)]
struct ServerCpu {
    baseline: Duration,
    catalog: Duration,
    sale: Duration,
    backlog: Duration,
    rush: Duration,
    /// The database server's, over the sold-out rush (`--database-pid`).
    database_rush: Option<Duration>,
}

/// The database server's CPU time so far, when `--database-pid` names it.
fn database_cpu(args: &FlashSaleArgs) -> Option<Duration> {
    super::server::process_tree_cpu(args.database_pid?)
}

/// The database server's CPU time used since `mark`.
fn database_since(args: &FlashSaleArgs, mark: Option<Duration>) -> Option<Duration> {
    Some(database_cpu(args)?.saturating_sub(mark?))
}

/// Server CPU used since `mark` (zero when unknown).
fn since(target: &Target, mark: Option<Duration>) -> Duration {
    match (mark, target.cpu_time()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => Duration::ZERO,
    }
}

/// The baseline's slices, summed.
#[derive(Default)]
struct Baseline {
    samples: Vec<Sample>,
    elapsed: Duration,
}

impl Baseline {
    fn add(&mut self, (samples, elapsed): (Vec<Sample>, Duration)) {
        self.samples.extend(samples);
        self.elapsed += elapsed;
    }
}

/// GETs `/healthz` `total` times, spread over `bases`: the cheapest request the server answers.
pub(super) async fn probe(
    client: &Client,
    bases: &[String],
    total: usize,
    conc: usize,
    label: &str,
) -> (Vec<Sample>, Duration) {
    get_many(client, &urls(bases, "/healthz"), total, conc, label).await
}

/// `path` on each of `bases`.
fn urls(bases: &[String], path: &str) -> Vec<String> {
    bases.iter().map(|base| format!("{base}{path}")).collect()
}

/// GETs `total` times over `conc` connections, the `urls` in turn; each answer 200 is `Ok`.
async fn get_many(client: &Client, urls: &[String], total: usize, conc: usize, label: &str) -> (Vec<Sample>, Duration) {
    let (client, urls) = (client.clone(), Arc::new(urls.to_vec()));
    let (samples, start) = fire(label, total, conc, move |i, start| {
        let (client, url) = (client.clone(), urls[i % urls.len()].clone());
        async move {
            let t = Instant::now();
            let ok = client.get(&url).send().await.map(|r| r.status() == StatusCode::OK).unwrap_or(false);
            Sample {
                outcome: if ok { Outcome::Ok } else { Outcome::Error },
                latency: t.elapsed(),
                finished: start.elapsed(),
            }
        }
    })
    .await;
    (samples, start.elapsed())
}

/// The load generator's HTTP client: a connection per concurrent request, kept.
pub(super) fn http_client(concurrency: u32) -> reqwest::Result<Client> {
    Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()
}

/// The two fields of an answer the load test reads; serde skips the rest without building it.
#[derive(serde::Deserialize)]
struct Answer {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// One order a buyer sends: to the instance at `base`, under `key`.
struct Ask<'a> {
    base: &'a str,
    customer: &'a str,
    key: &'a str,
    quantity: u32,
}

/// Sends one order; when the shop answers 503, waits `Retry-After` and tries again with the
/// same key, as a well-behaved client of the waiting room would.
async fn order(s: &Shared, ask: Ask<'_>, start: Instant, buyer: &mut Buyer) -> Option<(String, bool)> {
    for _ in 0..BUSY_ATTEMPTS {
        match attempt(s, &ask, start, buyer).await {
            Err(retry_after) => tokio::time::sleep(retry_after).await,
            Ok(placed) => return placed,
        }
    }
    buyer.gave_up = true;
    None
}

/// Sends one order and classifies the answer; `Err` carries the wait a 503 asked for.
async fn attempt(
    s: &Shared,
    &Ask { base, customer, key, quantity }: &Ask<'_>,
    start: Instant,
    buyer: &mut Buyer,
) -> Result<Option<(String, bool)>, Duration> {
    // Ids and keys are generated alphanumerics, so plain formatting is valid JSON and keeps
    // the generator's share of the two cores small.
    let body = format!(r#"{{"userId":"{customer}","productId":"{}","quantity":{quantity}}}"#, s.product);
    let t = Instant::now();
    let result = s
        .client
        .post(format!("{base}/api/orders"))
        .header("Idempotency-Key", key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    let mut busy_wait = None;
    let (outcome, placed) = match result {
        Err(e) => {
            buyer.errors.push(format!("transport: {e}"));
            (Outcome::Error, None)
        }
        Ok(resp) => {
            let status = resp.status();
            let replayed = resp.headers().contains_key("idempotent-replayed");
            let wait = retry_after(resp.headers());
            let body = resp.json::<Answer>().await.unwrap_or(Answer { id: None, kind: None });
            match (status.as_u16(), body.kind.as_deref()) {
                (201, _) => {
                    let id = body.id.unwrap_or_default();
                    (if replayed { Outcome::Replayed } else { Outcome::Accepted }, Some((id, replayed)))
                }
                (409, Some("/problems/out-of-stock")) => (Outcome::SoldOut, None),
                (409, Some("/problems/customer-limit")) => (Outcome::LimitRefused, None),
                (503, Some("/problems/busy")) => {
                    busy_wait = Some(wait);
                    (Outcome::Busy, None)
                }
                (code, kind) => {
                    buyer.errors.push(format!("{code} {}", kind.unwrap_or("?")));
                    (Outcome::Error, None)
                }
            }
        }
    };
    buyer.samples.push(Sample { outcome, latency: t.elapsed(), finished: start.elapsed() });
    match busy_wait {
        Some(wait) => Err(wait),
        None => Ok(placed),
    }
}

/// The wait a `503` asks for: its `Retry-After` seconds (1 without one), kept to 1–5 s so
/// the simulated clients neither spin nor stall.
pub(super) fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    let secs = headers.get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    Duration::from_secs(secs.unwrap_or(1).clamp(1, 5))
}

/// A sale buyer: orders once, maybe retries the same key, maybe tries to pass the limit.
/// With several instances the retry and the greedy order go to the next one, so replays and
/// limits are checked across instances.
async fn buy(s: Arc<Shared>, i: usize, start: Instant) -> Buyer {
    let mut buyer = Buyer::default();
    let customer = format!("buyer-{}-{i}", s.run);
    let key = format!("lt-{}-{i}", s.run);
    let ask = |base, key, quantity| Ask { base, customer: &customer, key, quantity };
    let first = order(&s, ask(s.base(i), &key, s.quantity), start, &mut buyer).await;
    if let Some((id, _)) = &first {
        buyer.order = Some((id.clone(), s.quantity));
    }
    let bucket = (i % 100) as u32;
    if bucket < s.retry_percent {
        let again = order(&s, ask(s.base(i + 1), &key, s.quantity), start, &mut buyer).await;
        if let (Some((first_id, _)), Some((again_id, replayed))) = (&first, &again) {
            buyer.replay_mismatch = first_id != again_id || !replayed;
        } else if first.is_some() != again.is_some() {
            buyer.replay_mismatch = first.is_some();
        }
    }
    if bucket >= 100 - s.greedy_percent && first.is_some() {
        // Holding `quantity` already, another `limit` units always exceeds the limit.
        let greedy = order(&s, ask(s.base(i + 1), &format!("{key}-greedy"), s.limit), start, &mut buyer).await;
        buyer.limit_breached = greedy.is_some();
    }
    buyer
}

/// A buyer arriving after the sale sold out: one order, no retries.
pub(super) async fn buy_once(s: Arc<Shared>, i: usize, start: Instant) -> Buyer {
    let mut buyer = Buyer::default();
    let (customer, key) = (format!("buyer-{}-{i}", s.run), format!("lt-{}-{i}", s.run));
    let ask = Ask { base: s.base(i), customer: &customer, key: &key, quantity: s.quantity };
    let placed = order(&s, ask, start, &mut buyer).await;
    buyer.order = placed.map(|(id, _)| (id, s.quantity));
    buyer
}

pub(super) struct Audit {
    pub(super) units_sold: u64,
    pub(super) orders: u64,
    pub(super) stock_left: u32,
    pub(super) violations: Vec<String>,
}

/// Checks every acknowledged order's `order.placed` event reached the webhook receiver
/// exactly once (when the run has one); what it saw, for the report.
pub(super) async fn audit_deliveries(
    receiver: Option<&Receiver>,
    target: &Target,
    acknowledged: &[String],
    violations: &mut Vec<String>,
) -> Option<receiver::Deliveries> {
    let d = receiver?.deliveries(acknowledged, Duration::from_secs(60)).await;
    if d.missing > 0 {
        violations.push(format!("{} acknowledged orders' events never reached the webhook", d.missing));
    }
    if d.duplicates > 0 {
        let warnings = target.warnings();
        let first = warnings.first.first().map_or("none", String::as_str);
        violations.push(format!(
            "{} events reached the webhook twice (the server logged {} warnings; the first: {first})",
            d.duplicates, warnings.count
        ));
    }
    Some(d)
}

/// Prints what the server logged as warnings; a panic is a violation whatever else held.
pub(super) fn audit_server_log(target: &Target, violations: &mut Vec<String>) {
    target.print_warnings();
    let panics = target.warnings().panics;
    if panics > 0 {
        violations.push(format!("the server panicked {panics} times"));
    }
}

/// What a sale should have left in the records.
pub(super) struct Expected {
    pub(super) stock: u32,
    /// Units asked for in all: at least the stock means it must have sold out.
    pub(super) demand: u64,
    pub(super) per_customer_limit: u32,
    pub(super) concurrency: u32,
}

/// Compares what buyers were told with what the server's records say.
async fn audit(
    client: &Client,
    target: &Target,
    product: &str,
    args: &FlashSaleArgs,
    buyers: &[Buyer],
    rush: &[Buyer],
) -> anyhow::Result<Audit> {
    let acknowledged: Vec<&(String, u32)> = buyers.iter().chain(rush).filter_map(|b| b.order.as_ref()).collect();
    let expected = Expected {
        stock: args.stock,
        demand: u64::from(args.buyers) * u64::from(args.quantity),
        per_customer_limit: args.per_customer_limit,
        concurrency: args.concurrency,
    };
    let mut audit = audit_records(client, target, product, &expected, &acknowledged).await?;
    let v = &mut audit.violations;
    let mut check = |ok: bool, what: String| {
        if !ok {
            v.push(what);
        }
    };
    check(!buyers.iter().any(|b| b.replay_mismatch), "a retried Idempotency-Key did not replay its order".into());
    check(!buyers.iter().any(|b| b.limit_breached), "a second order past the per-customer limit was accepted".into());
    let errors: Vec<&String> = buyers.iter().chain(rush).flat_map(|b| &b.errors).collect();
    check(errors.is_empty(), format!("{} unexpected answers, first: {:?}", errors.len(), errors.first()));
    Ok(audit)
}

/// The invariants every sale keeps, from the server's own records: no oversell, stock and
/// units sold add up, every acknowledged order (id, units) is a distinct row that reads
/// back, and nobody holds more than the limit.
pub(super) async fn audit_records(
    client: &Client,
    target: &Target,
    product: &str,
    expected: &Expected,
    acknowledged: &[&(String, u32)],
) -> anyhow::Result<Audit> {
    let sales: Value = client
        .get(format!("{}/api/admin/products/{product}/sales", target.base))
        .bearer_auth(&target.admin_token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let num = |k: &str| sales[k].as_u64().unwrap_or(u64::MAX);
    let (stock_left, units_sold, orders, max_held) =
        (num("stock"), num("unitsSold"), num("orders"), num("maxUnitsPerCustomer"));
    let unique: HashSet<&str> = acknowledged.iter().map(|(id, _)| id.as_str()).collect();
    let acknowledged_units: u64 = acknowledged.iter().map(|(_, q)| u64::from(*q)).sum();
    let (stock, demand, limit) = (expected.stock, expected.demand, expected.per_customer_limit);
    let mut v = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            v.push(what);
        }
    };
    check(
        stock_left + units_sold == u64::from(stock),
        format!("stock {stock_left} + sold {units_sold} != initial {stock}"),
    );
    check(units_sold <= u64::from(stock), format!("oversold: {units_sold} units of {stock}"));
    check(
        demand < u64::from(stock) || stock_left == 0,
        format!("demand {demand} >= stock but {stock_left} left unsold"),
    );
    check(unique.len() == acknowledged.len(), "one order id acknowledged to two buyers".into());
    check(orders == unique.len() as u64, format!("{} orders acknowledged, {orders} order rows", unique.len()));
    check(units_sold == acknowledged_units, format!("{acknowledged_units} units acknowledged, {units_sold} recorded"));
    check(max_held <= u64::from(limit), format!("a customer holds {max_held} > limit {limit}"));
    // Every acknowledged order must be readable back.
    let ids: Arc<Vec<String>> = Arc::new(unique.iter().map(|s| (*s).to_owned()).collect());
    let (c, base, list) = (client.clone(), target.base.clone(), ids.clone());
    let (found, _) = fire("verify orders", ids.len(), expected.concurrency as usize, move |i, _| {
        let (c, url) = (c.clone(), format!("{base}/api/orders/{}", list[i]));
        async move { c.get(&url).send().await.map(|r| r.status() == StatusCode::OK).unwrap_or(false) }
    })
    .await;
    let missing = found.iter().filter(|ok| !**ok).count();
    check(missing == 0, format!("{missing} acknowledged orders cannot be read back"));
    Ok(Audit { units_sold, orders, stock_left: stock_left.try_into().unwrap_or(u32::MAX), violations: v })
}
