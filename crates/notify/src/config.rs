//! Which channels run, from configuration, and the one error type for getting that wrong.

use crate::channels::{MailboxChannel, SmtpChannel, WebhookChannel};
use crate::mail::MailContext;
use crate::{Channel, ConfigError};
use stampede_domain::{ShopProfile, Signer};
use stampede_store::Mailbox;
use std::sync::Arc;
use std::time::Duration;

/// Channel settings. With no SMTP server (and no SES) configured, customer email goes to
/// the dev mailbox instead, so a fresh install shows receipts without any mail server.
#[derive(Debug, Clone, Default)]
pub struct NotifyConfig {
    /// `smtp://host:port`: send customer email over SMTP.
    pub smtp_url: Option<String>,
    /// Sender address of customer email.
    pub mail_from: String,
    /// Base URL of the shop for links in email, e.g. `https://pizza.example`.
    pub public_url: String,
    /// URLs that receive every event as a signed JSON POST.
    pub webhook_urls: Vec<String>,
    /// HMAC key for webhook signatures; required with webhooks.
    pub webhook_secret: Option<String>,
    /// Longest one channel may take for one event.
    pub send_timeout: Duration,
    /// SNS topic that receives every event (feature `aws`).
    pub sns_topic_arn: Option<String>,
    /// Send customer email through SES v2 (feature `aws`).
    pub ses: bool,
    /// Endpoint override for AWS (a local moto server in tests).
    pub aws_endpoint_url: Option<String>,
    /// The server's signing secret, so receipts link to the order with its access key.
    pub signer: Option<Signer>,
    /// The shop's name, address and phone, on every receipt.
    pub shop: ShopProfile,
    /// The shop's time zone, for pickup and delivery times in receipts (UTC if `None`).
    pub zone: Option<jiff::tz::TimeZone>,
}

impl NotifyConfig {
    /// Whether customer email goes to the dev mailbox (no real mail channel configured).
    pub fn dev_mailbox(&self) -> bool {
        self.smtp_url.is_none() && !self.ses
    }

    fn links(&self) -> MailContext {
        MailContext {
            public_url: self.public_url.clone(),
            signer: self.signer.clone(),
            shop: self.shop.clone(),
            zone: self.zone.clone(),
        }
    }

    /// Builds the configured channels. `mailbox` backs the dev mailbox.
    pub async fn channels(&self, mailbox: Arc<dyn Mailbox>) -> Result<Vec<Arc<dyn Channel>>, ConfigError> {
        let mut channels: Vec<Arc<dyn Channel>> = Vec::new();
        if self.dev_mailbox() {
            channels.push(Arc::new(MailboxChannel::new(mailbox, self.links())));
        }
        if let Some(url) = &self.smtp_url {
            channels.push(Arc::new(SmtpChannel::new(url, &self.mail_from, self.links(), self.send_timeout)?));
        }
        if !self.webhook_urls.is_empty() {
            let secret = self.webhook_secret.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| {
                ConfigError::Missing("webhooks need a signing secret: set STAMPEDE_WEBHOOK_SECRET".into())
            })?;
            for url in &self.webhook_urls {
                channels.push(Arc::new(WebhookChannel::new(url, secret, self.send_timeout)?));
            }
        }
        self.aws_channels(&mut channels).await?;
        Ok(channels)
    }

    #[cfg(feature = "aws")]
    async fn aws_channels(&self, channels: &mut Vec<Arc<dyn Channel>>) -> Result<(), ConfigError> {
        if self.sns_topic_arn.is_none() && !self.ses {
            return Ok(());
        }
        let sdk = crate::channels::sns::sdk_config(self.aws_endpoint_url.as_deref(), self.send_timeout).await;
        if let Some(topic) = &self.sns_topic_arn {
            channels.push(Arc::new(crate::channels::SnsChannel::new(&sdk, topic, &self.public_url)));
        }
        if self.ses {
            channels.push(Arc::new(crate::channels::SesChannel::new(&sdk, &self.mail_from, self.links())?));
        }
        Ok(())
    }

    #[cfg(not(feature = "aws"))]
    async fn aws_channels(&self, _: &mut Vec<Arc<dyn Channel>>) -> Result<(), ConfigError> {
        if self.sns_topic_arn.is_some() || self.ses {
            return Err(ConfigError::Missing(
                "SNS and SES need a build with the `aws` feature (cargo build --features aws)".into(),
            ));
        }
        Ok(())
    }
}
