//! The wall clock, read in one place, and instants as RFC 3339 text. The domain never reads a
//! clock (callers pass `now`); this is the lowest crate that does, and notify and web both
//! build on it.

use stampede_domain::Millis;
use std::time::{SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Wall-clock now in Unix milliseconds.
///
/// A clock set before 1970 reads 0, and one too far ahead for an `i64` (about 292 million
/// years) reads `Millis::MAX`: saturating rather than wrapping (`as i64`), so a broken clock
/// can only read too late, never jump into the past, where sale windows, sessions and
/// tokens would look open again.
pub fn now_millis() -> Millis {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX))
}

/// Wall-clock now in Unix microseconds, saturating as [`now_millis`] does.
pub fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Unix milliseconds as RFC 3339 UTC (`2026-11-27T08:00:00Z`, fractions only when there are
/// any). An instant RFC 3339 cannot write (before year 0 or after 9999) falls back to its
/// milliseconds as digits: that loses nothing, where an empty string would lose the instant.
pub fn rfc3339(millis: Millis) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| millis.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_read_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_766_400_250), "2026-11-27T08:00:00.25Z");
        assert_eq!(rfc3339(Millis::MAX), Millis::MAX.to_string());
    }

    #[test]
    fn the_clock_reads_after_2025() {
        assert!(now_millis() > 1_735_689_600_000);
    }
}
