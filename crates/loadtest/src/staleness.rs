//! `--staleness-trials N` with two or more `--target`s: how late another instance learns
//! that a product sold out. Each trial creates a product with one unit, waits until the
//! second instance's live-stock stream (`GET /api/stock/events`) lists it, then, at a random
//! moment, buys the unit on the first instance and times how long until the second one's
//! stream reports it sold out. An order on the second instance right after the sale is
//! refused too: that answer comes from the database, not from what the stream knows.

use super::FlashSaleArgs;
use super::sale_product::create_product_with;
use super::server::Target;
use super::stats::median;
use anyhow::{Context, bail};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// What the trials measured.
pub struct Staleness {
    /// Seconds from the first instance's `201` to the second one's sold-out event, per trial.
    pub seconds: Vec<f64>,
    /// Trials in which the second instance refused an order at once (out of stock).
    pub refused_at_once: usize,
}

impl Staleness {
    /// As a JSON line for `--summary`.
    pub fn json(&self) -> Value {
        let max = self.seconds.iter().copied().fold(0.0, f64::max);
        json!({
            "staleness": {
                "trials": self.seconds.len(),
                "medianSeconds": median(self.seconds.clone()),
                "maxSeconds": max,
                "secondsPerTrial": self.seconds,
                "refusedAtOnce": self.refused_at_once,
            }
        })
    }
}

/// Runs `args.staleness_trials` trials between the first two targets.
pub async fn measure(client: &Client, args: &FlashSaleArgs) -> anyhow::Result<Staleness> {
    let target = Target::remote(&args.target, args.admin_token.clone(), Vec::new())?;
    let (a, b) = match target.bases.as_slice() {
        [a, b, ..] => (a.clone(), b.clone()),
        _ => bail!("--staleness-trials needs two --target instances"),
    };
    let mut result = Staleness { seconds: Vec::new(), refused_at_once: 0 };
    for trial in 0..args.staleness_trials {
        let product = format!("stale-{trial}-{}", rand::random::<u32>());
        create_product_with(client, &target, &product, 1, json!({}), Value::Null).await?;
        let mut stream = client.get(format!("{b}/api/stock/events")).send().await?.error_for_status()?;
        let mut events = Events::default();
        // B's stream lists the product once B's poll has seen it created.
        while events.next(&mut stream).await?.iter().all(|level| level["id"] != product.as_str()) {}
        // Past B's next poll (which sees the product created), then a random moment within
        // the poll period, so the trials sample every phase of it.
        tokio::time::sleep(Duration::from_millis(1_100 + rand::random::<u64>() % 1_000)).await;
        let sold = order(client, &a, &product, &format!("stale-a-{trial}")).await?;
        if sold != StatusCode::CREATED {
            bail!("the staleness trial's order on {a} was answered {sold}");
        }
        let at = Instant::now();
        let refused = order(client, &b, &product, &format!("stale-b-{trial}")).await?;
        result.refused_at_once += usize::from(refused == StatusCode::CONFLICT);
        loop {
            let levels = events.next(&mut stream).await?;
            if levels.iter().any(|level| level["id"] == product.as_str() && level["soldOut"] == true) {
                break;
            }
        }
        result.seconds.push(at.elapsed().as_secs_f64());
        eprintln!("staleness trial {}: {:.3} s", trial + 1, at.elapsed().as_secs_f64());
    }
    Ok(result)
}

/// One order for one unit; its status.
async fn order(client: &Client, base: &str, product: &str, key: &str) -> anyhow::Result<StatusCode> {
    let body = json!({"userId": key, "productId": product, "quantity": 1});
    let resp = client.post(format!("{base}/api/orders")).header("Idempotency-Key", key).json(&body).send().await?;
    Ok(resp.status())
}

/// The `stock` events of a Server-Sent Events stream, read as they arrive.
#[derive(Default)]
struct Events {
    pending: String,
}

impl Events {
    /// The next event's stock levels (waiting at most 30 s).
    async fn next(&mut self, stream: &mut reqwest::Response) -> anyhow::Result<Vec<Value>> {
        loop {
            if let Some(end) = self.pending.find("\n\n") {
                let event: String = self.pending.drain(..end + 2).collect();
                let data = event.lines().find_map(|line| line.strip_prefix("data:"));
                if let Some(levels) = data.and_then(|d| serde_json::from_str::<Vec<Value>>(d.trim()).ok()) {
                    return Ok(levels);
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(30), stream.chunk())
                .await
                .context("no stock event within 30 s")??
                .context("the stock stream ended")?;
            self.pending.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}
