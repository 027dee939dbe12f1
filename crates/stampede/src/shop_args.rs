//! `stampede serve` flags for how the shop's pages behave (heading "Shop").

use clap::Args;
use stampede_web::shop::ShopSettings;
use stampede_web::shop_time::ShopZone;

/// The owner's settings for the shop's pages.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Shop")]
pub struct ShopArgs {
    /// Let kitchen staff cancel orders. Off by default: cancelling returns stock and tells the
    /// customer, so only admins may.
    #[arg(long, env = "STAMPEDE_KITCHEN_CAN_CANCEL")]
    pub kitchen_can_cancel: bool,
    /// The shop's time zone, an IANA name such as `Europe/Berlin`: the dashboard takes and
    /// shows times in it, and pages read without JavaScript name it. Storage stays UTC.
    #[arg(long, env = "STAMPEDE_SHOP_TIMEZONE", default_value = "UTC", value_parser = ShopZone::named)]
    pub shop_timezone: ShopZone,
}

impl ShopArgs {
    /// The settings the web layer runs with.
    pub fn settings(&self) -> ShopSettings {
        ShopSettings { zone: self.shop_timezone.clone(), kitchen_can_cancel: self.kitchen_can_cancel }
    }
}
