//! The channels events can go to, which ones run being configuration (`NotifyConfig`): what
//! every channel offers the relay (`Channel`), how setting one up or sending through it
//! fails, and one module per channel.

pub mod mail_channel;
pub mod mailbox;
#[cfg(feature = "aws")]
pub mod ses;
pub mod smtp;
#[cfg(feature = "aws")]
pub mod sns;
pub mod webhook;

pub use mail_channel::MailChannel;
pub use mailbox::MailboxChannel;
#[cfg(feature = "aws")]
pub use ses::SesChannel;
pub use smtp::SmtpChannel;
#[cfg(feature = "aws")]
pub use sns::SnsChannel;
pub use webhook::WebhookChannel;

use crate::Event;
use async_trait::async_trait;
use thiserror::Error;

/// Why a channel did not take an event.
#[derive(Debug, Error)]
pub enum ChannelError {
    /// Worth trying again later: the receiver is down, slow, or answered 5xx.
    #[error("{0}")]
    Retryable(String),
    /// Trying again cannot help (the address or request was refused outright); the event is parked at once.
    #[error("refused: {0}")]
    Rejected(String),
    /// The receiver asked to be sent less (a `429`, SES or SNS throttling, a sending quota
    /// used up): tried again later, however many attempts that takes, since nothing is wrong
    /// with the event. A sale's receipts through an SES account allowed 14 a second would
    /// otherwise use up their attempts and be parked.
    #[error("slowed down: {0}")]
    Throttled(String),
}

/// A notification setting that cannot work; reported at startup, before the shop opens.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("invalid {what} `{value}`: {why}")]
    Invalid { what: &'static str, value: String, why: String },
    #[error("{0}")]
    Missing(String),
}

impl ConfigError {
    /// An invalid value with the underlying reason.
    pub fn invalid(what: &'static str, value: &str, why: impl std::fmt::Display) -> ConfigError {
        ConfigError::Invalid { what, value: value.to_owned(), why: why.to_string() }
    }
}

/// A way to tell the world about an order event.
#[async_trait]
pub trait Channel: Send + Sync + 'static {
    /// A stable name, recorded per event so a retry skips channels that already took it.
    fn name(&self) -> &str;
    /// Whether this channel delivers events of `kind`. By default every order event, but not
    /// the one-time links of `customer.link` events: those are secrets for the recipient's
    /// inbox, so only mail channels take them.
    fn takes(&self, kind: &str) -> bool {
        kind != stampede_store::EMAIL_LINK_EVENT
    }
    /// Delivers one event. Must be safe to repeat: receivers de-duplicate on `event.id`.
    async fn send(&self, event: &Event) -> Result<(), ChannelError>;
}
