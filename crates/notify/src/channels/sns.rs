//! Amazon SNS (feature `aws`): every event is published to a topic with a message per protocol
//! (`sns_message`): the JSON event for machines, a short text for email subscribers, under a
//! subject naming the order; the event id is a message attribute (and the deduplication id on
//! FIFO topics).

use crate::{Channel, ChannelError, Event};
use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::Region;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use std::time::Duration;

/// AWS settings loaded the usual way (environment, profile, instance role) with a
/// rustls/ring HTTP client and an optional endpoint override. Returned unloaded so callers
/// (tests) can adjust it further.
pub fn sdk_loader(endpoint_url: Option<&str>, timeout: Duration) -> aws_config::ConfigLoader {
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(TimeoutConfig::builder().operation_timeout(timeout).build());
    match endpoint_url {
        Some(url) => loader.endpoint_url(url),
        None => loader,
    }
}

/// [`sdk_loader`], loaded, in `us-east-1` when nothing names a region.
pub async fn sdk_config(endpoint_url: Option<&str>, timeout: Duration) -> aws_config::SdkConfig {
    let sdk = sdk_loader(endpoint_url, timeout).load().await;
    if sdk.region().is_some() {
        return sdk;
    }
    sdk.into_builder().region(Region::new("us-east-1")).build()
}

/// Publishes every event to one SNS topic.
pub struct SnsChannel {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    /// The shop's base URL, for the order link in the email text.
    public_url: String,
}

impl SnsChannel {
    /// A channel publishing to `topic_arn`; email text links to orders under `public_url`.
    pub fn new(sdk: &aws_config::SdkConfig, topic_arn: &str, public_url: &str) -> SnsChannel {
        SnsChannel {
            client: aws_sdk_sns::Client::new(sdk),
            topic_arn: topic_arn.to_owned(),
            public_url: public_url.to_owned(),
        }
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, ChannelError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| ChannelError::Rejected(e.to_string()))
}

#[async_trait]
impl Channel for SnsChannel {
    fn name(&self) -> &str {
        "sns"
    }

    async fn send(&self, event: &Event) -> Result<(), ChannelError> {
        let sns = crate::sns_message::render(event, &self.public_url);
        let mut publish = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message_structure("json")
            .message(sns.message)
            .subject(sns.subject)
            .message_attributes("eventId", attribute(&event.id)?)
            .message_attributes("eventType", attribute(&event.kind)?);
        if self.topic_arn.ends_with(".fifo") {
            // FIFO topics drop a repeat of the same deduplication id within five minutes,
            // and keep each order's events in order.
            let order_id = event.payload.get("orderId").and_then(|v| v.as_str()).unwrap_or(&event.id);
            publish = publish.message_deduplication_id(&event.id).message_group_id(order_id);
        }
        publish.send().await.map(drop).map_err(|e| {
            let why = aws_sdk_sns::error::DisplayErrorContext(&e).to_string();
            match e.as_service_error() {
                Some(s) if s.is_invalid_parameter_exception() || s.is_not_found_exception() => {
                    ChannelError::Rejected(why)
                }
                Some(s)
                    if s.is_kms_throttling_exception()
                        || matches!(
                            aws_sdk_sns::error::ProvideErrorMetadata::code(s),
                            Some("Throttled" | "Throttling")
                        ) =>
                {
                    ChannelError::Throttled(why)
                }
                _ => ChannelError::Retryable(why),
            }
        })
    }
}
