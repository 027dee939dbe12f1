//! The dev mailbox: customer emails are stored in the database and shown at `/dev/mailbox`,
//! so a new user sees their receipt without running a mail server.

use crate::mail::MailContext;
use crate::receipt;
use crate::{Channel, ChannelError, Event};
use async_trait::async_trait;
use stampede_store::{Mailbox, NewMail};
use std::sync::Arc;

/// Writes customer emails to the store's mailbox table.
pub struct MailboxChannel {
    mailbox: Arc<dyn Mailbox>,
    links: MailContext,
}

impl MailboxChannel {
    /// A mailbox channel whose links point at `links`.
    pub fn new(mailbox: Arc<dyn Mailbox>, links: impl Into<MailContext>) -> MailboxChannel {
        MailboxChannel { mailbox, links: links.into() }
    }
}

#[async_trait]
impl Channel for MailboxChannel {
    fn name(&self) -> &str {
        "mailbox"
    }

    fn takes(&self, _kind: &str) -> bool {
        true
    }

    async fn send(&self, event: &Event) -> Result<(), ChannelError> {
        let rendered = receipt::render(event, &self.links).map_err(|e| ChannelError::Rejected(e.to_string()))?;
        let Some(mail) = rendered else { return Ok(()) };
        let mail = NewMail {
            event_id: event.id.clone(),
            recipient: mail.to,
            subject: mail.subject,
            text_body: mail.text,
            html_body: mail.html,
        };
        // The store ignores a second message for the same event, so a resend shows once.
        self.mailbox.store_mail(mail).await.map_err(|e| ChannelError::Retryable(e.to_string()))
    }
}
