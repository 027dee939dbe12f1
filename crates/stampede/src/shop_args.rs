//! `stampede serve` flags for how the shop's pages behave (heading "Shop").

use clap::Args;
use stampede_web::shop::ShopSettings;

/// The owner's settings for the shop's pages.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Shop")]
pub struct ShopArgs {
    /// Let kitchen staff cancel orders. Off by default: cancelling returns stock and tells the
    /// customer, so only admins may.
    #[arg(long, env = "STAMPEDE_KITCHEN_CAN_CANCEL")]
    pub kitchen_can_cancel: bool,
}

impl ShopArgs {
    /// The settings the web layer runs with.
    pub fn settings(&self) -> anyhow::Result<ShopSettings> {
        Ok(ShopSettings { kitchen_can_cancel: self.kitchen_can_cancel })
    }
}
