//! The shop as customers know it: its name, address and phone, shown on receipts and at
//! checkout (where to pick an order up).

use serde::{Deserialize, Serialize};

/// The shop's contact details, from settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopProfile {
    pub name: String,
    /// Street address, for pickup; empty when not set.
    pub address: String,
    /// Phone number customers may call; empty when not set.
    pub phone: String,
}

impl Default for ShopProfile {
    fn default() -> Self {
        ShopProfile { name: "Stampede Pizza".to_owned(), address: String::new(), phone: String::new() }
    }
}
