//! BENCHMARKS.md holds the flash-sale report and the soak report, written by two commands at
//! different times: each rewrites its own part and keeps the other's.

use anyhow::Context;
use std::path::Path;

/// Marks the soak report inside the file.
const SOAK_START: &str = "<!-- soak report: written by `stampede loadtest soak --report` -->";
const SOAK_END: &str = "<!-- end of soak report -->";

/// The soak block of `text`, markers included.
fn soak_block(text: &str) -> Option<&str> {
    let start = text.find(SOAK_START)?;
    let end = text[start..].find(SOAK_END)? + start + SOAK_END.len();
    Some(&text[start..end])
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("report written to {}", path.display());
    Ok(())
}

/// Writes the flash-sale report, keeping a soak report the file already holds.
pub fn write_flash_sale(path: &Path, report: &str) -> anyhow::Result<()> {
    let existing = read(path);
    let text = match soak_block(&existing) {
        Some(soak) => format!("{}\n{soak}\n", report.trim_end()),
        None => report.to_owned(),
    };
    write(path, &text)
}

/// Writes the soak report into the file in place of an earlier one, or at its end.
pub fn write_soak(path: &Path, report: &str) -> anyhow::Result<()> {
    let existing = read(path);
    let block = format!("{SOAK_START}\n{}\n{SOAK_END}", report.trim_end());
    let text = match soak_block(&existing) {
        Some(old) => existing.replacen(old, &block, 1),
        None if existing.trim().is_empty() => format!("{block}\n"),
        None => format!("{}\n\n{block}\n", existing.trim_end()),
    };
    write(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_report_keeps_the_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("BENCHMARKS.md");
        write_flash_sale(&path, "# Benchmarks\nsale 1\n").unwrap();
        write_soak(&path, "## Soak\nrss 1\n").unwrap();
        write_flash_sale(&path, "# Benchmarks\nsale 2\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Benchmarks\nsale 2\n"), "{text}");
        assert!(text.contains("## Soak\nrss 1"), "{text}");
        write_soak(&path, "## Soak\nrss 2\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("sale 2") && text.contains("rss 2") && !text.contains("rss 1"), "{text}");
        assert_eq!(text.matches(SOAK_START).count(), 1);
    }
}
