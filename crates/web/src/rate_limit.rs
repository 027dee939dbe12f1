//! Abuse limits on order placement: per client IP and per customer, answered with 429 and
//! `Retry-After`. A bot hammering the sale slows only itself, and memory stays bounded
//! because idle keys are forgotten.

use crate::Problem;
use axum::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// How many requests a key may make: a steady rate per second plus a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

/// A keyed limiter, or none when disabled.
struct Limiter<K: Hash + Eq + Clone>(Option<DefaultKeyedRateLimiter<K>>);

impl<K: Hash + Eq + Clone> Limiter<K> {
    fn new(rate: Option<Rate>) -> Self {
        Limiter(rate.and_then(|r| {
            let quota = Quota::per_second(NonZeroU32::new(r.per_second)?).allow_burst(NonZeroU32::new(r.burst.max(1))?);
            Some(RateLimiter::keyed(quota))
        }))
    }

    /// `Err(wait)` when `key` is over its rate.
    fn check(&self, key: &K) -> Result<(), Duration> {
        let Some(limiter) = &self.0 else { return Ok(()) };
        limiter.check_key(key).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets keys whose allowance has fully refilled.
    fn forget_idle(&self) {
        if let Some(limiter) = &self.0 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// The order-placement limits (or, [`OrderRateLimits::for_joins`], those on joining a waiting room).
pub struct OrderRateLimits {
    per_ip: Limiter<IpAddr>,
    per_customer: Limiter<String>,
    /// What is limited, as refusals name it.
    what: &'static str,
}

impl OrderRateLimits {
    /// Limits at the given rates; `None` turns a limit off.
    pub fn new(per_ip: Option<Rate>, per_customer: Option<Rate>) -> OrderRateLimits {
        OrderRateLimits { per_ip: Limiter::new(per_ip), per_customer: Limiter::new(per_customer), what: "orders" }
    }

    /// The same limits counting joins of a waiting room's line.
    pub fn for_joins(per_ip: Option<Rate>, per_customer: Option<Rate>) -> OrderRateLimits {
        OrderRateLimits { what: "joins", ..OrderRateLimits::new(per_ip, per_customer) }
    }

    /// No limits.
    pub fn off() -> OrderRateLimits {
        OrderRateLimits::new(None, None)
    }

    /// Checks the client's address (when known).
    pub fn check_ip(&self, ip: Option<IpAddr>) -> Result<(), Problem> {
        ip.map_or(Ok(()), |ip| self.per_ip.check(&ip).map_err(|wait| too_many(self.what, "this address", wait)))
    }

    /// Checks the customer placing the order.
    pub fn check_customer(&self, customer: &str) -> Result<(), Problem> {
        self.per_customer.check(&customer.to_owned()).map_err(|wait| too_many(self.what, "this customer", wait))
    }

    /// Drops idle keys; call periodically.
    pub fn forget_idle(&self) {
        self.per_ip.forget_idle();
        self.per_customer.forget_idle();
    }
}

fn too_many(what: &str, who: &str, wait: Duration) -> Problem {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let mut p = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        &format!("Too many {what}"),
        format!("too many {what} from {who}; nothing was done, try again in {secs} s"),
    );
    p.retry_after = Some(secs);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait() {
        let limits =
            OrderRateLimits::new(Some(Rate { per_second: 1, burst: 3 }), Some(Rate { per_second: 1, burst: 2 }));
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        assert!((0..3).all(|_| limits.check_ip(ip).is_ok()));
        let refused = limits.check_ip(ip).unwrap_err();
        assert_eq!((refused.status, refused.retry_after), (429, Some(1)));
        assert!(limits.check_ip(Some(IpAddr::from([10, 0, 0, 2]))).is_ok(), "other addresses are not affected");
        assert!(limits.check_ip(None).is_ok());
        assert!(limits.check_customer("a").is_ok() && limits.check_customer("a").is_ok());
        assert!(limits.check_customer("a").is_err());
        assert!(limits.check_customer("b").is_ok());
        let off = OrderRateLimits::off();
        assert!((0..100).all(|_| off.check_customer("a").is_ok()));
    }
}
