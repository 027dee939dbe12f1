//! What writing one access line costs, with the binary's JSON format (`json_lines`) and with
//! `tracing-subscriber`'s own JSON formatter, to a sink: the formatting alone, without the
//! log thread or the machine's noise. `cargo bench -p stampede --bench log_line`.

use std::hint::black_box;
use std::time::Instant;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

const LINES: u32 = 200_000;
const ROUNDS: usize = 7;

fn access_lines(n: u32) {
    for i in 0..n {
        let (request_id, method, route, status) =
            ("fb524d78-e164-478f-b5c9-24e4e22ef3df", "POST", "/api/orders", 201u16);
        let latency_ms = 0.049923 + f64::from(i % 7) * 0.001;
        let (order_id, trace_id): (Option<&str>, Option<&str>) = (Some("0193a0b1-7c2e-7d4f-9a8b-1c2d3e4f5a6b"), None);
        tracing::info!(target: stampede_web::telemetry::ACCESS_TARGET, request_id, %method, route, status, latency_ms, order_id, trace_id, "request");
    }
}

/// The best of `ROUNDS` rounds, in µs per line.
fn best(subscriber: impl tracing::Subscriber + Send + Sync + 'static) -> f64 {
    tracing::subscriber::with_default(subscriber, || {
        access_lines(1_000);
        (0..ROUNDS)
            .map(|_| {
                let started = Instant::now();
                access_lines(black_box(LINES));
                started.elapsed().as_secs_f64() * 1e6 / f64::from(LINES)
            })
            .fold(f64::INFINITY, f64::min)
    })
}

fn sink() -> impl for<'a> MakeWriter<'a> + Send + Sync + 'static {
    std::io::sink
}

fn main() {
    let fmt = || tracing_subscriber::fmt::layer().with_writer(sink()).json();
    let standard = best(tracing_subscriber::registry().with(fmt().flatten_event(true)));
    let ours =
        best(tracing_subscriber::registry().with(fmt().event_format(stampede::json_lines::JsonLines::default())));
    println!("one access line, best of {ROUNDS} rounds of {LINES}:");
    println!("  tracing-subscriber's JSON formatter  {standard:.2} µs");
    println!("  json_lines (the binary's)            {ours:.2} µs");
}
