//! BENCHMARKS.md holds reports written by different commands at different times (the flash
//! sale, the soak, the DynamoDB costs) beside hand-written sections. Each report lives
//! between its own markers and is rewritten in place; everything else in the file is kept.

use anyhow::Context;
use std::path::Path;

/// A report's place in the file.
struct Block<'a> {
    start: &'a str,
    end: &'a str,
    /// Where a report the file does not hold yet goes.
    first: bool,
}

const FLASH_SALE: Block<'static> = Block {
    start: "<!-- flash-sale report: written by `stampede loadtest flash-sale --report` -->",
    end: "<!-- end of flash-sale report -->",
    first: true,
};
const SOAK: Block<'static> = Block {
    start: "<!-- soak report: written by `stampede loadtest soak --report` -->",
    end: "<!-- end of soak report -->",
    first: false,
};
const DYNAMODB_COSTS: Block<'static> = Block {
    start: "<!-- DynamoDB costs: written by `stampede loadtest flash-sale --dynamodb-endpoint ... --report` -->",
    end: "<!-- end of DynamoDB costs -->",
    first: false,
};

const WAITING_ROOM: Block<'static> = Block {
    start: "<!-- waiting-room report: written by `stampede loadtest flash-sale --waiting-room --report` -->",
    end: "<!-- end of waiting-room report -->",
    first: false,
};

/// Writes the waiting-room report in place of an earlier one, or at the end.
pub fn write_waiting_room(path: &Path, report: &str) -> anyhow::Result<()> {
    write_block(path, &WAITING_ROOM, report)
}

/// Writes the flash-sale report in place of an earlier one, or at the top.
pub fn write_flash_sale(path: &Path, report: &str) -> anyhow::Result<()> {
    write_block(path, &FLASH_SALE, report)
}

/// Writes the soak report in place of an earlier one, or at the end.
pub fn write_soak(path: &Path, report: &str) -> anyhow::Result<()> {
    write_block(path, &SOAK, report)
}

/// Writes the DynamoDB cost report in place of an earlier one, or at the end.
pub fn write_dynamodb_costs(path: &Path, report: &str) -> anyhow::Result<()> {
    write_block(path, &DYNAMODB_COSTS, report)
}

/// Writes the report of a sale through several instances on one DynamoDB table, in place of
/// an earlier one with as many instances and stock counters, or at the end: one block per
/// `stockShards`, so a run over one hot counter and one over several stand side by side.
pub fn write_dynamodb_instances(path: &Path, instances: u32, stock_shards: u32, report: &str) -> anyhow::Result<()> {
    let start = format!(
        "<!-- DynamoDB, {instances} instances, stockShards {stock_shards}: written by `stampede loadtest flash-sale --dynamodb-endpoint ... --instances {instances} --stock-shards {stock_shards} --report` -->"
    );
    let end = format!("<!-- end of DynamoDB, {instances} instances, stockShards {stock_shards} -->");
    write_block(path, &Block { start: &start, end: &end, first: false }, report)
}

fn write_block(path: &Path, block: &Block, report: &str) -> anyhow::Result<()> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let text = with_block(&existing, block, report);
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("report written to {}", path.display());
    Ok(())
}

/// `existing` with `report` between `block`'s markers.
fn with_block(existing: &str, block: &Block, report: &str) -> String {
    let marked = format!("{}\n{}\n{}", block.start, report.trim_end(), block.end);
    let found = existing.find(block.start).and_then(|start| {
        let end = existing[start..].find(block.end)? + start + block.end.len();
        Some(&existing[start..end])
    });
    match found {
        Some(old) => existing.replacen(old, &marked, 1),
        None if existing.trim().is_empty() => format!("{marked}\n"),
        None if block.first => format!("{marked}\n\n{}", existing.trim_start()),
        None => format!("{}\n\n{marked}\n", existing.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_report_keeps_the_others_and_the_hand_written_sections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("BENCHMARKS.md");
        std::fs::write(&path, "## Hot paths with wrk\nby hand\n").unwrap();
        write_flash_sale(&path, "# Benchmarks\nsale 1\n").unwrap();
        write_soak(&path, "## Soak\nrss 1\n").unwrap();
        write_dynamodb_costs(&path, "## DynamoDB\ncalls 1\n").unwrap();
        write_waiting_room(&path, "## Waiting room\nline 1\n").unwrap();
        write_dynamodb_instances(&path, 2, 1, "## Two, one counter\nrun 1\n").unwrap();
        write_dynamodb_instances(&path, 2, 8, "## Two, eight counters\nrun 1\n").unwrap();
        write_dynamodb_instances(&path, 2, 1, "## Two, one counter\nrun 2\n").unwrap();
        write_flash_sale(&path, "# Benchmarks\nsale 2\n").unwrap();
        write_soak(&path, "## Soak\nrss 2\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&format!("{}\n# Benchmarks\nsale 2\n", FLASH_SALE.start)), "{text}");
        for kept in ["by hand", "rss 2", "calls 1", "line 1", "counter\nrun 2", "counters\nrun 1"] {
            assert!(text.contains(kept), "{kept} in {text}");
        }
        assert!(!text.contains("sale 1") && !text.contains("rss 1"), "{text}");
        assert!(!text.contains("counter\nrun 1"), "{text}");
        for marker in [FLASH_SALE.start, SOAK.start, DYNAMODB_COSTS.start, WAITING_ROOM.start] {
            assert_eq!(text.matches(marker).count(), 1);
        }
    }
}
