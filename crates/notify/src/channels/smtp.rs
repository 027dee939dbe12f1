//! Customer email over SMTP: a multipart/alternative message (plain text and HTML) whose
//! Message-ID is derived from the event id, so a resent event is recognisably the same mail.

use crate::channels::MailChannel;
use crate::mail::{MailContext, Receipt};
use crate::{ChannelError, ConfigError, Event};
use async_trait::async_trait;
use lettre::message::{Mailbox as Address, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// Sends receipts and status updates through an SMTP server.
pub struct SmtpChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Address,
    links: MailContext,
}

impl SmtpChannel {
    /// Connects lazily to `url` (`smtp://host:port`, optionally `smtp://user:pass@host:port`).
    /// This build speaks plain SMTP only: point it at a local relay or a sink.
    pub fn new(
        url: &str,
        from: &str,
        links: impl Into<MailContext>,
        timeout: Duration,
    ) -> Result<SmtpChannel, ConfigError> {
        let from: Address = from.parse().map_err(|e| ConfigError::invalid("mail from", from, e))?;
        let parsed = reqwest::Url::parse(url).map_err(|e| ConfigError::invalid("SMTP URL", url, e))?;
        let host = parsed.host_str().filter(|h| !h.is_empty());
        let (Some(host), "smtp") = (host, parsed.scheme()) else {
            return Err(ConfigError::invalid(
                "SMTP URL",
                url,
                "expected smtp://host:port (this build speaks plain SMTP only)",
            ));
        };
        // No TLS in this build, to keep the dependency tree lean: meant for a local relay
        // (Postfix on the host, a sidecar) or a test sink.
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(parsed.port().unwrap_or(25))
            .timeout(Some(timeout));
        if !parsed.username().is_empty() {
            let password = parsed.password().unwrap_or_default();
            builder = builder.credentials(Credentials::new(parsed.username().to_owned(), password.to_owned()));
        }
        let transport = builder.build();
        Ok(SmtpChannel { transport, from, links: links.into() })
    }

    fn message(&self, event: &Event, mail: Receipt) -> Result<Message, ChannelError> {
        let to: Address =
            mail.to.parse().map_err(|e| ChannelError::Rejected(format!("recipient `{}`: {e}", mail.to)))?;
        let domain = self.from.email.domain().to_owned();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .message_id(Some(format!("<{}@{domain}>", event.id)))
            .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
            .map_err(|e| ChannelError::Rejected(e.to_string()))
    }
}

#[async_trait]
impl MailChannel for SmtpChannel {
    const NAME: &'static str = "smtp";

    fn links(&self) -> &MailContext {
        &self.links
    }

    async fn send_mail(&self, event: &Event, mail: Receipt) -> Result<(), ChannelError> {
        let message = self.message(event, mail)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            // 5xx from the server (unknown mailbox, refused sender) will not change on retry.
            Err(e) if e.is_permanent() => Err(ChannelError::Rejected(e.to_string())),
            Err(e) => Err(ChannelError::Retryable(e.to_string())),
        }
    }
}
