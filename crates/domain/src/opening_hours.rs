//! Opening hours and the times they offer for pickup or delivery: "as soon as possible", or
//! a slot. Slots start every [`SLOT_MINUTES`] while the shop is open, from [`SLOT_LEAD_MINUTES`]
//! after now, today and for the next [`SLOT_DAYS`] days. Hours are local times in the shop's
//! zone; on a daylight-saving day a time the clocks skip offers no slot, and a time that
//! happens twice offers its first occurrence only.

use crate::Millis;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, ToSpan};
use std::fmt;

/// Minutes between slot starts.
pub const SLOT_MINUTES: i64 = 15;
/// The earliest slot is at least this many minutes ahead: the kitchen needs the time.
pub const SLOT_LEAD_MINUTES: i64 = 20;
/// Days after today that offer slots.
pub const SLOT_DAYS: i64 = 1;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// When the shop is open, per weekday (Monday first): ranges of minutes after midnight,
/// opening inclusive, closing exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpeningHours {
    days: [Vec<(u16, u16)>; 7],
}

/// Why a chosen slot cannot be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotError {
    /// No opening hours are set: only "as soon as possible".
    NoSlots,
    /// Already past, or sooner than the kitchen can manage.
    TooSoon,
    /// Further ahead than slots are offered.
    TooFar,
    /// The shop is closed then.
    Closed,
    /// Not on a slot start (every 15 minutes).
    OffGrid,
}

impl fmt::Display for SlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlotError::NoSlots => {
                f.write_str("this shop takes orders for as soon as possible only; leave the time out")
            }
            SlotError::TooSoon => write!(
                f,
                "that time has passed or is too soon: choose a time at least {SLOT_LEAD_MINUTES} minutes from now"
            ),
            SlotError::TooFar => f.write_str("times can be chosen for today and tomorrow only"),
            SlotError::Closed => f.write_str("the shop is closed at that time: choose a time within the opening hours"),
            SlotError::OffGrid => write!(f, "times start every {SLOT_MINUTES} minutes, such as 12:00 or 12:15"),
        }
    }
}

impl std::error::Error for SlotError {}

impl OpeningHours {
    /// Reads hours like `mon-fri 11:00-22:00; sat-sun 12:00-23:00`: parts separated by `;`,
    /// each days (`mon`, `mon-fri`, `fri-sun`, `mon,wed`, or `daily`) then times separated
    /// by `,` (`11:00-14:00, 17:00-22:00`). A closing time of `24:00` means midnight.
    pub fn parse(text: &str) -> Result<OpeningHours, String> {
        let mut hours = OpeningHours::default();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (days, times) = part
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("`{part}`: write the days, then the times, like `mon-fri 11:00-22:00`"))?;
            let days = parse_days(days.trim())?;
            for range in times.split(',').map(str::trim) {
                let (open, close) = range
                    .split_once('-')
                    .ok_or_else(|| format!("`{range}`: write times as opening-closing, like 11:00-22:00"))?;
                let (open, close) = (parse_time(open)?, parse_time(close)?);
                if close <= open {
                    return Err(format!(
                        "`{range}`: the closing time must be after the opening time; for hours past midnight, \
                         close at 24:00 and open the next day at 00:00 (`fri 18:00-24:00; sat 00:00-02:00`)"
                    ));
                }
                for &day in &days {
                    hours.days[day].push((open, close));
                }
            }
        }
        if hours.is_empty() {
            return Err("give at least one day and its hours, like `mon-fri 11:00-22:00`".into());
        }
        for day in &mut hours.days {
            day.sort_unstable();
        }
        Ok(hours)
    }

    /// No day has hours.
    pub fn is_empty(&self) -> bool {
        self.days.iter().all(Vec::is_empty)
    }

    /// The slot starts from `now` on, as instants, earliest first.
    pub fn slots(&self, tz: &TimeZone, now: Millis) -> Vec<Millis> {
        let Some(today) = local(tz, now).map(|dt| dt.date()) else { return Vec::new() };
        let earliest = now + SLOT_LEAD_MINUTES * 60_000;
        let mut out = Vec::new();
        for offset in 0..=SLOT_DAYS {
            let Ok(date) = today.checked_add(offset.days()) else { continue };
            out.extend(self.day_slots(tz, date).filter(|&at| at >= earliest));
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Every slot start of `date`, skipping local times the clocks jump over and taking the
    /// first of a time that happens twice.
    fn day_slots(&self, tz: &TimeZone, date: Date) -> impl Iterator<Item = Millis> + '_ {
        let tz = tz.clone();
        let step = usize::try_from(SLOT_MINUTES).unwrap_or(15);
        self.days[weekday(date)].iter().flat_map(move |&(open, close)| {
            let tz = tz.clone();
            (open..close).step_by(step).filter_map(move |minute| {
                let dt = date.at(i8::try_from(minute / 60).ok()?, i8::try_from(minute % 60).ok()?, 0, 0);
                instant(&tz, dt)
            })
        })
    }

    /// Checks that `slot` is one [`slots`](Self::slots) offers, and says why not.
    pub fn check(&self, tz: &TimeZone, slot: Millis, now: Millis) -> Result<(), SlotError> {
        if self.is_empty() {
            return Err(SlotError::NoSlots);
        }
        if self.slots(tz, now).contains(&slot) {
            return Ok(());
        }
        if slot < now + SLOT_LEAD_MINUTES * 60_000 {
            return Err(SlotError::TooSoon);
        }
        let (Some(today), Some(then)) = (local(tz, now), local(tz, slot)) else { return Err(SlotError::TooFar) };
        let last_day = today.date().checked_add(SLOT_DAYS.days()).ok();
        if last_day.is_none_or(|last| then.date() > last) {
            return Err(SlotError::TooFar);
        }
        let minute = u16::try_from(i32::from(then.hour()) * 60 + i32::from(then.minute())).unwrap_or(0);
        let open = self.days[weekday(then.date())].iter().any(|&(o, c)| (o..c).contains(&minute));
        if open { Err(SlotError::OffGrid) } else { Err(SlotError::Closed) }
    }
}

impl fmt::Display for OpeningHours {
    /// The hours as they are written in settings, one part per weekday with hours.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (day, ranges) in self.days.iter().enumerate().filter(|(_, r)| !r.is_empty()) {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            f.write_str(DAY_NAMES[day])?;
            for (i, (open, close)) in ranges.iter().enumerate() {
                let sep = if i == 0 { " " } else { ", " };
                write!(f, "{sep}{:02}:{:02}-{:02}:{:02}", open / 60, open % 60, close / 60, close % 60)?;
            }
        }
        Ok(())
    }
}

fn weekday(date: Date) -> usize {
    usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0)
}

fn local(tz: &TimeZone, ms: Millis) -> Option<DateTime> {
    Timestamp::from_millisecond(ms).ok().map(|t| tz.to_datetime(t))
}

/// The instant of a local time: none for a time the clocks skip, the first for one that
/// happens twice.
fn instant(tz: &TimeZone, dt: DateTime) -> Option<Millis> {
    let ambiguous = tz.to_ambiguous_timestamp(dt);
    let offset = match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { offset } => offset,
        AmbiguousOffset::Gap { .. } => return None,
        AmbiguousOffset::Fold { before, .. } => before,
    };
    offset.to_timestamp(dt).ok().map(|t| t.as_millisecond())
}

fn parse_days(text: &str) -> Result<Vec<usize>, String> {
    let day = |name: &str| {
        DAY_NAMES.iter().position(|d| name.eq_ignore_ascii_case(d)).ok_or_else(|| {
            format!("`{name}` is not a day: use mon, tue, wed, thu, fri, sat, sun, a range like mon-fri, or daily")
        })
    };
    if text.eq_ignore_ascii_case("daily") {
        return Ok((0..7).collect());
    }
    let mut days = Vec::new();
    for item in text.split(',') {
        match item.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day(from.trim())?, day(to.trim())?);
                let mut d = from;
                loop {
                    days.push(d);
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days.push(day(item.trim())?),
        }
    }
    Ok(days)
}

fn parse_time(text: &str) -> Result<u16, String> {
    let text = text.trim();
    let bad = || format!("`{text}` is not a time: write HH:MM, like 09:30 or 24:00");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || m.to_string().len() > 2 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> Millis {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn berlin() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    #[test]
    fn parses_days_ranges_and_lists() {
        let h = OpeningHours::parse("mon-fri 11:00-22:00; sat-sun 12:00-23:00").unwrap();
        assert_eq!(
            h.to_string(),
            "mon 11:00-22:00; tue 11:00-22:00; wed 11:00-22:00; thu 11:00-22:00; fri 11:00-22:00; sat 12:00-23:00; sun 12:00-23:00"
        );
        let h = OpeningHours::parse("fri-mon 17:00-24:00; Wed 11:00-14:00, 17:00-22:00").unwrap();
        assert_eq!(
            h.to_string(),
            "mon 17:00-24:00; wed 11:00-14:00, 17:00-22:00; fri 17:00-24:00; sat 17:00-24:00; sun 17:00-24:00"
        );
        assert_eq!(OpeningHours::parse("daily 09:00-17:00").unwrap().days.iter().filter(|d| !d.is_empty()).count(), 7);
        for bad in ["", "mon", "mo 11:00-22:00", "mon 22:00-11:00", "mon 11-22", "mon 25:00-26:00", "mon 11:60-12:00"] {
            assert!(OpeningHours::parse(bad).is_err(), "{bad:?}");
        }
        assert!(OpeningHours::parse("mon 22:00-11:00").unwrap_err().contains("after the opening"));
    }

    #[test]
    fn slots_start_after_the_lead_within_hours_today_and_tomorrow() {
        let hours = OpeningHours::parse("mon-fri 11:00-13:00").unwrap();
        // Monday 30 Nov 2026, 11:50 in Berlin (UTC+1).
        let now = ms("2026-11-30T10:50:00Z");
        let slots = hours.slots(&berlin(), now);
        // Today 12:15 (the first after 12:10) to 12:45, tomorrow 11:00 to 12:45.
        assert_eq!(slots.first(), Some(&ms("2026-11-30T11:15:00Z")));
        assert_eq!(slots.len(), 3 + 8);
        assert_eq!(slots.last(), Some(&ms("2026-12-01T11:45:00Z")));
        assert_eq!(hours.check(&berlin(), ms("2026-11-30T11:15:00Z"), now), Ok(()));
        assert_eq!(hours.check(&berlin(), ms("2026-11-30T11:00:00Z"), now), Err(SlotError::TooSoon));
        assert_eq!(hours.check(&berlin(), ms("2026-11-29T11:00:00Z"), now), Err(SlotError::TooSoon));
        assert_eq!(hours.check(&berlin(), ms("2026-12-01T13:00:00Z"), now), Err(SlotError::Closed));
        assert_eq!(hours.check(&berlin(), ms("2026-12-01T11:05:00Z"), now), Err(SlotError::OffGrid));
        assert_eq!(hours.check(&berlin(), ms("2026-12-02T11:00:00Z"), now), Err(SlotError::TooFar));
        // Friday evening: tomorrow is Saturday, closed; nothing left today.
        assert!(hours.slots(&berlin(), ms("2026-12-04T12:00:00Z")).is_empty());
        assert_eq!(OpeningHours::default().check(&berlin(), now, now), Err(SlotError::NoSlots));
    }

    #[test]
    fn a_daylight_saving_day_keeps_local_hours_and_skips_the_missing_hour() {
        // Sunday 29 March 2026: Berlin's clocks go from 02:00 to 03:00 (UTC+1 to UTC+2).
        let hours = OpeningHours::parse("sat-sun 01:00-04:00, 12:00-12:30").unwrap();
        let now = ms("2026-03-28T22:00:00Z"); // Saturday 23:00 local
        let slots = hours.slots(&berlin(), now);
        let sunday: Vec<Millis> = slots.iter().copied().filter(|&s| s >= ms("2026-03-28T23:00:00Z")).collect();
        // 01:00-01:45 (4 slots, UTC+1), no 02:xx, 03:00-03:45 (4 slots, UTC+2), 12:00 and 12:15.
        assert_eq!(sunday.len(), 10);
        assert_eq!(sunday[3], ms("2026-03-29T00:45:00Z"));
        assert_eq!(sunday[4], ms("2026-03-29T01:00:00Z")); // 03:00 CEST directly after 01:45 CET
        assert_eq!(sunday[8], ms("2026-03-29T10:00:00Z")); // noon is 10:00 UTC in summer time
        // The day before, noon was 11:00 UTC.
        let saturday = hours.slots(&berlin(), ms("2026-03-28T05:00:00Z"));
        assert!(saturday.contains(&ms("2026-03-28T11:00:00Z")));

        // Sunday 25 October 2026: 02:00-03:00 happens twice; each slot is offered once.
        let autumn = hours.slots(&berlin(), ms("2026-10-24T21:00:00Z"));
        let night: Vec<Millis> = autumn.into_iter().filter(|&s| s < ms("2026-10-25T09:00:00Z")).collect();
        assert_eq!(night.len(), 12); // 01:00 to 03:45, each local time once
        assert!(night.contains(&ms("2026-10-25T00:00:00Z"))); // 02:00 CEST, the first 02:00
        assert!(!night.contains(&ms("2026-10-25T01:00:00Z"))); // 02:00 CET, the second
    }
}
