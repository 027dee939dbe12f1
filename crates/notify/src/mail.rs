//! What every customer email shares: where its links point ([`MailContext`]) and the
//! rendered message a mail channel sends ([`Receipt`]). The receipt and the link email are
//! rendered in `receipt.rs` and `link_mail.rs`.

use stampede_domain::signing::ORDER_ACCESS;
use stampede_domain::{ShopProfile, Signer};

/// Where links in email point: the shop's public URL and, when the server's signing
/// secret is known, the order's access key, so the receipt's link shows the customer their
/// details and lets them cancel (see `stampede_web::auth::order_access`).
#[derive(Debug, Clone, Default)]
pub struct MailContext {
    pub public_url: String,
    pub signer: Option<Signer>,
    /// The shop's name, address and phone, at the foot of every receipt.
    pub shop: ShopProfile,
    /// The shop's time zone, which a chosen pickup or delivery time is told in (UTC if `None`).
    pub zone: Option<jiff::tz::TimeZone>,
}

impl MailContext {
    /// A time as the receipt tells it: `Mon 30 Nov 2026, 18:15 CET`.
    pub(crate) fn time_label(&self, ms: stampede_domain::Millis) -> String {
        let zone = self.zone.clone().unwrap_or(jiff::tz::TimeZone::UTC);
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_zoned(zone).strftime("%a %-d %b %Y, %H:%M %Z").to_string())
            .unwrap_or_default()
    }

    /// The URL of `path` on the shop.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.trim_end_matches('/'))
    }

    /// The order's page, with its access key when one can be signed.
    pub fn order(&self, id: &str) -> String {
        match &self.signer {
            Some(signer) => self.url(&format!("/orders/{id}?key={}", signer.sign(ORDER_ACCESS, id))),
            None => self.url(&format!("/orders/{id}")),
        }
    }
}

impl From<&str> for MailContext {
    fn from(public_url: &str) -> MailContext {
        MailContext { public_url: public_url.to_owned(), ..MailContext::default() }
    }
}

/// A rendered email, ready for any mail channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}
