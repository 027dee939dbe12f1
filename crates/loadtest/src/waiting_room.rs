//! `stampede loadtest flash-sale --waiting-room` (#14): people join a product's line once and
//! poll politely, buying when admitted; scripted bots join under many customer ids and hammer
//! orders without tickets. The report says how fair the line was (rank correlation between
//! arrival and purchase, the share of units the first `stock` people bought), that nobody
//! bought without an admission and every bot order was refused, and what joins cost (their
//! throughput as a ratio of `/healthz` in the same run, p99 of joins and status checks).
//! The sale's records are audited like the plain flash sale's (`flash_sale::audit_records`):
//! no oversell, every acknowledged order kept, and every order event delivered exactly once.

use super::FlashSaleArgs;
use super::driver::fire;
use super::flash_sale::{
    Audit, Expected, audit_deliveries, audit_records, audit_server_log, http_client, probe, retry_after,
};
use super::receiver::{self, Receiver};
use super::sale_product::create_product_with;
use super::sale_tail::{Person, Tail};
use super::server::Target;
use super::stats::{Latency, Outcome, Sample, rate};
use anyhow::{Context, bail};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One joiner: a person (buys once admitted) or a bot (never orders with its ticket).
struct Joined {
    ticket: String,
    sample: Sample,
    /// Times the join was answered `503` and sent again after `Retry-After`.
    pushed_back: u32,
    /// A person, polling from the moment they joined until they are done.
    task: Option<tokio::task::JoinHandle<Outcome2>>,
}

/// What a person ended with.
struct Outcome2 {
    position: u64,
    /// The order's creation time (Unix nanoseconds) and id, if they bought.
    bought: Option<(i128, String)>,
    /// When they were done (bought, or saw the sale over), since the joins began.
    done: Duration,
    /// Each status check, `finished` counted since the joins began.
    statuses: Vec<Sample>,
    error: Option<String>,
}

/// Runs the waiting-room sale and prints the report.
pub async fn run(args: FlashSaleArgs) -> anyhow::Result<()> {
    let client = http_client(args.concurrency)?;
    let (receiver, target) = start_target(&args).await?;
    let costs = join_costs(&client, &target, &args).await?;
    let product = create_sale(&client, &target, &args).await?;
    let crowd = Crowd { people: args.buyers as usize, bots: args.bots as usize };
    // The rate's allowance counts from the first admission, which is no earlier than this.
    let joins_began = unix_nanos_now();
    let joins = join_line(&client, &target, &product, crowd, &args).await?;
    let join_samples: Vec<Sample> = joins.iter().map(|j| j.sample).collect();
    let pushed_back: u32 = joins.iter().map(|j| j.pushed_back).sum();

    // The sale: every person polls politely from joining until admitted (then buys) or sold
    // out, while the bots hammer orders without tickets.
    let bot_answers = bot_orders(&client, &target, &product, crowd.bots, args.bot_orders as usize).await;
    let mut outcomes = Vec::new();
    let mut bot_tickets = Vec::new();
    for joined in joins {
        match joined.task {
            Some(task) => outcomes.push(task.await.context("a person's task failed")?),
            None => bot_tickets.push(joined.ticket),
        }
    }
    let mut bot_places = Vec::with_capacity(bot_tickets.len());
    for ticket in &bot_tickets {
        let status = ticket_status(&client, &status_url(&target.base, &product, ticket)).await;
        bot_places.push(status.and_then(|s| s["position"].as_u64()));
    }

    // The audit, from the server's own records: the invariants of every sale first.
    let acknowledged: Vec<(String, u32)> =
        outcomes.iter().filter_map(|o| o.bought.as_ref()).map(|(_, id)| (id.clone(), 1)).collect();
    let expected = Expected {
        stock: args.stock,
        demand: crowd.people as u64,
        per_customer_limit: 1,
        concurrency: args.concurrency,
    };
    let mut audit =
        audit_records(&client, &target, &product, &expected, &acknowledged.iter().collect::<Vec<_>>()).await?;
    let ids: Vec<String> = acknowledged.iter().map(|(id, _)| id.clone()).collect();
    let deliveries = audit_deliveries(receiver.as_ref(), &target, &ids, &mut audit.violations).await;
    let mut figures = figures(&args, &outcomes, &bot_answers, &join_samples, &costs, &audit, deliveries.as_ref());
    let people: Vec<Person> = outcomes
        .iter()
        .map(|o| Person { place: o.position, bought_after: o.bought.as_ref().map(|_| o.done) })
        .collect();
    figures.tail = Tail::of(&people, &bot_places);
    figures.beyond_rate = beyond_rate(&outcomes, args.admissions_per_minute, joins_began);
    figures.joins_pushed_back = costs.pushed_back + pushed_back;
    print_summary(&args, crowd, &figures, &audit, deliveries.as_ref());
    figures.violations = violations(&target, &mut audit, &figures, &outcomes);
    for v in &figures.violations {
        println!("FAIL: {v}");
    }
    if let Some(path) = &args.report {
        super::report_file::write_waiting_room(path, &markdown(&args, &figures))?;
    }
    if !figures.violations.is_empty() {
        bail!("invariants violated");
    }
    println!(
        "\nPASS: no oversell, every acknowledged order kept{}, no purchase without an admission, every bot order refused",
        if deliveries.is_some() { ", every event delivered once" } else { "" }
    );
    Ok(())
}

/// The server under test, local (with a webhook receiver unless notifications are off) or
/// the one `--target` names.
async fn start_target(args: &FlashSaleArgs) -> anyhow::Result<(Option<Receiver>, Target)> {
    // Every simulated client comes from 127.0.0.1: the per-address join limit stays off.
    let mut extra = vec!["--join-rate-per-ip=0".to_owned()];
    if args.target.len() > 1 {
        anyhow::bail!("the waiting-room sale takes one --target");
    }
    let receiver = if args.no_notifications || !args.target.is_empty() {
        None
    } else {
        let (receiver, url) = Receiver::start().await?;
        extra.extend([format!("--webhook-urls={url}"), format!("--webhook-secret={}", receiver::SECRET)]);
        Some(receiver)
    };
    let target = match args.target.is_empty() {
        false => Target::remote(&args.target, args.admin_token.clone(), args.target_pid.clone())?,
        true => Target::spawn(args.server_queue_depth, &extra)?,
    };
    Ok((receiver, target))
}

/// What joins cost, measured before the sale: `/healthz` as the baseline, and joins alone.
struct JoinCosts {
    healthz_rps: f64,
    healthz_requests: usize,
    /// Server CPU over the baseline, when the server is local.
    healthz_cpu: Option<Duration>,
    /// This load generator's own CPU over the baseline and over the joins: what the two
    /// phases cost the side of the machine that is not the server.
    generator_cpu: Option<(Duration, Duration)>,
    throughput: Throughput,
    /// Joins of the throughput phase pushed back (`503`) and sent again.
    pushed_back: u32,
}

async fn join_costs(client: &Client, target: &Target, args: &FlashSaleArgs) -> anyhow::Result<JoinCosts> {
    let conc = args.concurrency as usize;
    // Warm-up, so neither side pays for connections being opened.
    probe(client, &target.bases, conc * 4, conc, "warm-up").await;
    let product = format!("queue-joins-{}", rand::random::<u32>());
    let rules = json!({"admissionMinutes": 1, "admissionsPerMinute": 1});
    create_product_with(client, target, &product, 1, json!({"waitingRoom": rules}), Value::Null).await?;
    let url = Arc::new(format!("{}/api/products/{product}/queue", target.base));
    let (mut healthz_requests, mut healthz_time, mut healthz_cpu) = (0, Duration::ZERO, Some(Duration::ZERO));
    let (mut joins, mut join_time, mut join_cpu) = (Vec::new(), Duration::ZERO, Some(Duration::ZERO));
    let mut pushed_back = 0;
    let (mut own_healthz, mut own_joins) = (Some(Duration::ZERO), Some(Duration::ZERO));
    // The baseline and the joins alternate in slices, so a neighbour's burst on a shared
    // machine slows both alike instead of bending the ratio one way.
    for slice in 0..SLICES {
        let (cpu, own) = (target.cpu_time(), own_cpu());
        let (health, elapsed) =
            probe(client, &target.bases, share(args.baseline_requests, slice), conc, "baseline /healthz").await;
        healthz_cpu = add(healthz_cpu, since(cpu, target.cpu_time()));
        own_healthz = add(own_healthz, since(own, own_cpu()));
        (healthz_requests, healthz_time) = (healthz_requests + health.len(), healthz_time + elapsed);
        let first = joins.len();
        let (cpu, own) = (target.cpu_time(), own_cpu());
        let (samples, elapsed, pushed) =
            join_throughput(client, url.clone(), first, share(args.join_requests, slice), conc).await?;
        pushed_back += pushed;
        join_cpu = add(join_cpu, since(cpu, target.cpu_time()));
        own_joins = add(own_joins, since(own, own_cpu()));
        joins.extend(samples);
        join_time += elapsed;
    }
    let throughput =
        Throughput { rps: rate(joins.len(), join_time), latency: Latency::of(&joins, Outcome::Ok), cpu: join_cpu };
    let healthz_rps = rate(healthz_requests, healthz_time);
    Ok(JoinCosts {
        healthz_rps,
        healthz_requests,
        healthz_cpu,
        generator_cpu: own_healthz.zip(own_joins),
        throughput,
        pushed_back,
    })
}

/// This process's CPU time so far (Linux).
fn own_cpu() -> Option<Duration> {
    super::server::process_cpu(std::process::id())
}

/// Slices the join-cost measurement alternates the baseline and the joins in.
const SLICES: u32 = 4;

/// Slice `slice`'s part of `total` requests (the first slices take the remainder).
fn share(total: u32, slice: u32) -> usize {
    (total / SLICES + u32::from(slice < total % SLICES)) as usize
}

fn add(sum: Option<Duration>, part: Option<Duration>) -> Option<Duration> {
    sum.zip(part).map(|(a, b)| a + b)
}

/// CPU time spent from `before` to `after` (`None` if either could not be read).
fn since(before: Option<Duration>, after: Option<Duration>) -> Option<Duration> {
    before.zip(after).map(|(b, a)| a.saturating_sub(b))
}

/// The sale's product: one unit a customer, behind a waiting room; its id.
async fn create_sale(client: &Client, target: &Target, args: &FlashSaleArgs) -> anyhow::Result<String> {
    let product = format!("queue-{}", rand::random::<u32>());
    let rules = json!({"admissionMinutes": 1, "admissionsPerMinute": args.admissions_per_minute});
    let sale = json!({"perCustomerMax": 1, "waitingRoom": rules});
    create_product_with(client, target, &product, args.stock, sale, serde_json::Value::Null).await?;
    Ok(product)
}

/// Who joins the line: people and the bots among them.
#[derive(Clone, Copy)]
struct Crowd {
    people: usize,
    bots: usize,
}

/// Everyone joins the line; each person then polls in a task of their own until done.
async fn join_line(
    client: &Client,
    target: &Target,
    product: &str,
    crowd: Crowd,
    args: &FlashSaleArgs,
) -> anyhow::Result<Vec<Joined>> {
    // Bots are spread through the crowd, as scripts arriving with it would be.
    let Crowd { people, bots } = crowd;
    let every = (people + bots) / bots.max(1);
    let is_bot = move |i: usize| bots > 0 && i % every == every - 1 && i / every < bots;
    let join_url = format!("{}/api/products/{product}/queue", target.base);
    let base = Arc::new(target.base.clone());
    let poll = Duration::from_millis(args.poll_ms);
    let (joins, _) = fire("joins", people + bots, args.concurrency as usize, {
        let (client, base, product) = (client.clone(), base.clone(), product.to_owned());
        move |i, start| {
            let (client, url, base, product) = (client.clone(), join_url.clone(), base.clone(), product.clone());
            async move {
                let person = !is_bot(i);
                let id = if person { format!("person-{i}") } else { format!("bot-{i}") };
                let (resp, latency, pushed_back) = join_as(&client, &url, &id).await;
                let body: Option<Value> = match resp {
                    Ok(r) if r.status() == StatusCode::CREATED => r.json().await.ok(),
                    _ => None,
                };
                let outcome = if body.is_some() { Outcome::Ok } else { Outcome::Error };
                let sample = Sample { outcome, latency, finished: start.elapsed() };
                let ticket = body.as_ref().and_then(|b| b["ticket"].as_str()).unwrap_or_default().to_owned();
                let position = body.as_ref().and_then(|b| b["position"].as_u64()).unwrap_or(0);
                let task = (person && !ticket.is_empty()).then(|| {
                    let (id, ticket) = (id.clone(), ticket.clone());
                    tokio::spawn(async move {
                        person_loop(&client, &base, &product, &id, &ticket, position, body, poll, start).await
                    })
                });
                Joined { ticket, sample, pushed_back, task }
            }
        }
    })
    .await;
    let failed_joins = joins.iter().filter(|j| j.ticket.is_empty()).count();
    if failed_joins > 0 {
        bail!("{failed_joins} joins failed");
    }
    Ok(joins)
}

/// Most times one person sends a join that was pushed back.
const JOIN_ATTEMPTS: u32 = 30;

/// Joins as `id` the way a person's browser would: a `503` (a shared line whose earlier joins
/// are still being written, or a busy store) is waited out for its `Retry-After` and the join
/// sent again. The answer, the time the answered request took, and how often it was pushed back.
async fn join_as(client: &Client, url: &str, id: &str) -> (reqwest::Result<reqwest::Response>, Duration, u32) {
    // The body as text, not a `json!` value serialized per request: what the load generator
    // spends beside the server on the same cores should be no more for a join than for the
    // `/healthz` it is compared with. Ids here are letters, digits and '-'.
    let body = format!(r#"{{"userId":"{id}"}}"#);
    let mut pushed_back = 0;
    loop {
        let t = Instant::now();
        let resp = client.post(url).header(CONTENT_TYPE, "application/json").body(body.clone()).send().await;
        let latency = t.elapsed();
        let wait = match &resp {
            Ok(r) if r.status() == StatusCode::SERVICE_UNAVAILABLE && pushed_back + 1 < JOIN_ATTEMPTS => {
                retry_after(r.headers())
            }
            _ => return (resp, latency, pushed_back),
        };
        pushed_back += 1;
        tokio::time::sleep(wait).await;
    }
}

/// The bots' orders without tickets, spread over their customer ids; each one's status.
async fn bot_orders(
    client: &Client,
    target: &Target,
    product: &str,
    bots: usize,
    total: usize,
) -> Vec<Option<StatusCode>> {
    let order_url = format!("{}/api/orders", target.base);
    let bot_product = product.to_owned();
    let (bot_answers, _) = fire("bot orders", total, 32, {
        let client = client.clone();
        move |i, _| {
            let (client, url, product) = (client.clone(), order_url.clone(), bot_product.clone());
            async move {
                let body = json!({"userId": format!("bot-{}", i % bots.max(1)), "productId": product});
                client.post(&url).json(&body).send().await.map(|r| r.status()).ok()
            }
        }
    })
    .await;
    bot_answers
}

/// The report's figures from what people and bots saw and what the records hold; the
/// violations are added once the summary is printed.
fn figures(
    args: &FlashSaleArgs,
    outcomes: &[Outcome2],
    bot_answers: &[Option<StatusCode>],
    join_samples: &[Sample],
    costs: &JoinCosts,
    audit: &Audit,
    deliveries: Option<&receiver::Deliveries>,
) -> Figures {
    let bought: Vec<&Outcome2> = outcomes.iter().filter(|o| o.bought.is_some()).collect();
    let answered = |status: StatusCode| bot_answers.iter().filter(|s| **s == Some(status)).count();
    let bot_not_admitted = answered(StatusCode::FORBIDDEN);
    let bot_rate_limited = answered(StatusCode::TOO_MANY_REQUESTS);
    let bot_accepted = answered(StatusCode::CREATED);
    // Units the records hold beyond those people bought with an admitted ticket.
    let unadmitted = (audit.units_sold as usize).saturating_sub(bought.len()) + bot_accepted;
    let mut people_in_line: Vec<u64> = outcomes.iter().map(|o| o.position).collect();
    people_in_line.sort_unstable();
    let cutoff = people_in_line.get((args.stock as usize).saturating_sub(1)).copied().unwrap_or(u64::MAX);
    let by_first = bought.iter().filter(|o| o.position <= cutoff).count();
    let share = if bought.is_empty() { 0.0 } else { by_first as f64 / bought.len() as f64 };
    let statuses: Vec<Sample> = outcomes.iter().flat_map(|o| o.statuses.iter().copied()).collect();
    // How long the sale ran and how steadily people polled: a stalled load generator, server
    // or machine shows as a gap far beyond the poll interval.
    let last_purchase = bought.iter().map(|o| o.done).max().unwrap_or_default();
    let longest_gap = outcomes
        .iter()
        .flat_map(|o| o.statuses.windows(2).map(|w| w[1].finished.saturating_sub(w[0].finished)))
        .max()
        .unwrap_or_default();
    let per = |cpu: Option<Duration>, n: usize| cpu.map(|c| c.as_secs_f64() * 1e6 / n.max(1) as f64);
    let cpu_us =
        per(costs.healthz_cpu, costs.healthz_requests).zip(per(costs.throughput.cpu, args.join_requests as usize));
    let generator_us = costs
        .generator_cpu
        .and_then(|(h, j)| per(Some(h), costs.healthz_requests).zip(per(Some(j), args.join_requests as usize)));
    Figures {
        bought: bought.len(),
        rho: spearman(&bought),
        share,
        unadmitted,
        bot_refused: bot_not_admitted + bot_rate_limited,
        bot_not_admitted,
        bot_rate_limited,
        bot_accepted,
        bot_orders: bot_answers.len(),
        join_rps: costs.throughput.rps,
        join_throughput_p99: costs.throughput.latency.p99,
        healthz_rps: costs.healthz_rps,
        join: Latency::of(join_samples, Outcome::Ok),
        status: Latency::of(&statuses, Outcome::Ok),
        last_purchase,
        longest_gap,
        cpu_us,
        generator_us,
        tail: Tail::default(),
        units_sold: audit.units_sold,
        deliveries: deliveries.map(|d| (d.missing, d.duplicates)),
        beyond_rate: 0,
        joins_pushed_back: 0,
        violations: Vec::new(),
    }
}

/// The run's summary on stdout.
fn print_summary(
    args: &FlashSaleArgs,
    crowd: Crowd,
    f: &Figures,
    audit: &Audit,
    deliveries: Option<&receiver::Deliveries>,
) {
    let Crowd { people, bots } = crowd;
    let (rho, share, unadmitted, join_rps, healthz_rps) = (f.rho, f.share, f.unadmitted, f.join_rps, f.healthz_rps);
    let (bot_refused, bot_not_admitted, bot_rate_limited, bot_accepted) =
        (f.bot_refused, f.bot_not_admitted, f.bot_rate_limited, f.bot_accepted);
    println!(
        "\nwaiting-room flash sale: {} units, {people} people, {bots} bots ({} bot orders without tickets)",
        args.stock, args.bot_orders
    );
    println!("  rank correlation (Spearman), arrival vs purchase, {} buyers: {rho:.4} (goal >= 0.95)", f.bought);
    println!("  units bought by the first {} people in line: {:.1}% (goal >= 95%)", args.stock, share * 100.0);
    println!("  purchases without an admission: {unadmitted} (goal 0)");
    println!(
        "  bot orders without a ticket refused: {bot_refused} of {} (403 not-admitted {bot_not_admitted}, 429 rate-limited {bot_rate_limited}; accepted: {bot_accepted})",
        f.bot_orders
    );
    println!(
        "  joins: {join_rps:.0}/s vs /healthz {healthz_rps:.0}/s: ratio {:.2} (goal >= 0.7; {} joins, p99 {:.1} ms)",
        join_rps / healthz_rps.max(1e-9),
        args.join_requests,
        f.join_throughput_p99
    );
    println!(
        "  p99 join {:.1} ms (p50 {:.1}), p99 status {:.1} ms (p50 {:.1}, {} checks)",
        f.join.p99, f.join.p50, f.status.p99, f.status.p50, f.status.count
    );
    if f.joins_pushed_back > 0 {
        println!("  joins pushed back (503, sent again after Retry-After), both phases: {}", f.joins_pushed_back);
    }
    println!(
        "  last purchase {:.1} s after the joins began; longest gap between one person's status checks {:.1} s (poll {} ms)",
        f.last_purchase.as_secs_f64(),
        f.longest_gap.as_secs_f64(),
        args.poll_ms
    );
    println!(
        "  purchases in each minute since the joins began: {}; ahead of the buyer furthest back in line, {} bots (admitted, never buy; {} bots' places unknown) and {} people who did not buy",
        f.tail.per_minute(),
        f.tail.bots_ahead,
        f.tail.bots_unknown,
        f.tail.people_ahead_unbought
    );
    if let Some((h, j)) = f.cpu_us {
        println!("  server CPU per request: /healthz {h:.0} µs, join {j:.0} µs");
    }
    if let Some((h, j)) = f.generator_us {
        println!("  load generator CPU per request: /healthz {h:.0} µs, join {j:.0} µs");
    }
    println!("  units sold {} of {} ({} orders, {} left)", f.units_sold, args.stock, audit.orders, audit.stock_left);
    match deliveries {
        Some(d) => println!(
            "  order events at the webhook: {} missing, {} twice, the last {:.1} s after the sale",
            d.missing,
            d.duplicates,
            d.waited.as_secs_f64()
        ),
        None => println!("  order events: not audited (no webhook receiver)"),
    }
}

/// Every invariant the run broke: the records' and deliveries' (already in `audit`), the
/// server log's, then the waiting room's own.
fn violations(target: &Target, audit: &mut Audit, f: &Figures, outcomes: &[Outcome2]) -> Vec<String> {
    let mut violations = std::mem::take(&mut audit.violations);
    audit_server_log(target, &mut violations);
    if f.unadmitted > 0 {
        violations.push(format!("{} units bought without an admission", f.unadmitted));
    }
    if f.beyond_rate > 0 {
        violations.push(format!("{} purchases came sooner than the shop's rate lets people in", f.beyond_rate));
    }
    if f.bot_refused != f.bot_orders {
        violations.push(format!("{} bot orders were not refused (403 or 429)", f.bot_orders - f.bot_refused));
    }
    let errors: Vec<&String> = outcomes.iter().filter_map(|o| o.error.as_ref()).collect();
    if let Some(e) = errors.first() {
        violations.push(format!("{} people saw errors, the first: {e}", errors.len()));
    }
    violations
}

/// The join throughput phase's figures.
struct Throughput {
    rps: f64,
    latency: Latency,
    /// Server CPU over the phase, when the server is local.
    cpu: Option<Duration>,
}

/// `total` distinct customers, numbered from `first`, join one line (no polling, no sale)
/// as fast as they can: what a join costs, apart from the sale's other traffic.
async fn join_throughput(
    client: &Client,
    url: Arc<String>,
    first: usize,
    total: usize,
    conc: usize,
) -> anyhow::Result<(Vec<Sample>, Duration, u32)> {
    let (samples, start) = fire("join throughput", total, conc, {
        let client = client.clone();
        move |i, start| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let (resp, latency, pushed_back) = join_as(&client, &url, &format!("joiner-{}", first + i)).await;
                let ok = match resp {
                    Ok(r) => r.status() == StatusCode::CREATED && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                let outcome = if ok { Outcome::Ok } else { Outcome::Error };
                (Sample { outcome, latency, finished: start.elapsed() }, pushed_back)
            }
        }
    })
    .await;
    let elapsed = start.elapsed();
    let failed = samples.iter().filter(|(s, _)| s.outcome != Outcome::Ok).count();
    if failed > 0 {
        bail!("{failed} of {total} joins failed in the throughput phase");
    }
    let pushed_back = samples.iter().map(|(_, p)| p).sum();
    Ok((samples.into_iter().map(|(s, _)| s).collect(), elapsed, pushed_back))
}

/// What the report says of one run.
struct Figures {
    bought: usize,
    rho: f64,
    share: f64,
    unadmitted: usize,
    bot_refused: usize,
    bot_not_admitted: usize,
    bot_rate_limited: usize,
    bot_accepted: usize,
    bot_orders: usize,
    join_rps: f64,
    join_throughput_p99: f64,
    healthz_rps: f64,
    join: Latency,
    status: Latency,
    /// The last purchase, since the joins began.
    last_purchase: Duration,
    /// The longest time between two status checks of one person.
    longest_gap: Duration,
    /// Server CPU µs per `/healthz` and per join.
    cpu_us: Option<(f64, f64)>,
    /// This load generator's CPU µs per `/healthz` and per join.
    generator_us: Option<(f64, f64)>,
    tail: Tail,
    units_sold: u64,
    /// Order events missing and delivered twice, when a webhook receiver audited them.
    deliveries: Option<(usize, usize)>,
    /// Purchases beyond what the shop's rate let in by their time (see [`beyond_rate`]).
    beyond_rate: u64,
    /// Joins answered `503` and sent again (a shared line's writes behind, see `join_as`).
    joins_pushed_back: u32,
    violations: Vec<String>,
}

/// The waiting-room block of BENCHMARKS.md.
fn markdown(a: &FlashSaleArgs, f: &Figures) -> String {
    let mut s = String::from("## Waiting room: a fair line in front of the sale (#14)\n\n");
    s += &command(a);
    s += "| figure | measured | goal |\n|---|---|---|\n";
    s += &fairness_rows(a, f);
    s += &cost_rows(a, f);
    s += &records_rows(a, f);
    s += "\n";
    s += &verdict(f);
    s
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "**not met**" }
}

/// The command that produced the block, the commit and the machine.
fn command(a: &FlashSaleArgs) -> String {
    let mut s = String::new();
    s += &format!(
        "Produced by `stampede loadtest flash-sale --waiting-room --stock {} --buyers {} --bots {} --bot-orders {} \
         --baseline-requests {} --join-requests {} --concurrency {} --poll-ms {} --admissions-per-minute {}{} --report BENCHMARKS.md` \
         (release build).\n\n- commit: `{}`\n- machine: {}\n\n",
        a.stock,
        a.buyers,
        a.bots,
        a.bot_orders,
        a.baseline_requests,
        a.join_requests,
        a.concurrency,
        a.poll_ms,
        a.admissions_per_minute,
        if a.no_notifications { " --no-notifications" } else { "" },
        super::report::git_commit(),
        super::report::machine(),
    );
    s
}

/// Whether the line was fair and kept bots out.
fn fairness_rows(a: &FlashSaleArgs, f: &Figures) -> String {
    let mut s = String::new();
    s += &format!(
        "| rank correlation (Spearman), place in line vs order of purchase, {} buyers | {:.4} | ≥ 0.95: {} |\n",
        f.bought,
        f.rho,
        met(f.rho >= 0.95)
    );
    s += &format!(
        "| units bought by the first {} people in line | {:.1} % | ≥ 95 %: {} |\n",
        a.stock,
        f.share * 100.0,
        met(f.share >= 0.95)
    );
    s += &format!("| purchases without an admission | {} | 0: {} |\n", f.unadmitted, met(f.unadmitted == 0));
    s += &format!(
        "| purchases sooner than {} admissions a minute let people in (one second's grace) | {} | 0: {} |\n",
        a.admissions_per_minute,
        f.beyond_rate,
        met(f.beyond_rate == 0)
    );
    s += &format!(
        "| bot orders without a ticket refused | {} of {} ({} `403 not-admitted`, {} `429`; {} accepted) | all: {} |\n",
        f.bot_refused,
        f.bot_orders,
        f.bot_not_admitted,
        f.bot_rate_limited,
        f.bot_accepted,
        met(f.bot_refused == f.bot_orders)
    );
    s
}

/// What joins and status checks cost.
fn cost_rows(a: &FlashSaleArgs, f: &Figures) -> String {
    let ratio = f.join_rps / f.healthz_rps.max(1e-9);
    let mut s = String::new();
    s += &format!(
        "| join throughput vs `GET /healthz` in the same run ({} distinct customers joining a line of their own, p99 {:.1} ms) | {:.0}/s vs {:.0}/s: {:.2} | ≥ 0.7: {} |\n",
        a.join_requests,
        f.join_throughput_p99,
        f.join_rps,
        f.healthz_rps,
        ratio,
        met(ratio >= 0.7)
    );
    if let Some((h, j)) = f.cpu_us {
        s += &format!("| server CPU per request: `/healthz` / join | {h:.0} µs / {j:.0} µs | — |\n");
    }
    if let Some((h, j)) = f.generator_us {
        s += &format!("| this load generator's CPU per request: `/healthz` / join | {h:.0} µs / {j:.0} µs | — |\n");
    }
    s += &format!("| p99 / p50 join during the sale | {:.1} ms / {:.1} ms | — |\n", f.join.p99, f.join.p50);
    if f.joins_pushed_back > 0 {
        s += &format!(
            "| joins pushed back (`503`, sent again after `Retry-After`), throughput phase and sale | {} | — |\n",
            f.joins_pushed_back
        );
    }
    s += &format!(
        "| p99 / p50 status check | {:.1} ms / {:.1} ms ({} checks) | — |\n",
        f.status.p99, f.status.p50, f.status.count
    );
    s += &format!(
        "| last purchase after the joins began; longest gap between one person's status checks (poll {} ms) | {:.1} s; {:.1} s | — |\n",
        a.poll_ms,
        f.last_purchase.as_secs_f64(),
        f.longest_gap.as_secs_f64()
    );
    s += &format!(
        "| purchases in each minute since the joins began; ahead of the buyer furthest back in line, bots (admitted, never buy) and people who did not buy | {}; {} bots{}, {} people | — |\n",
        f.tail.per_minute(),
        f.tail.bots_ahead,
        match f.tail.bots_unknown {
            0 => String::new(),
            n => format!(" ({n} bots' places unknown)"),
        },
        f.tail.people_ahead_unbought
    );
    s
}

/// What the records and the webhook say.
fn records_rows(a: &FlashSaleArgs, f: &Figures) -> String {
    let mut s = String::new();
    s += &format!("| units sold | {} of {} | no oversell |\n", f.units_sold, a.stock);
    match f.deliveries {
        Some((missing, twice)) => {
            s += &format!(
                "| order events at the webhook | {missing} missing, {twice} twice | each exactly once: {} |\n",
                met(missing == 0 && twice == 0)
            )
        }
        None => s += "| order events | not audited (`--no-notifications`) | each exactly once |\n",
    }
    s
}

fn verdict(f: &Figures) -> String {
    let mut s = String::new();
    if f.violations.is_empty() {
        s += "Invariants: PASS (no oversell, stock and units sold add up, every acknowledged order kept and \
              readable, no purchase without an admission, every bot order refused";
        s += if f.deliveries.is_some() { ", every order event delivered exactly once).\n" } else { ").\n" };
    } else {
        s += &format!("Invariants: **FAIL**: {}\n", f.violations.join("; "));
    }
    s
}

/// One person: polls their ticket every `poll` until admitted (then orders once with the
/// ticket), sold out or expired. The join's answer is the first status: a polite client does
/// not ask again at once. Times are counted from `since`, when the joins began.
#[allow(clippy::too_many_arguments)]
async fn person_loop(
    client: &Client,
    base: &str,
    product: &str,
    id: &str,
    ticket: &str,
    position: u64,
    mut joined: Option<Value>,
    poll: Duration,
    since: Instant,
) -> Outcome2 {
    let status_url = status_url(base, product, ticket);
    let mut out = Outcome2 { position, bought: None, done: Duration::ZERO, statuses: Vec::new(), error: None };
    let out = loop {
        let status = match joined.take() {
            Some(answer) => Some(answer),
            None => check_status(client, &status_url, since, &mut out.statuses).await,
        };
        // The place at joining can miss earlier arrivals still being written; once everyone
        // is in, the status gives the exact place.
        if let Some(p) = status.as_ref().and_then(|s| s["position"].as_u64()) {
            out.position = p;
        }
        match status.as_ref().and_then(|s| s["state"].as_str()) {
            Some("admitted") => {
                buy_with_ticket(client, base, product, id, ticket, &mut out).await;
                break out;
            }
            Some("soldOut" | "expired") => break out,
            Some(_) => {}
            None => {
                out.error = Some("a status check failed".into());
                break out;
            }
        }
        // Polite: about once per `poll`, jittered so a crowd does not poll in lockstep.
        let jitter = rand::random::<u64>() % (poll.as_millis() as u64 / 4 + 1);
        tokio::time::sleep(poll + Duration::from_millis(jitter)).await;
    };
    Outcome2 { done: since.elapsed(), ..out }
}

/// One status check of a ticket, its sample added to `statuses`; the answer, if it came.
async fn check_status(client: &Client, status_url: &str, start: Instant, statuses: &mut Vec<Sample>) -> Option<Value> {
    let t = Instant::now();
    let status = ticket_status(client, status_url).await;
    let outcome = if status.is_some() { Outcome::Ok } else { Outcome::Error };
    statuses.push(Sample { outcome, latency: t.elapsed(), finished: start.elapsed() });
    status
}

/// Where a ticket's status is read.
fn status_url(base: &str, product: &str, ticket: &str) -> String {
    format!("{base}/api/products/{product}/queue/{ticket}")
}

/// A ticket's status, if answered `200`.
async fn ticket_status(client: &Client, status_url: &str) -> Option<Value> {
    match client.get(status_url).send().await {
        Ok(r) if r.status() == StatusCode::OK => r.json().await.ok(),
        _ => None,
    }
}

/// An admitted person's one order, with their ticket: what they bought, or the error.
async fn buy_with_ticket(client: &Client, base: &str, product: &str, id: &str, ticket: &str, out: &mut Outcome2) {
    let resp = client
        .post(format!("{base}/api/orders"))
        .header("Queue-Ticket", ticket)
        .json(&json!({"userId": id, "productId": product}))
        .send()
        .await;
    match resp {
        Ok(r) if r.status() == StatusCode::CREATED => {
            let order: Value = r.json().await.unwrap_or_default();
            let created = created_at(order["createdAt"].as_str().unwrap_or_default());
            out.bought = Some((created, order["id"].as_str().unwrap_or_default().to_owned()));
        }
        // The last units went while this person was on their way: sold out.
        Ok(r) if r.status() == StatusCode::CONFLICT => {}
        Ok(r) => out.error = Some(format!("order: {} {}", r.status(), r.text().await.unwrap_or_default())),
        Err(e) => out.error = Some(format!("order: {e}")),
    }
}

/// An order's `createdAt` as Unix nanoseconds (0 if unreadable). Compared as text it would
/// misorder purchases within a second: the shop writes fractions without trailing zeros, so
/// `…:05.1Z` (100 ms) sorts after `…:05.123Z`.
fn created_at(text: &str) -> i128 {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(text, &Rfc3339).map_or(0, |t| t.unix_timestamp_nanos())
}

/// This machine's wall clock as Unix nanoseconds, comparable with [`created_at`].
fn unix_nanos_now() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

/// How far purchases ran ahead of the shop's rate: the most by which the purchases made by
/// some moment outnumber the admissions `per_minute` allows from `since` (Unix ns, no later
/// than the first admission; the first purchase if that is earlier, as by a server clock
/// behind this one) to then, with one second's worth of grace. People buy only once
/// admitted, so any excess is people let in beyond the rate.
fn beyond_rate(outcomes: &[Outcome2], per_minute: u32, since: i128) -> u64 {
    // An order time that did not parse (0) would allow everything: left out.
    let mut times: Vec<i128> =
        outcomes.iter().filter_map(|o| o.bought.as_ref().map(|b| b.0)).filter(|t| *t > 0).collect();
    times.sort_unstable();
    let Some(&first) = times.first() else { return 0 };
    let first = first.min(since);
    let per_minute = i128::from(per_minute);
    let grace = (per_minute / 60).max(1);
    let allowed = |at: i128| per_minute * (at - first + 1_000_000_000) / 60_000_000_000 + grace;
    let excess = times.iter().enumerate().map(|(i, t)| i128::try_from(i + 1).unwrap_or(i128::MAX) - allowed(*t));
    u64::try_from(excess.max().unwrap_or(0).max(0)).unwrap_or(u64::MAX)
}

/// Spearman's rank correlation between place in line and order of purchase (the order's
/// creation time, then its UUIDv7 id).
fn spearman(bought: &[&Outcome2]) -> f64 {
    let n = bought.len();
    if n < 2 {
        return 1.0;
    }
    let mut by_purchase: Vec<usize> = (0..n).collect();
    by_purchase.sort_by(|&a, &b| bought[a].bought.cmp(&bought[b].bought));
    let mut by_arrival: Vec<usize> = (0..n).collect();
    by_arrival.sort_by_key(|&i| bought[i].position);
    let mut purchase_rank = vec![0f64; n];
    let mut arrival_rank = vec![0f64; n];
    for (rank, &i) in by_purchase.iter().enumerate() {
        purchase_rank[i] = rank as f64;
    }
    for (rank, &i) in by_arrival.iter().enumerate() {
        arrival_rank[i] = rank as f64;
    }
    let d2: f64 = (0..n).map(|i| (purchase_rank[i] - arrival_rank[i]).powi(2)).sum();
    let n = n as f64;
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bought(position: u64, at: &str) -> Outcome2 {
        let bought = Some((created_at(at), String::new()));
        Outcome2 { position, bought, done: Duration::ZERO, statuses: vec![], error: None }
    }

    #[test]
    fn purchases_beyond_the_rate_are_counted_with_a_second_of_grace() {
        let at = |ms: i64| {
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(1_800_000_000_000 + ms) * 1_000_000);
            bought(1, &t.unwrap().format(&time::format_description::well_known::Rfc3339).unwrap())
        };
        // 60 a minute: one a second, plus one second's worth at the start, plus a second's grace.
        let start = i128::from(1_800_000_000_000i64) * 1_000_000;
        let steady: Vec<Outcome2> = (0..10).map(|i| at(i * 1000)).collect();
        assert_eq!(beyond_rate(&steady, 60, i128::MAX), 0);
        let burst: Vec<Outcome2> = (0..6).map(at).collect();
        assert_eq!(beyond_rate(&burst, 60, i128::MAX), 4, "6 at once against 1 + 1");
        let late: Vec<Outcome2> = (0..6).map(|i| at(4000 + i)).collect();
        assert_eq!(beyond_rate(&late, 60, start), 0, "counted from the joins, 4 s earlier: 5 + 1");
        let unparsed = Outcome2 { bought: Some((0, String::new())), ..at(0) };
        assert_eq!(beyond_rate(&[unparsed, at(0)], 60, i128::MAX), 0, "an unparsed time is left out");
        assert_eq!(beyond_rate(&[], 60, start), 0);
    }

    #[test]
    fn spearman_is_one_for_the_same_order_and_minus_one_reversed() {
        let (a, b, c) = ("2026-11-30T12:00:05Z", "2026-11-30T12:00:05.1Z", "2026-11-30T12:00:05.123Z");
        let same = [bought(1, a), bought(2, b), bought(3, c)];
        assert!((spearman(&same.iter().collect::<Vec<_>>()) - 1.0).abs() < 1e-9, "by time, not as text");
        let reversed = [bought(1, c), bought(2, b), bought(3, a)];
        assert!((spearman(&reversed.iter().collect::<Vec<_>>()) + 1.0).abs() < 1e-9);
    }
}
