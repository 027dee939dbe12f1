//! Sign-in abuse limits: a rate per client address (429 with `Retry-After`), and a lockout
//! of an email *from one address* after repeated wrong passwords, growing with each lockout.
//! Locking per (email, address) means someone who knows a staff email cannot keep its owner
//! out: their wrong guesses lock only their own address. Both live in memory: they slow
//! guessing on this server, and a restart forgetting them costs an attacker a restart's
//! worth of tries. Lockouts are kept for every email tried, with or without an account, so
//! a lockout does not reveal who has one.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How sign-ins are limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Sign-in attempts one address may make per minute (also its burst); 0 turns it off.
    pub per_ip_per_minute: u32,
    /// Wrong passwords in a row, for one email from one address, that lock that pair; 0
    /// turns lockout off.
    pub lockout_after: u32,
    /// How long the first lockout lasts; each further wrong password after a lockout locks
    /// again for twice as long, up to [`MAX_LOCKOUT`].
    pub lockout_for: Duration,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy { per_ip_per_minute: 10, lockout_after: 5, lockout_for: Duration::from_secs(15 * 60) }
    }
}

/// Why a sign-in attempt is not even checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many attempts from this address; try again after the wait.
    RateLimited(Duration),
    /// This email is locked from this address after repeated failures; try again after the wait.
    LockedOut(Duration),
}

/// The longest a lockout grows to.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    /// Lockouts so far: the next one lasts `lockout_for × 2^locks`.
    locks: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// Failures are counted per email and client address.
type Attempter = (String, Option<IpAddr>);

/// The sign-in limits in force.
pub struct LoginLimits {
    policy: LoginPolicy,
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    failures: Mutex<HashMap<Attempter, Failures>>,
}

impl LoginLimits {
    /// Limits under `policy`.
    pub fn new(policy: LoginPolicy) -> LoginLimits {
        let per_ip = NonZeroU32::new(policy.per_ip_per_minute).map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        LoginLimits { policy, per_ip, failures: Mutex::default() }
    }

    /// Whether a request from `ip` fits its address's allowance. Counts against it.
    pub fn admit_address(&self, ip: Option<IpAddr>) -> Result<(), Refusal> {
        if let (Some(limiter), Some(ip)) = (&self.per_ip, ip) {
            limiter
                .check_key(&ip)
                .map_err(|not_until| Refusal::RateLimited(not_until.wait_time_from(DefaultClock::default().now())))?;
        }
        Ok(())
    }

    /// Whether an attempt for `email` from `ip` may be checked now. Counts against the address.
    pub fn admit(&self, ip: Option<IpAddr>, email: &str) -> Result<(), Refusal> {
        self.admit_address(ip)?;
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match failures.get(&(email.to_owned(), ip)).and_then(|f| f.locked_until) {
            Some(until) if until > Instant::now() => Err(Refusal::LockedOut(until - Instant::now())),
            _ => Ok(()),
        }
    }

    /// Records a wrong password for `email` from `ip`; returns the lockout it started, if it did.
    pub fn failed(&self, email: &str, ip: Option<IpAddr>) -> Option<Duration> {
        if self.policy.lockout_after == 0 {
            return None;
        }
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let entry = failures.entry((email.to_owned(), ip)).or_insert(Failures {
            count: 0,
            locks: 0,
            last: now,
            locked_until: None,
        });
        entry.count += 1;
        entry.last = now;
        if entry.count < self.policy.lockout_after {
            return None;
        }
        // Locked; after it runs out, the next wrong password locks again, twice as long.
        let lock = self.policy.lockout_for.saturating_mul(1 << entry.locks.min(16)).min(MAX_LOCKOUT);
        entry.locks += 1;
        entry.count = self.policy.lockout_after - 1;
        entry.locked_until = Some(now + lock);
        Some(lock)
    }

    /// Clears the failures of `email` from `ip` after a right password.
    pub fn succeeded(&self, email: &str, ip: Option<IpAddr>) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(&(email.to_owned(), ip));
    }

    /// Forgets addresses whose allowance refilled and failures older than a lockout; call periodically.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.per_ip {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = Instant::now();
        let keep_for = self.policy.lockout_for.saturating_mul(4).min(MAX_LOCKOUT);
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, f| f.locked_until.is_some_and(|u| u > now) || now.duration_since(f.last) < keep_for);
    }
}

/// Whole seconds to wait, at least one, for `Retry-After`.
pub fn retry_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_failures_lock_the_email_from_that_address_for_growing_times() {
        let limits = LoginLimits::new(LoginPolicy {
            per_ip_per_minute: 0,
            lockout_after: 3,
            lockout_for: Duration::from_millis(100),
        });
        let (attacker, owner) = (Some(IpAddr::from([10, 0, 0, 66])), Some(IpAddr::from([10, 0, 0, 1])));
        assert_eq!(limits.failed("a@x.io", attacker), None);
        limits.succeeded("a@x.io", attacker);
        assert_eq!(limits.failed("a@x.io", attacker), None, "a success resets the count");
        assert_eq!(limits.failed("a@x.io", attacker), None);
        assert_eq!(limits.failed("a@x.io", attacker), Some(Duration::from_millis(100)));
        assert!(matches!(limits.admit(attacker, "a@x.io"), Err(Refusal::LockedOut(_))));
        assert_eq!(limits.admit(owner, "a@x.io"), Ok(()), "the owner's address is not locked out");
        assert_eq!(limits.admit(attacker, "b@x.io"), Ok(()), "other emails are not affected");
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(limits.admit(attacker, "a@x.io"), Ok(()));
        assert_eq!(limits.failed("a@x.io", attacker), Some(Duration::from_millis(200)), "locked again, twice as long");
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(limits.failed("a@x.io", attacker), Some(Duration::from_millis(400)));
    }

    #[test]
    fn each_address_gets_its_attempts_per_minute() {
        let limits = LoginLimits::new(LoginPolicy { per_ip_per_minute: 2, ..LoginPolicy::default() });
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        assert!(limits.admit(ip, "a").is_ok() && limits.admit(ip, "b").is_ok());
        let Err(Refusal::RateLimited(wait)) = limits.admit(ip, "c") else { panic!("third attempt admitted") };
        assert!(retry_secs(wait) >= 1 && retry_secs(wait) <= 30, "{wait:?}");
        assert!(limits.admit(Some(IpAddr::from([10, 0, 0, 2])), "a").is_ok());
        assert!(limits.admit(None, "a").is_ok(), "unknown addresses are not limited");
    }
}
