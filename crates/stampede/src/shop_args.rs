//! `stampede serve` flags for the shop itself (heading "Shop"): how its pages behave, and
//! its name, address and phone.

use clap::Args;
use stampede_domain::{LimitKeyRules, OpeningHours, ShopProfile};
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
    /// The shop's name on pages and receipts.
    #[arg(long, env = "STAMPEDE_SHOP_NAME", default_value = "Stampede Pizza")]
    pub shop_name: String,
    /// Street address, for pickup (shown at checkout, in the footer and on receipts).
    #[arg(long, env = "STAMPEDE_SHOP_ADDRESS", default_value = "")]
    pub shop_address: String,
    /// Phone number customers may call (footer and receipts).
    #[arg(long, env = "STAMPEDE_SHOP_PHONE", default_value = "")]
    pub shop_phone: String,
    /// Opening hours in the shop's time zone, such as `mon-fri 11:00-22:00; sat-sun 12:00-23:00`
    /// (days `mon`..`sun`, ranges like `fri-sun`, lists like `mon,wed`, or `daily`; several
    /// times a day as `11:00-14:00, 17:00-22:00`; `24:00` is midnight). Customers may then
    /// choose a pickup or delivery time every 15 minutes while open, today or tomorrow;
    /// without hours, orders are for as soon as possible only.
    #[arg(long, env = "STAMPEDE_OPENING_HOURS", value_parser = OpeningHours::parse)]
    pub opening_hours: Option<OpeningHours>,
    /// Per-customer limits (and the per-customer order rate) count Gmail addresses without
    /// their dots, and googlemail.com as gmail.com, so `s.a.m@gmail.com` shares `sam@gmail.com`'s
    /// limit. A `+tag` (`sam+2@example.com`) is always dropped from the limit key. Receipts
    /// still go to the address as typed.
    #[arg(long, env = "STAMPEDE_LIMIT_KEY_GMAIL_DOTS")]
    pub limit_key_gmail_dots: bool,
}

impl ShopArgs {
    /// The settings the web layer runs with.
    pub fn settings(&self) -> ShopSettings {
        ShopSettings {
            zone: self.shop_timezone.clone(),
            kitchen_can_cancel: self.kitchen_can_cancel,
            profile: self.profile(),
            opening_hours: self.opening_hours.clone(),
            limit_keys: LimitKeyRules { gmail_dots: self.limit_key_gmail_dots },
        }
    }

    /// The shop as customers know it, for receipts.
    pub fn profile(&self) -> ShopProfile {
        ShopProfile {
            name: self.shop_name.trim().to_owned(),
            address: self.shop_address.trim().to_owned(),
            phone: self.shop_phone.trim().to_owned(),
        }
    }
}
