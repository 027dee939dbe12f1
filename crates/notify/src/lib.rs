//! Stampede's notifications: the outbox relay and the channels it delivers to (dev
//! mailbox, SMTP email, webhooks, and with the `aws` feature SNS and SES).
//!
//! Events are written by the store in the same transaction as the order change they
//! announce; the relay claims due events under a lease, hands each to every channel,
//! and settles it as delivered, retried later (exponential backoff with jitter) or parked.

pub mod backoff;
pub mod channels;
pub mod config;
pub mod event;
pub mod link_mail;
pub mod mail;
pub mod receipt;
pub mod relay;
pub mod sns_message;

pub use backoff::Backoff;
pub use channels::{Channel, ChannelError, ConfigError};
pub use config::NotifyConfig;
pub use event::Event;
pub use relay::{Relay, RelayConfig, RelayHandle};
