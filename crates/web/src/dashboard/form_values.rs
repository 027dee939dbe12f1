//! How staff type values into dashboard forms and read them back: amounts as `12.50`
//! (`+1.50` for price changes), sale times in the shop's zone as `2026-11-27T09:00`, and limits.

use crate::shop_time::ShopZone;
use stampede_domain::Millis;

/// Parses `12`, `12.5`, `12.50` (and `+1.50`/`-1.50` when `signed`) into minor units.
pub fn parse_amount(text: &str, signed: bool) -> Result<i64, String> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') if signed => (true, &text[1..]),
        Some(b'+') if signed => (false, &text[1..]),
        _ => (false, text),
    };
    let digits = digits.trim_start_matches(['$', '€', '£']);
    let (whole, cents) = digits.split_once('.').unwrap_or((digits, ""));
    let valid = !whole.is_empty()
        && whole.len() <= 9
        && whole.bytes().all(|b| b.is_ascii_digit())
        && cents.len() <= 2
        && cents.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        let example = if signed { "+1.50, -2 or 0" } else { "12.50" };
        return Err(format!("Enter an amount such as {example}."));
    }
    let whole: i64 = whole.parse().map_err(|_| "That amount is too large.".to_owned())?;
    let cents: i64 = format!("{cents:0<2}").parse().unwrap_or(0);
    let amount = whole * 100 + cents;
    Ok(if negative { -amount } else { amount })
}

/// Minor units as the form shows them: `12.50`, or `+1.50` with `signed`.
pub fn amount_text(amount: i64, signed: bool) -> String {
    let sign = match (amount < 0, signed) {
        (true, _) => "-",
        (false, true) => "+",
        (false, false) => "",
    };
    let abs = amount.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Parses a sale time: the form's `2026-11-27T09:00` in the shop's zone (see `shop_time` for
/// daylight-saving changes), or RFC 3339 with its own offset; blank is none.
pub fn parse_time(text: &str, zone: &ShopZone) -> Result<Option<Millis>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Some(ms) = crate::timefmt::parse_rfc3339(text) {
        return Ok(Some(ms));
    }
    zone.parse_local(text).map(Some).map_err(|e| e.to_string())
}

/// A limit: blank is none, else a whole number of 1 or more.
pub fn parse_limit(text: &str) -> Result<Option<u32>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    match text.trim().parse::<u32>() {
        Ok(0) | Err(_) => Err("Enter a whole number of 1 or more, or leave it empty for no limit.".into()),
        Ok(n) => Ok(Some(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_to_minor_units_and_back() {
        assert_eq!(parse_amount("12.5", false), Ok(1250));
        assert_eq!(parse_amount("$3", false), Ok(300));
        assert_eq!(parse_amount("-1.50", true), Ok(-150));
        assert_eq!(parse_amount("+0.05", true), Ok(5));
        for bad in ["", "1.234", "abc", "-1", "1,50", "9999999999"] {
            assert!(parse_amount(bad, false).is_err(), "{bad}");
        }
        assert_eq!(amount_text(1250, false), "12.50");
        assert_eq!(amount_text(-300, true), "-3.00");
        assert_eq!(amount_text(150, true), "+1.50");
    }

    #[test]
    fn sale_times_are_read_in_the_shop_zone_unless_they_carry_an_offset() {
        let utc = ShopZone::default();
        assert_eq!(parse_time("1970-01-01T00:01", &utc), Ok(Some(60_000)));
        assert_eq!(parse_time("1970-01-01T00:01:00Z", &utc), Ok(Some(60_000)));
        assert_eq!(parse_time(" ", &utc), Ok(None));
        assert!(parse_time("tomorrow", &utc).unwrap_err().contains("in UTC time"));
        let paris = ShopZone::named("Europe/Paris").unwrap();
        assert_eq!(parse_time("1970-01-01T01:01", &paris), Ok(Some(60_000)));
        assert_eq!(parse_time("1970-01-01T00:01:00Z", &paris), Ok(Some(60_000)));
    }
}
