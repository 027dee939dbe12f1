//! Shop-wide settings the pages follow, chosen by the owner at start (`stampede serve --help`,
//! heading "Shop").

use crate::shop_time::ShopZone;
use stampede_domain::{LimitKeyRules, Millis, OpeningHours, ValidationError};
use stampede_store::Role;

/// How this shop runs its pages.
#[derive(Debug, Clone, Default)]
pub struct ShopSettings {
    /// The zone the dashboard takes and shows times in, and no-JS pages name (default UTC).
    pub zone: ShopZone,
    /// Whether kitchen staff may cancel orders. Off by default: cancelling returns stock and
    /// tells the customer, so it is an admin's call unless the owner trusts the kitchen with it.
    pub kitchen_can_cancel: bool,
    /// The shop's name, address and phone, in the header and footer and at checkout.
    pub profile: stampede_domain::ShopProfile,
    /// When the shop is open, in `zone`: the pickup and delivery slots customers may choose.
    /// Without hours, orders are for as soon as possible only.
    pub opening_hours: Option<OpeningHours>,
    /// How per-customer limits key an email: `+tag` dropped always, Gmail's dots on request.
    pub limit_keys: LimitKeyRules,
}

impl ShopSettings {
    /// Whether staff with `role` may cancel orders in this shop: admins, and the kitchen
    /// when the owner allows it (`--kitchen-can-cancel`).
    pub fn may_cancel(&self, role: Role) -> bool {
        match role {
            Role::Admin => true,
            Role::Kitchen => self.kitchen_can_cancel,
            Role::Customer => false,
        }
    }

    /// The slots a customer may choose from now on (none without opening hours).
    pub fn slots(&self, now: Millis) -> Vec<Millis> {
        self.opening_hours.as_ref().map(|h| h.slots(self.zone.tz(), now)).unwrap_or_default()
    }

    /// Checks a chosen slot against the opening hours; `None` (as soon as possible) always passes.
    pub fn check_slot(&self, slot: Option<Millis>, now: Millis) -> Result<(), ValidationError> {
        let Some(slot) = slot else { return Ok(()) };
        let empty = OpeningHours::default();
        let hours = self.opening_hours.as_ref().unwrap_or(&empty);
        hours.check(self.zone.tz(), slot, now).map_err(|e| ValidationError::new("fulfilment.slot", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_cancel_unless_the_owner_trusts_the_kitchen() {
        let strict = ShopSettings::default();
        let trusting = ShopSettings { kitchen_can_cancel: true, ..ShopSettings::default() };
        assert!(strict.may_cancel(Role::Admin));
        assert!(!strict.may_cancel(Role::Kitchen));
        assert!(trusting.may_cancel(Role::Kitchen));
        assert!(!trusting.may_cancel(Role::Customer));
    }
}
