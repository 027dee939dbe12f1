//! Shop-wide settings the pages follow, chosen by the owner at start (`stampede serve --help`,
//! heading "Shop").

use crate::shop_time::ShopZone;

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
}
