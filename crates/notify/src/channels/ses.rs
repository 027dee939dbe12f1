//! Amazon SES v2 (feature `aws`): customer email with plain-text and HTML parts, rendered
//! from the same templates as the SMTP and dev-mailbox channels.

use crate::channels::MailChannel;
use crate::mail::{MailContext, Receipt};
use crate::{ChannelError, ConfigError, Event};
use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};

/// Sends customer email through SES.
pub struct SesChannel {
    client: aws_sdk_sesv2::Client,
    from: String,
    links: MailContext,
}

impl SesChannel {
    /// A channel sending from `from` (a verified SES identity).
    pub fn new(
        sdk: &aws_config::SdkConfig,
        from: &str,
        links: impl Into<MailContext>,
    ) -> Result<SesChannel, ConfigError> {
        if !from.contains('@') {
            return Err(ConfigError::invalid("mail from", from, "SES needs a sender address"));
        }
        Ok(SesChannel { client: aws_sdk_sesv2::Client::new(sdk), from: from.to_owned(), links: links.into() })
    }
}

fn content(data: String) -> Result<Content, ChannelError> {
    Content::builder().data(data).charset("UTF-8").build().map_err(|e| ChannelError::Rejected(e.to_string()))
}

#[async_trait]
impl MailChannel for SesChannel {
    const NAME: &'static str = "ses";

    fn links(&self) -> &MailContext {
        &self.links
    }

    async fn send_mail(&self, event: &Event, mail: Receipt) -> Result<(), ChannelError> {
        let message = Message::builder()
            .subject(content(mail.subject)?)
            .body(Body::builder().text(content(mail.text)?).html(content(mail.html)?).build())
            .build();
        // The tag lets bounce and delivery notifications be matched back to the event.
        let tag = MessageTag::builder()
            .name("eventId")
            .value(&event.id)
            .build()
            .map_err(|e| ChannelError::Rejected(e.to_string()))?;
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .email_tags(tag)
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                let why = aws_sdk_sesv2::error::DisplayErrorContext(&e).to_string();
                match e.as_service_error() {
                    Some(s) if s.is_bad_request_exception() || s.is_message_rejected() => ChannelError::Rejected(why),
                    Some(s)
                        if s.is_too_many_requests_exception()
                            || s.is_limit_exceeded_exception()
                            || matches!(
                                aws_sdk_sesv2::error::ProvideErrorMetadata::code(s),
                                Some("Throttling" | "ThrottlingException")
                            ) =>
                    {
                        ChannelError::Throttled(why)
                    }
                    _ => ChannelError::Retryable(why),
                }
            })
    }
}
