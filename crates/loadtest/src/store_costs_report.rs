//! The DynamoDB cost sections of BENCHMARKS.md, from the storage costs each run measured.

use super::FlashSaleArgs;
use super::figures::Series;
use super::store_costs::{PerRequest, StoreCosts};
use std::fmt::Write;

/// A DynamoDB cost section of BENCHMARKS.md: the command, then per-request figures, each the
/// median over runs; with several instances, also what the sale's order transactions met.
pub fn markdown(a: &FlashSaleArgs, series: &[Series]) -> String {
    let runs: Vec<&StoreCosts> = series[0].runs.iter().filter_map(|r| r.store_costs.as_ref()).collect();
    let all_pass = series[0].runs.iter().all(|r| r.violations.is_empty());
    let mut s = String::new();
    write_intro(&mut s, a, all_pass);
    write_table(&mut s, &runs);
    if let Some(first) = runs.first().map(|c| c.accepted_order) {
        write_sale_totals(&mut s, first);
    }
    s
}

/// The section's heading and how the figures were produced.
fn write_intro(s: &mut String, a: &FlashSaleArgs, all_pass: bool) {
    let shards = a.stock_shards.unwrap_or(1);
    let _ = match a.instances {
        1 => writeln!(s, "## DynamoDB: requests per order, refusal and view (a flash sale on moto)\n"),
        n => writeln!(s, "## DynamoDB: {n} instances on one table, stockShards {shards} (a flash sale on moto)\n"),
    };
    let spread = match a.instances {
        1 => "starts `stampede serve --store dynamodb` on a fresh table".to_owned(),
        n => format!(
            "starts {n} `stampede serve --store dynamodb` instances on one fresh table (one signing secret, \
             every relay delivering to the one webhook receiver), spreads the buyers over them round-robin \
             (a buyer's retry and greedy second order go to the next instance)"
        ),
    };
    let _ = writeln!(
        s,
        "Produced by `stampede loadtest flash-sale --dynamodb-endpoint <moto> --instances {} --stock-shards {shards} \
         {} --report BENCHMARKS.md` (a build with `--features aws`; moto from \
         `scripts/moto_serial.py` or `moto_server`), which {spread} and reads the servers' \
         `stampede_store_service_calls` metric around each phase, summed over instances. moto is slow and reports \
         no consumed capacity, so this counts requests, not speed; units are 0 here and the server's figures on \
         AWS. Invariants: {}.\n",
        a.instances,
        super::report::sale_flags(a, false),
        if all_pass { "PASS (no oversell, every acknowledged order kept, every event delivered once)" } else { "FAIL" },
    );
}

/// Per-request figures, each the median over `runs`.
fn write_table(s: &mut String, runs: &[&StoreCosts]) {
    let _ = writeln!(
        s,
        "| per | requests measured | reads | writes | transactions | retries | conflicts | short draws | read units | write units |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
    let median = |pick: &dyn Fn(&StoreCosts) -> PerRequest| {
        let figures: Vec<PerRequest> = runs.iter().map(|c| pick(c)).collect();
        let med = |f: fn(&PerRequest) -> f64| {
            let mut v: Vec<f64> = figures.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        (
            figures.first().map_or(0, |p| p.requests),
            [
                med(|p| p.reads),
                med(|p| p.writes),
                med(|p| p.transactions),
                med(|p| p.retries),
                med(|p| p.conflicts),
                med(|p| p.short_draws),
                med(|p| p.read_units),
                med(|p| p.write_units),
            ],
        )
    };
    for (name, pick) in [
        (
            "accepted order (the whole sale: its refusals, replays and the relay's delivery, over accepted orders)",
            (|c: &StoreCosts| c.accepted_order) as fn(&StoreCosts) -> PerRequest,
        ),
        ("sold-out refusal", |c| c.refusal),
        ("product view", |c| c.view),
        ("second with no traffic (relay and live-stock polling, in every phase above too)", |c| c.idle_per_second),
    ] {
        let (requests, v) = median(&pick);
        let _ = writeln!(
            s,
            "| {name} | {requests} | {:.2} | {:.2} | {:.2} | {:.3} | {:.3} | {:.3} | {:.2} | {:.2} |",
            v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
        );
    }
}

/// The first run's sale as counts over all instances.
fn write_sale_totals(s: &mut String, first: PerRequest) {
    // Counts read better than fractions of an order; they are the first run's.
    let total = |per: f64| (per * first.requests as f64).round();
    let _ = writeln!(
        s,
        "\nThe sale (first run), over all instances: {} accepted orders, {} transactions sent (orders', \
         and sold-out markers'), {} order transactions resent after a cancellation (retries); cancellations seen: {} by `TransactionConflict`, \
         {} by a stock counter that held too few units.",
        first.requests,
        total(first.transactions),
        total(first.retries),
        total(first.conflicts),
        total(first.short_draws),
    );
}
