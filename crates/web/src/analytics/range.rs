//! Which time range a request asks for: the page's presets and custom dates, and the CSV's
//! `from`/`to`. Pure functions of the query and `now`, so every rule is unit-tested.
//! Everything is UTC: the shop has one clock, and buckets must line up across days.

use serde::Deserialize;
use stampede_domain::Millis;
use stampede_store::analytics::{DAY, Granularity, HOUR, ReportQuery, TimeRange};
use time::macros::format_description;
use time::{Date, OffsetDateTime};

/// The page's query string: `?range=24h|7d|30d`, or `?from=YYYY-MM-DD&to=YYYY-MM-DD`.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub range: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The range presets; `Custom` is a from/to pair of dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Day,
    Week,
    Month,
    Custom,
}

impl Preset {
    /// The value of `?range=`.
    pub fn key(self) -> &'static str {
        match self {
            Preset::Day => "24h",
            Preset::Week => "7d",
            Preset::Month => "30d",
            Preset::Custom => "custom",
        }
    }
}

/// A range the page will show, with how to bucket it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub preset: Preset,
    pub range: TimeRange,
    pub granularity: Granularity,
}

impl Selection {
    /// The default: the last 7 days, today included, by day.
    pub fn default_at(now: Millis) -> Selection {
        preset(Preset::Week, now)
    }

    /// The first day, as the date input shows it.
    pub fn first_day(&self) -> String {
        date_of(self.range.from)
    }

    /// The last day included (the range's end is exclusive).
    pub fn last_day(&self) -> String {
        date_of(self.range.to - 1)
    }

    /// The report of this selection, with the `top_n` best-selling products.
    pub fn report(&self, top_n: u32) -> ReportQuery {
        ReportQuery { range: self.range, granularity: self.granularity, top_n }
    }
}

fn preset(which: Preset, now: Millis) -> Selection {
    let (range, granularity) = match which {
        // The current hour and the 23 before it.
        Preset::Day => {
            let to = Granularity::Hour.floor(now) + HOUR;
            (TimeRange { from: to - 24 * HOUR, to }, Granularity::Hour)
        }
        Preset::Week | Preset::Custom => days_ending_today(7, now),
        Preset::Month => days_ending_today(30, now),
    };
    Selection { preset: which, range, granularity }
}

fn days_ending_today(days: i64, now: Millis) -> (TimeRange, Granularity) {
    let to = Granularity::Day.floor(now) + DAY;
    (TimeRange { from: to - days * DAY, to }, Granularity::Day)
}

/// What the query asks for, or a sentence saying what is wrong with it.
pub fn select(query: &PageQuery, now: Millis) -> Result<Selection, String> {
    let blank = |s: &Option<String>| s.as_deref().is_none_or(|v| v.trim().is_empty());
    if blank(&query.from) && blank(&query.to) {
        return match query.range.as_deref().map(str::trim).unwrap_or("7d") {
            "24h" => Ok(preset(Preset::Day, now)),
            "7d" | "" => Ok(preset(Preset::Week, now)),
            "30d" => Ok(preset(Preset::Month, now)),
            other => Err(format!("Unknown range “{}”: choose 24h, 7d, 30d or two dates.", shorten(other))),
        };
    }
    let from = date_param("From", query.from.as_deref())?;
    let to = date_param("To", query.to.as_deref())?;
    if to < from {
        return Err("The “to” date is before the “from” date.".into());
    }
    let range = TimeRange::new(from, to + DAY).map_err(|e| format!("That range is too long: {e}."))?;
    // A day or two reads best by the hour; longer ranges by the day.
    let granularity = if range.to - range.from <= 2 * DAY { Granularity::Hour } else { Granularity::Day };
    Ok(Selection { preset: Preset::Custom, range, granularity })
}

/// The CSV's `from` and `to`: RFC 3339 times give `[from, to)` exactly; a plain date is a
/// whole UTC day, so `from=2026-11-20&to=2026-11-22` covers three days.
pub fn csv_range(from: Option<&str>, to: Option<&str>) -> Result<TimeRange, String> {
    let from = match from.map(str::trim).filter(|s| !s.is_empty()) {
        None => return Err("`from` is required: a date (YYYY-MM-DD) or an RFC 3339 time".into()),
        Some(s) => {
            instant(s, false).ok_or_else(|| format!("`from` is not a date or RFC 3339 time: `{}`", shorten(s)))?
        }
    };
    let to = match to.map(str::trim).filter(|s| !s.is_empty()) {
        None => return Err("`to` is required: a date (YYYY-MM-DD) or an RFC 3339 time".into()),
        Some(s) => instant(s, true).ok_or_else(|| format!("`to` is not a date or RFC 3339 time: `{}`", shorten(s)))?,
    };
    TimeRange::new(from, to).map_err(|e| format!("`from`/`to`: {e}"))
}

/// A date (its midnight, or the next midnight when it ends a range) or an RFC 3339 time.
fn instant(s: &str, end_of_day: bool) -> Option<Millis> {
    if let Some(ms) = parse_date(s) {
        return Some(if end_of_day { ms + DAY } else { ms });
    }
    crate::timefmt::parse_rfc3339(s)
}

fn date_param(name: &str, value: Option<&str>) -> Result<Millis, String> {
    match value.map(str::trim).filter(|s| !s.is_empty()) {
        None => Err(format!("{name} date is missing: give both dates of a custom range.")),
        Some(s) => parse_date(s).ok_or_else(|| format!("{name} date “{}” is not a date like 2026-11-20.", shorten(s))),
    }
}

fn parse_date(s: &str) -> Option<Millis> {
    let date = Date::parse(s, format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}

fn date_of(ms: Millis) -> String {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.date().format(format_description!("[year]-[month]-[day]")).ok())
        .unwrap_or_default()
}

/// Echoes at most 40 characters of what the visitor typed.
fn shorten(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-20T10:15:00Z.
    const NOW: Millis = 1_795_132_800_000 + 10 * HOUR + 15 * 60_000;
    const MIDNIGHT: Millis = 1_795_132_800_000;

    fn query(range: Option<&str>, from: Option<&str>, to: Option<&str>) -> PageQuery {
        PageQuery { range: range.map(Into::into), from: from.map(Into::into), to: to.map(Into::into) }
    }

    #[test]
    fn presets_end_with_the_current_hour_or_day() {
        let day = select(&query(Some("24h"), None, None), NOW).unwrap();
        assert_eq!(day.range, TimeRange { from: MIDNIGHT + 11 * HOUR - DAY, to: MIDNIGHT + 11 * HOUR });
        assert_eq!(day.granularity, Granularity::Hour);
        let week = select(&query(None, None, None), NOW).unwrap();
        assert_eq!((week.preset, week.range.to, week.range.from), (Preset::Week, MIDNIGHT + DAY, MIDNIGHT - 6 * DAY));
        assert_eq!((week.first_day(), week.last_day()), ("2026-11-14".into(), "2026-11-20".into()));
        let month = select(&query(Some("30d"), Some(""), Some(" ")), NOW).unwrap();
        assert_eq!((month.range.to - month.range.from) / DAY, 30);
    }

    #[test]
    fn custom_dates_are_whole_days_both_included() {
        let s = select(&query(None, Some("2026-11-18"), Some("2026-11-20")), NOW).unwrap();
        assert_eq!(s.range, TimeRange { from: MIDNIGHT - 2 * DAY, to: MIDNIGHT + DAY });
        assert_eq!(s.granularity, Granularity::Day);
        let one = select(&query(Some("7d"), Some("2026-11-20"), Some("2026-11-20")), NOW).unwrap();
        assert_eq!((one.preset, one.granularity), (Preset::Custom, Granularity::Hour));
    }

    #[test]
    fn bad_queries_get_sentences() {
        let err = |q| select(&q, NOW).unwrap_err();
        assert!(err(query(Some("1y"), None, None)).contains("Unknown range “1y”"));
        assert!(err(query(None, Some("2026-11-20"), None)).contains("To date is missing"));
        assert!(err(query(None, Some("20/11/2026"), Some("2026-11-20"))).contains("not a date"));
        assert!(err(query(None, Some("2026-11-21"), Some("2026-11-20"))).contains("before"));
        assert!(err(query(None, Some("2020-01-01"), Some("2026-11-20"))).contains("too long"));
        assert!(err(query(None, Some("2026-02-30"), Some("2026-03-01"))).contains("not a date"));
        assert!(err(query(Some(&"x".repeat(500)), None, None)).len() < 120);
    }

    #[test]
    fn csv_takes_dates_or_exact_times() {
        assert_eq!(
            csv_range(Some("2026-11-20"), Some("2026-11-20")),
            Ok(TimeRange { from: MIDNIGHT, to: MIDNIGHT + DAY })
        );
        assert_eq!(
            csv_range(Some("2026-11-20T10:00:00Z"), Some("2026-11-20T12:00:00+01:00")),
            Ok(TimeRange { from: MIDNIGHT + 10 * HOUR, to: MIDNIGHT + 11 * HOUR })
        );
        assert!(csv_range(None, Some("2026-11-20")).unwrap_err().contains("`from` is required"));
        assert!(csv_range(Some("2026-11-20"), Some("tomorrow")).unwrap_err().contains("`to` is not"));
        assert!(
            csv_range(Some("2026-11-21T00:00:00Z"), Some("2026-11-20T00:00:00Z")).unwrap_err().contains("end after")
        );
    }
}
