//! The relay function: woken by the table's stream when an outbox event is written, and by
//! a schedule for retries that fall due later. Each invocation drains what is due through the
//! same `Relay` (claims, leases, retries, parking) as the local server, so delivery semantics
//! do not depend on where Stampede runs; the stream records themselves are only a wake-up.

use super::{LambdaArgs, open_store, public_url};
use crate::serve::{notify_config, relay_config};
use anyhow::Context as _;
use lambda_http::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use stampede_notify::{NotifyConfig, Relay};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time kept back from the invocation's deadline for the last settlements.
const MARGIN: Duration = Duration::from_secs(5);

/// Cold start of the relay function, then the runtime loop.
pub async fn run(args: LambdaArgs) -> Result<(), Error> {
    let store = open_store(&args).await;
    let notify = NotifyConfig {
        signer: args.signer(),
        shop: args.shop.profile(),
        zone: Some(args.shop.shop_timezone.tz().clone()),
        ..notify_config(&args.notify, public_url(&args))
    };
    let channels = notify.channels(store.clone()).await.context("configuring notifications")?;
    let config = relay_config(&args.notify, channels.len());
    let relay = Arc::new(Relay::new(store, channels, config));
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let relay = relay.clone();
        async move { drain(&relay, event.context.deadline).await }
    }))
    .await
}

/// Delivers due events until none are left or the deadline (epoch millis) nears.
async fn drain(relay: &Relay, deadline_ms: u64) -> Result<Value, Error> {
    let mut claimed = 0;
    loop {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        if now + MARGIN.as_millis() >= u128::from(deadline_ms) {
            break;
        }
        match relay.run_once().await? {
            0 => break,
            n => claimed += n,
        }
    }
    tracing::info!(claimed, "outbox drained");
    Ok(json!({ "claimed": claimed }))
}
