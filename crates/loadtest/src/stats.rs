//! Outcome classes, latency percentiles and throughput.

use std::time::Duration;

/// How the server answered one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Accepted,
    Replayed,
    SoldOut,
    LimitRefused,
    Busy,
    Ok,
    Error,
}

/// One answered request: its outcome, latency, and when it finished (since the phase began).
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub outcome: Outcome,
    pub latency: Duration,
    pub finished: Duration,
}

/// Latency summary of a set of samples, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// Summarises the latencies of `samples` with `outcome`.
    pub fn of(samples: &[Sample], outcome: Outcome) -> Latency {
        let mut micros: Vec<u128> =
            samples.iter().filter(|s| s.outcome == outcome).map(|s| s.latency.as_micros()).collect();
        micros.sort_unstable();
        let pick = |q: f64| -> f64 {
            if micros.is_empty() {
                return 0.0;
            }
            let idx = ((micros.len() as f64 * q).ceil() as usize).clamp(1, micros.len()) - 1;
            micros[idx] as f64 / 1000.0
        };
        Latency { count: micros.len(), p50: pick(0.50), p90: pick(0.90), p99: pick(0.99), max: pick(1.0) }
    }
}

/// Requests per second of `count` requests over `elapsed`.
pub fn rate(count: usize, elapsed: Duration) -> f64 {
    if elapsed.is_zero() { 0.0 } else { count as f64 / elapsed.as_secs_f64() }
}

/// The median of some figures (the mean of the middle two for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: u64) -> Sample {
        Sample { outcome: Outcome::Accepted, latency: Duration::from_millis(ms), finished: Duration::ZERO }
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples: Vec<Sample> = (1..=100).map(sample).collect();
        let l = Latency::of(&samples, Outcome::Accepted);
        assert_eq!((l.count, l.p50, l.p90, l.p99, l.max), (100, 50.0, 90.0, 99.0, 100.0));
        assert_eq!(Latency::of(&samples, Outcome::Busy), Latency::default());
    }

    #[test]
    fn medians_and_rates() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(rate(10, Duration::from_secs(2)), 5.0);
        assert_eq!(rate(10, Duration::ZERO), 0.0);
    }
}
