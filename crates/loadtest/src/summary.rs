//! `--summary FILE`: each series' medians as one JSON line, so a script running several
//! set-ups (scripts/bench-postgres.sh: one and two PostgreSQL instances, counters, pools)
//! can lay them side by side without parsing the Markdown report.

use super::FlashSaleArgs;
use super::figures::{RunFigures, Series};
use super::stats::median;
use anyhow::Context;
use serde_json::json;
use std::io::Write;
use std::path::Path;

/// Appends one line per series to `path`.
pub fn append(path: &Path, args: &FlashSaleArgs, series: &[Series]) -> anyhow::Result<()> {
    series.iter().try_for_each(|s| append_line(path, &line(args, s)))
}

/// Appends `value` to `path` as one line.
pub fn append_line(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(file, "{value}").with_context(|| format!("writing {}", path.display()))
}

fn line(args: &FlashSaleArgs, series: &Series) -> serde_json::Value {
    let runs = &series.runs;
    let of = |f: fn(&RunFigures) -> f64| median(runs.iter().map(f).collect());
    let ratio = |f: fn(&RunFigures) -> f64| {
        median(runs.iter().map(|r| if r.baseline_rps > 0.0 { f(r) / r.baseline_rps } else { 0.0 }).collect())
    };
    let optional = |f: fn(&RunFigures) -> Option<f64>| {
        let values: Vec<f64> = runs.iter().filter_map(f).collect();
        (!values.is_empty()).then(|| median(values))
    };
    json!({
        "variant": series.variant.name(),
        "instances": args.target.len().max(1),
        "stockShards": args.stock_shards.unwrap_or(1),
        "runs": runs.len(),
        "baselineRps": of(|r| r.baseline_rps),
        "acceptedRps": of(|r| r.accepted_rps),
        "acceptedRatio": ratio(|r| r.accepted_rps),
        "soldOutRps": of(|r| r.sold_out_rps),
        "soldOutRatio": ratio(|r| r.sold_out_rps),
        "acceptedP50Ms": of(|r| r.accepted.p50),
        "acceptedP99Ms": of(|r| r.accepted.p99),
        "soldOutP50Ms": of(|r| r.sold_out.p50),
        "busy": of(|r| r.busy.count as f64),
        "orders": of(|r| r.orders as f64),
        "serverCpuBaselineUs": optional(|r| Some(r.server_cpu_us.as_ref()?.baseline)),
        "serverCpuSaleUs": optional(|r| Some(r.server_cpu_us.as_ref()?.sale)),
        "serverCpuRushUs": optional(|r| Some(r.server_cpu_us.as_ref()?.rush)),
        "databaseCpuPerOrderUs": optional(|r| Some(r.database_cpu_us.as_ref()?.accepted_order)),
        "databaseCpuPerRefusalUs": optional(|r| Some(r.database_cpu_us.as_ref()?.refusal)),
        "invariants": if runs.iter().all(|r| r.violations.is_empty()) { "PASS" } else { "FAIL" },
        "violations": runs.iter().flat_map(|r| r.violations.iter()).collect::<Vec<_>>(),
    })
}
