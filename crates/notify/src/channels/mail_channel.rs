//! What the three email channels (SMTP, SES, dev mailbox) share: each takes every event,
//! one-time links included, renders the customer's email from the same templates, and
//! skips an event with no one to mail. Each says only how one rendered email leaves.

use crate::mail::{MailContext, Receipt};
use crate::receipt;
use crate::{Channel, ChannelError, Event};
use async_trait::async_trait;

/// An email channel: the relay sees it as a [`Channel`] through the impl below.
#[async_trait]
pub trait MailChannel: Send + Sync + 'static {
    /// The channel's stable name (see [`Channel::name`]).
    const NAME: &'static str;
    /// Where the email's links point.
    fn links(&self) -> &MailContext;
    /// Sends one rendered email for `event`. Must be safe to repeat, as [`Channel::send`].
    async fn send_mail(&self, event: &Event, mail: Receipt) -> Result<(), ChannelError>;
}

#[async_trait]
impl<T: MailChannel> Channel for T {
    fn name(&self) -> &str {
        T::NAME
    }

    /// Every kind: one-time links are for the recipient's inbox, which is where mail goes.
    fn takes(&self, _kind: &str) -> bool {
        true
    }

    async fn send(&self, event: &Event) -> Result<(), ChannelError> {
        let rendered = receipt::render(event, self.links()).map_err(|e| ChannelError::Rejected(e.to_string()))?;
        let Some(mail) = rendered else { return Ok(()) };
        self.send_mail(event, mail).await
    }
}
