//! The dev mailbox: customer emails are stored in the database and shown at `/dev/mailbox`,
//! so a new user sees their receipt without running a mail server.

use crate::channels::MailChannel;
use crate::mail::{MailContext, Receipt};
use crate::{ChannelError, Event};
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
impl MailChannel for MailboxChannel {
    const NAME: &'static str = "mailbox";

    fn links(&self) -> &MailContext {
        &self.links
    }

    async fn send_mail(&self, event: &Event, mail: Receipt) -> Result<(), ChannelError> {
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
