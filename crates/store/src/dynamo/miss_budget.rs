//! A budget for reads the catalog snapshot cannot answer.

use std::time::{Duration, Instant};

/// Table reads allowed for products the menu snapshot lacks: `PER_SECOND` a second per
/// instance, more than staff and buyers of a just-made product need.
pub(super) struct MissBudget {
    window: Instant,
    used: u32,
}

impl MissBudget {
    const PER_SECOND: u32 = 20;

    pub(super) fn new() -> MissBudget {
        MissBudget { window: Instant::now(), used: 0 }
    }

    /// Whether one more read fits in this second's budget (and counts it if so).
    pub(super) fn take(&mut self) -> bool {
        if self.window.elapsed() >= Duration::from_secs(1) {
            *self = MissBudget::new();
        }
        self.used = self.used.saturating_add(1);
        self.used <= Self::PER_SECOND
    }
}
