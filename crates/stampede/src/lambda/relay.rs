//! The relay function: woken by the table's stream when an outbox event is written, and by
//! a schedule for retries that fall due later. Each invocation drains what is due through the
//! same `Relay` (claims, leases, retries, parking) as the local server, so delivery semantics
//! do not depend on where Stampede runs; the stream records themselves are only a wake-up.

use super::{LambdaArgs, open_store, public_url};
use crate::serve::{longest_delivery, notify_config, relay_config};
use anyhow::Context as _;
use lambda_http::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use stampede_notify::{NotifyConfig, Relay};
use stampede_store::Outbox;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time kept back from the invocation's deadline for a round's settlements.
const SETTLE_MARGIN: Duration = Duration::from_secs(5);

/// How long before its deadline an invocation starts no new round: a round delivers its
/// events ([`longest_delivery`]), then settles. A round cut off by the deadline would have
/// sent without recording it, and the event would go out again once its lease ran out.
fn round_margin(send_timeout: Duration, channels: usize) -> Duration {
    longest_delivery(send_timeout, channels) + SETTLE_MARGIN
}

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
    let margin = round_margin(config.send_timeout, channels.len());
    let relay = Arc::new(Relay::new(store.clone(), channels, config));
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (relay, store) = (relay.clone(), store.clone());
        async move {
            let answer = drain(&relay, event.context.deadline, margin).await?;
            report_lag(store.as_ref()).await;
            Ok::<Value, Error>(answer)
        }
    }))
    .await
}

/// Writes how late the outbox is, as a CloudWatch metric in the embedded metric format (a
/// log line CloudWatch turns into `Stampede/OutboxLagSeconds`; the template alarms on it):
/// how long the most overdue pending event has been waiting, 0 when nothing is overdue.
async fn report_lag(store: &dyn Outbox) {
    let Ok(due) = store.next_due().await else { return };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let lag_secs = due.map_or(0, |due| now.saturating_sub(u128::try_from(due).unwrap_or(0)) / 1000);
    println!("{}", lag_metric(lag_secs, now));
}

fn lag_metric(lag_secs: u128, now_ms: u128) -> Value {
    json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": "Stampede",
                "Dimensions": [[]],
                "Metrics": [{ "Name": "OutboxLagSeconds", "Unit": "Seconds" }]
            }]
        },
        "OutboxLagSeconds": lag_secs
    })
}

/// Delivers due events until none are left or the deadline (epoch millis) is within `margin`.
/// The first round always runs: a function timeout shorter than the margin (a long
/// `--notify-timeout-secs`) must not stop delivery altogether.
async fn drain(relay: &Relay, deadline_ms: u64, margin: Duration) -> Result<Value, Error> {
    let mut claimed = 0;
    for round in 0.. {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        if now + margin.as_millis() >= u128::from(deadline_ms) {
            if round == 0 {
                tracing::warn!(
                    margin_secs = margin.as_secs(),
                    "the relay function's timeout is shorter than a round may take (notify timeout × channels + 5 s); raise it"
                );
            } else {
                break;
            }
        }
        match relay.run_once().await? {
            0 => break,
            n => claimed += n,
        }
    }
    tracing::info!(claimed, "outbox drained");
    Ok(json!({ "claimed": claimed }))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn a_round_starts_only_with_time_for_every_channel_and_the_settle() {
        let ten = Duration::from_secs(10);
        assert_eq!(super::round_margin(ten, 3), Duration::from_secs(35));
        assert_eq!(super::round_margin(ten, 0), Duration::from_secs(15), "no channel still settles");
    }

    #[test]
    fn the_lag_line_is_an_embedded_metric_cloudwatch_reads() {
        let line = super::lag_metric(42, 1_700_000_000_000);
        assert_eq!(line["OutboxLagSeconds"], 42);
        let metric = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metric["Namespace"], "Stampede");
        assert_eq!(metric["Metrics"][0]["Name"], "OutboxLagSeconds");
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000u64);
    }
}
