//! How the analytics page writes money, times, shares and durations. All UTC, all integers.

use stampede_domain::{Currency, Millis, Money};
use stampede_store::analytics::Granularity;
use time::OffsetDateTime;
use time::macros::format_description;

fn symbol(currency: Currency) -> String {
    match currency.as_str() {
        "USD" => "$".into(),
        "EUR" => "€".into(),
        "GBP" => "£".into(),
        code => format!("{code} "),
    }
}

/// `$1,234.50`: thousands separated, two decimals.
pub fn money(m: Money) -> String {
    let sign = if m.amount < 0 { "-" } else { "" };
    let abs = m.amount.unsigned_abs();
    format!("{sign}{}{}.{:02}", symbol(m.currency), thousands(abs / 100), abs % 100)
}

/// An axis tick: whole units without decimals (`$150`), else like [`money`].
pub fn money_tick(m: Money) -> String {
    if m.amount % 100 == 0 {
        let sign = if m.amount < 0 { "-" } else { "" };
        format!("{sign}{}{}", symbol(m.currency), thousands(m.amount.unsigned_abs() / 100))
    } else {
        money(m)
    }
}

/// `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Basis points as a percentage with one decimal: 8750 is `87.5 %`.
pub fn percent(bp: Option<u32>) -> String {
    match bp {
        None => "—".into(),
        Some(bp) => format!("{}.{} %", bp / 100, (bp % 100) / 10),
    }
}

/// `3 min 20 s`, `21 h 5 min`, `3 d 4 h`: precise enough to compare sales, short enough to read.
pub fn duration(ms: Millis) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..172_800 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

fn utc(ms: Millis) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).ok()
}

/// `20 Nov 2026 10:15 UTC`.
pub fn datetime(ms: Millis) -> String {
    utc(ms)
        .and_then(|t| {
            t.format(format_description!("[day padding:none] [month repr:short] [year] [hour]:[minute] UTC")).ok()
        })
        .unwrap_or_default()
}

/// `Fri 20 Nov 2026`.
pub fn day(ms: Millis) -> String {
    utc(ms)
        .and_then(|t| {
            t.format(format_description!("[weekday repr:short] [day padding:none] [month repr:short] [year]")).ok()
        })
        .unwrap_or_default()
}

/// A bucket's axis label and its full name.
pub fn bucket(start: Millis, granularity: Granularity) -> (String, String) {
    let Some(t) = utc(start) else { return (String::new(), String::new()) };
    let (label, name) = match granularity {
        Granularity::Hour => (
            t.format(format_description!("[hour]:00")),
            t.format(format_description!("[weekday repr:short] [day padding:none] [month repr:short] [hour]:00 UTC")),
        ),
        Granularity::Day => (
            t.format(format_description!("[day padding:none] [month repr:short]")),
            t.format(format_description!("[weekday repr:short] [day padding:none] [month repr:short] [year]")),
        ),
    };
    (label.unwrap_or_default(), name.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-20T10:15:00Z, a Friday.
    const T: Millis = 1_795_132_800_000 + 10 * 3_600_000 + 15 * 60_000;

    #[test]
    fn money_reads_like_a_price() {
        let usd = |a| Money::new(a, Currency::USD);
        assert_eq!(money(usd(123_456_789)), "$1,234,567.89");
        assert_eq!(money(usd(-5)), "-$0.05");
        assert_eq!(money(Money::new(300, Currency::parse("EUR").unwrap())), "€3.00");
        assert_eq!(money(Money::new(300, Currency::parse("JPY").unwrap())), "JPY 3.00");
        assert_eq!(money_tick(usd(500_000)), "$5,000");
        assert_eq!(money_tick(usd(250)), "$2.50");
        assert_eq!([0, 999, 1000, 1_000_000].map(thousands), ["0", "999", "1,000", "1,000,000"]);
    }

    #[test]
    fn shares_durations_and_times() {
        assert_eq!(percent(Some(8750)), "87.5 %");
        assert_eq!(percent(Some(10_000)), "100.0 %");
        assert_eq!(percent(None), "—");
        assert_eq!(duration(45_000), "45 s");
        assert_eq!(duration(200_000), "3 min 20 s");
        assert_eq!(duration(21 * 3_600_000 + 5 * 60_000), "21 h 5 min");
        assert_eq!(duration(76 * 3_600_000), "3 d 4 h");
        assert_eq!(datetime(T), "20 Nov 2026 10:15 UTC");
        assert_eq!(day(T), "Fri 20 Nov 2026");
        assert_eq!(bucket(T - 15 * 60_000, Granularity::Hour), ("10:00".into(), "Fri 20 Nov 10:00 UTC".into()));
        assert_eq!(bucket(1_795_132_800_000, Granularity::Day), ("20 Nov".into(), "Fri 20 Nov 2026".into()));
    }
}
