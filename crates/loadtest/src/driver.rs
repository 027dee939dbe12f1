//! Fires jobs at a fixed concurrency and collects what they report.

use indicatif::{ProgressBar, ProgressStyle};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Runs `job(i)` for every `i < total` on `concurrency` workers; returns the results and the phase's start.
pub async fn fire<T, F, Fut>(label: &str, total: usize, concurrency: usize, job: F) -> (Vec<T>, Instant)
where
    T: Send + 'static,
    F: Fn(usize, Instant) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send,
{
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>18} [{bar:40}] {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_owned());
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency.min(total.max(1)))
        .map(|_| {
            let (next, job, bar) = (next.clone(), job.clone(), bar.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return out;
                    }
                    out.push(job(i, start).await);
                    bar.inc(1);
                }
            })
        })
        .collect();
    let mut results = Vec::with_capacity(total);
    for w in workers {
        results.extend(w.await.unwrap_or_default());
    }
    bar.finish_and_clear();
    (results, start)
}
