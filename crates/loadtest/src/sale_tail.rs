//! Why a waiting-room sale's last purchase came when it did (`loadtest --waiting-room`).
//!
//! An admission nobody uses holds its unit until the window it was let in by closes
//! (`admissionMinutes`); only then does the unit pass to the next person in line. Bots are
//! admitted like anyone (they joined) and never buy, so each bot ahead of the buyer furthest
//! back in line put off a unit by one window, and a unit passed on to another bot waits a
//! window more: the sale ends in waves a window apart.

use std::time::Duration;

/// A person's place in line and, if they bought, when (since the joins began).
pub struct Person {
    pub place: u64,
    pub bought_after: Option<Duration>,
}

#[derive(Default)]
pub struct Tail {
    /// Purchases in each minute since the joins began.
    per_minute: Vec<usize>,
    /// Bots placed ahead of the buyer furthest back in line: admitted, never bought.
    pub bots_ahead: usize,
    /// People placed ahead of that buyer who did not buy.
    pub people_ahead_unbought: usize,
    /// Bots whose place could not be asked after the sale (left out of `bots_ahead`).
    pub bots_unknown: usize,
}

impl Tail {
    /// From the people, the bots' places asked after the sale (`None`: the question failed).
    pub fn of(people: &[Person], bot_places: &[Option<u64>]) -> Tail {
        let bots_unknown = bot_places.iter().filter(|p| p.is_none()).count();
        let Some(furthest) = people.iter().filter(|p| p.bought_after.is_some()).map(|p| p.place).max() else {
            return Tail { bots_unknown, ..Tail::default() };
        };
        let mut per_minute = Vec::new();
        for after in people.iter().filter_map(|p| p.bought_after) {
            let minute = usize::try_from(after.as_secs() / 60).unwrap_or(usize::MAX);
            if per_minute.len() <= minute {
                per_minute.resize(minute + 1, 0);
            }
            per_minute[minute] += 1;
        }
        Tail {
            per_minute,
            bots_ahead: bot_places.iter().flatten().filter(|p| **p < furthest).count(),
            people_ahead_unbought: people.iter().filter(|p| p.bought_after.is_none() && p.place < furthest).count(),
            bots_unknown,
        }
    }

    /// "286 / 13 / 1", or "none".
    pub fn per_minute(&self) -> String {
        if self.per_minute.is_empty() {
            return "none".to_owned();
        }
        self.per_minute.iter().map(usize::to_string).collect::<Vec<_>>().join(" / ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(place: u64, secs: Option<u64>) -> Person {
        Person { place, bought_after: secs.map(Duration::from_secs) }
    }

    #[test]
    fn counts_the_waves_and_who_stood_ahead_of_the_buyer_furthest_back() {
        let people = [person(1, Some(5)), person(2, Some(30)), person(4, None), person(5, Some(95)), person(7, None)];
        let tail = Tail::of(&people, &[Some(3), Some(6), None]);
        assert_eq!(tail.per_minute(), "2 / 1");
        assert_eq!((tail.bots_ahead, tail.people_ahead_unbought, tail.bots_unknown), (1, 1, 1));
        assert_eq!(Tail::of(&[person(1, None)], &[]).per_minute(), "none");
    }
}
