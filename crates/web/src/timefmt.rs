//! RFC 3339 timestamps on the wire, Unix milliseconds inside.

use stampede_domain::Millis;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Formatting is shared with the notifications' payloads.
pub use stampede_store::clock::rfc3339;

/// Parses an RFC 3339 timestamp to Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    Millis::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}
