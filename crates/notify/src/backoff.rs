//! Retry delays: exponential with jitter, so a receiver that comes back is not hit by every
//! waiting event at the same instant.

use std::time::Duration;

/// Exponential backoff: attempt `n` waits between half and all of `base * 2^(n-1)`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_secs(2), max: Duration::from_secs(15 * 60) }
    }
}

impl Backoff {
    /// The delay after failed attempt `attempt` (1-based), with random jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, rand::random::<f64>())
    }

    /// The delay for a given jitter in `[0, 1)`: "equal jitter" keeps at least half the
    /// exponential delay, so retries still slow down, and spreads the other half.
    pub fn delay_with(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let ceiling = self.base.saturating_mul(1u32 << exponent).min(self.max);
        let half = ceiling / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_and_stay_within_jitter_bounds() {
        let b = Backoff { base: Duration::from_millis(100), max: Duration::from_secs(10) };
        assert_eq!(b.delay_with(1, 0.0), Duration::from_millis(50));
        assert_eq!(b.delay_with(1, 1.0), Duration::from_millis(100));
        assert_eq!(b.delay_with(3, 0.0), Duration::from_millis(200));
        assert_eq!(b.delay_with(3, 1.0), Duration::from_millis(400));
        for attempt in 1..=8 {
            let d = b.delay(attempt);
            let ceiling = Duration::from_millis(100 * (1 << (attempt - 1))).min(b.max);
            assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn delays_are_capped_and_never_overflow() {
        let b = Backoff { base: Duration::from_secs(1), max: Duration::from_secs(60) };
        assert_eq!(b.delay_with(40, 1.0), Duration::from_secs(60));
        assert_eq!(b.delay_with(u32::MAX, 0.0), Duration::from_secs(30));
        assert_eq!(b.delay_with(0, 1.0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_spreads_retries() {
        let b = Backoff { base: Duration::from_secs(8), max: Duration::from_secs(60) };
        let delays: std::collections::HashSet<_> = (0..20).map(|_| b.delay(2)).collect();
        assert!(delays.len() > 1, "20 delays were all equal: no jitter");
    }
}
