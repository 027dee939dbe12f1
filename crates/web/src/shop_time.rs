//! The shop's time zone (`--shop-timezone`): the dashboard reads and shows sale windows in
//! it, and pages read without JavaScript name it. Storage and the API stay UTC.
//!
//! Typed local times around a daylight-saving change follow one rule: a time the clocks skip
//! (spring forward) is refused with a sentence saying so; a time that happens twice (fall
//! back) means the first of the two.

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, Zoned};
use stampede_domain::Millis;

/// An IANA time zone and its name.
#[derive(Debug, Clone)]
pub struct ShopZone {
    name: String,
    tz: TimeZone,
}

impl Default for ShopZone {
    fn default() -> Self {
        ShopZone { name: "UTC".into(), tz: TimeZone::UTC }
    }
}

/// Why typed text names no instant in the shop's zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalTimeError {
    #[error("Enter a date and time in {zone} time, such as 2026-11-27T09:00.")]
    Unreadable { zone: String },
    #[error("{time} does not exist in {zone}: the clocks go forward then. Pick a time outside the skipped hour.")]
    Skipped { time: String, zone: String },
}

impl ShopZone {
    /// The zone called `name` (`Europe/Berlin`), from the system's time-zone database or the
    /// copy built in (Lambda and slim containers have none).
    pub fn named(name: &str) -> Result<ShopZone, String> {
        TimeZone::get(name)
            .map(|tz| ShopZone { name: name.to_owned(), tz })
            .map_err(|_| format!("unknown time zone `{name}`: use an IANA name such as Europe/Berlin or UTC"))
    }

    /// The zone itself, for the domain's calendar rules (opening hours).
    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }

    /// A slot time for a choice list, shorter than [`label`](Self::label): `Mon 30 Nov, 18:15 CET`.
    pub fn slot_label(&self, ms: Millis) -> String {
        self.format(ms, "%a %-d %b, %H:%M")
    }

    /// The IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn zoned(&self, ms: Millis) -> Option<Zoned> {
        Timestamp::from_millisecond(ms).ok().map(|t| t.to_zoned(self.tz.clone()))
    }

    /// A time for people, the zone named: `Wed 25 Nov 2026, 19:00 CET`. Zones whose
    /// abbreviation is only an offset (`-03`) are named by their IANA name instead.
    pub fn label(&self, ms: Millis) -> String {
        self.format(ms, "%a %-d %b %Y, %H:%M")
    }

    /// A time to the second, for logs: `2026-11-25 19:00:05 CET`.
    pub fn stamp(&self, ms: Millis) -> String {
        self.format(ms, "%Y-%m-%d %H:%M:%S")
    }

    fn format(&self, ms: Millis, pattern: &str) -> String {
        let Some(zoned) = self.zoned(ms) else { return String::new() };
        let abbreviation = zoned.strftime("%Z").to_string();
        let zone = if abbreviation.chars().any(|c| c.is_ascii_alphabetic()) { abbreviation } else { self.name.clone() };
        format!("{} {zone}", zoned.strftime(pattern))
    }

    /// A time as a `datetime-local` field shows it, in this zone: `2026-11-27T09:00`.
    pub fn input_text(&self, ms: Millis) -> String {
        self.zoned(ms).map(|z| z.strftime("%Y-%m-%dT%H:%M").to_string()).unwrap_or_default()
    }

    /// Reads a `datetime-local` value (`2026-11-27T09:00`, seconds optional) as a time in
    /// this zone, by the rule in the module's comment.
    pub fn parse_local(&self, text: &str) -> Result<Millis, LocalTimeError> {
        let unreadable = || LocalTimeError::Unreadable { zone: self.name.clone() };
        let civil: DateTime = text.trim().parse().map_err(|_| unreadable())?;
        let ambiguous = self.tz.to_ambiguous_timestamp(civil);
        if let AmbiguousOffset::Gap { .. } = ambiguous.offset() {
            return Err(LocalTimeError::Skipped {
                time: civil.strftime("%-d %b %Y %H:%M").to_string(),
                zone: self.name.clone(),
            });
        }
        ambiguous.earlier().map(|t| t.as_millisecond()).map_err(|_| unreadable())
    }

    /// Midnight starting `date` (`2026-11-27`) in this zone, for whole-day filters.
    pub fn start_of_day(&self, date: jiff::civil::Date) -> Option<Millis> {
        date.to_zoned(self.tz.clone()).ok()?.start_of_day().ok().map(|z| z.timestamp().as_millisecond())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> ShopZone {
        ShopZone::named("Europe/Berlin").unwrap()
    }

    #[test]
    fn utc_is_the_default_and_names_are_checked() {
        let utc = ShopZone::default();
        assert_eq!(utc.label(0), "Thu 1 Jan 1970, 00:00 UTC");
        assert_eq!(utc.stamp(1_000), "1970-01-01 00:00:01 UTC");
        assert_eq!(utc.parse_local("1970-01-01T00:01"), Ok(60_000));
        assert!(ShopZone::named("Mars/Olympus_Mons").unwrap_err().contains("IANA"));
    }

    #[test]
    fn local_times_round_trip_in_the_shop_zone() {
        let zone = berlin();
        // 27 Nov 2026 09:00 in Berlin (CET, UTC+1) is 08:00 UTC.
        let ms = zone.parse_local("2026-11-27T09:00").unwrap();
        assert_eq!(crate::timefmt::rfc3339(ms), "2026-11-27T08:00:00Z");
        assert_eq!(zone.input_text(ms), "2026-11-27T09:00");
        assert_eq!(zone.label(ms), "Fri 27 Nov 2026, 09:00 CET");
        let summer = zone.parse_local("2026-07-01T09:00").unwrap();
        assert_eq!(zone.label(summer), "Wed 1 Jul 2026, 09:00 CEST");
        assert!(matches!(zone.parse_local("tomorrow"), Err(LocalTimeError::Unreadable { .. })));
    }

    #[test]
    fn daylight_saving_changes_follow_the_documented_rule() {
        let zone = berlin();
        // 29 Mar 2026: Berlin skips from 02:00 to 03:00.
        let skipped = zone.parse_local("2026-03-29T02:30").unwrap_err();
        assert_eq!(
            skipped.to_string(),
            "29 Mar 2026 02:30 does not exist in Europe/Berlin: the clocks go forward then. \
             Pick a time outside the skipped hour."
        );
        let after = zone.parse_local("2026-03-29T03:00").unwrap();
        assert_eq!(crate::timefmt::rfc3339(after), "2026-03-29T01:00:00Z");
        // 25 Oct 2026: 02:30 happens twice (CEST, then CET); it means the first.
        let twice = zone.parse_local("2026-10-25T02:30").unwrap();
        assert_eq!(crate::timefmt::rfc3339(twice), "2026-10-25T00:30:00Z");
        assert_eq!(zone.label(twice), "Sun 25 Oct 2026, 02:30 CEST");
        assert_eq!(zone.label(twice + 3_600_000), "Sun 25 Oct 2026, 02:30 CET", "the second one reads apart");
        // A day with 25 hours starts at local midnight.
        let day = jiff::civil::date(2026, 10, 25);
        assert_eq!(crate::timefmt::rfc3339(zone.start_of_day(day).unwrap()), "2026-10-24T22:00:00Z");
    }

    #[test]
    fn zones_with_numeric_abbreviations_are_named() {
        let zone = ShopZone::named("America/Sao_Paulo").unwrap();
        assert_eq!(zone.label(0), "Wed 31 Dec 1969, 21:00 America/Sao_Paulo");
    }
}
