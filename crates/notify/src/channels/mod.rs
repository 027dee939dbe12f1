//! The channels events can go to; which ones run is configuration (`NotifyConfig`).

pub mod mailbox;
#[cfg(feature = "aws")]
pub mod ses;
pub mod smtp;
#[cfg(feature = "aws")]
pub mod sns;
pub mod webhook;

pub use mailbox::MailboxChannel;
#[cfg(feature = "aws")]
pub use ses::SesChannel;
pub use smtp::SmtpChannel;
#[cfg(feature = "aws")]
pub use sns::SnsChannel;
pub use webhook::WebhookChannel;
