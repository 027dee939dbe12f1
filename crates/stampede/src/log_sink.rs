//! Log lines written to stderr in blocks by a thread of their own.
//!
//! A write to stderr per line, under its lock, on the request's thread had cost about a
//! seventh of the server's CPU in a flash sale, so lines go to a thread of their own. Why not
//! tracing-appender's non-blocking writer, which did that before: its thread is woken for
//! nearly every line under load and writes a line or two per call, so whatever reads stderr
//! (journald, a container runtime, the load test) is woken as often. With the access log on,
//! that cost a waiting-room join, whose requests arrive further apart than `/healthz`'s, a
//! measured share of its ratio to `/healthz` (BENCHMARKS.md, "The access log written in
//! blocks"). Here a request's thread appends its line to a shared buffer and wakes the log
//! thread only when the buffer was empty; the thread then gathers lines for a few
//! milliseconds and writes them with one call.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;

/// How long the log thread gathers lines after the first one before writing them: the
/// delay a line may see, and about the rate of wake-ups under load.
const GATHER: Duration = Duration::from_millis(5);

/// The largest block's room kept for the next one (a few milliseconds of lines under load).
const SPARE_MAX: usize = 1 << 20;

/// Bytes queued before a request's thread waits for the log thread: not lossy, the same
/// backpressure a slow stderr reader exerts on a direct write.
pub const MAX_QUEUED: usize = 16 << 20;

/// The tracing writer: each line goes to the shared buffer.
pub struct LogSink {
    shared: Arc<Shared>,
}

/// Ends the log thread on drop, after it has written every line queued.
#[must_use = "dropping it ends the log thread"]
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    queue: Mutex<Queue>,
    /// The buffer got its first line, or the guard is closing.
    ready: Condvar,
    /// The log thread took the buffer: there is room again.
    room: Condvar,
    max_queued: usize,
}

#[derive(Default)]
struct Queue {
    bytes: Vec<u8>,
    closing: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A thread that panicked mid-append leaves bytes, not a broken invariant.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Starts the log thread writing to `out`; lines wait while `max_queued` bytes are queued.
pub fn start<W: Write + Send + 'static>(out: W, max_queued: usize) -> std::io::Result<(LogSink, LogGuard)> {
    let shared = Arc::new(Shared { queue: Mutex::default(), ready: Condvar::new(), room: Condvar::new(), max_queued });
    let worker = shared.clone();
    let thread = std::thread::Builder::new().name("stampede-log".into()).spawn(move || write_blocks(&worker, out))?;
    Ok((LogSink { shared: shared.clone() }, LogGuard { shared, thread: Some(thread) }))
}

/// The log thread: waits for a first line, gathers more, writes them all; until closed.
fn write_blocks(shared: &Shared, mut out: impl Write) {
    let mut spare = Vec::new();
    loop {
        let mut queue = shared.lock();
        while queue.bytes.is_empty() && !queue.closing {
            queue = shared.ready.wait(queue).unwrap_or_else(|p| p.into_inner());
        }
        if !queue.closing {
            drop(queue);
            std::thread::sleep(GATHER);
            queue = shared.lock();
        }
        let block = std::mem::replace(&mut queue.bytes, spare);
        let closing = queue.closing;
        drop(queue);
        shared.room.notify_all();
        // Nowhere to report a failed write to stderr; the lines are dropped, as before.
        let _ = out.write_all(&block).and_then(|()| out.flush());
        // A block grown while stderr stalled is let go rather than kept for good.
        spare = if block.capacity() <= SPARE_MAX { block } else { Vec::new() };
        spare.clear();
        if closing {
            return;
        }
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.ready.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One line (tracing-subscriber formats an event whole, then writes it in one call).
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let shared = self.shared;
        let mut queue = shared.lock();
        while queue.bytes.len() >= shared.max_queued && !queue.closing {
            queue = shared.room.wait(queue).unwrap_or_else(|p| p.into_inner());
        }
        if queue.closing {
            // The log thread has written its last block: a line logged during the exit.
            drop(queue);
            return std::io::stderr().write(buf);
        }
        let first = queue.bytes.is_empty();
        queue.bytes.extend_from_slice(buf);
        drop(queue);
        if first {
            shared.ready.notify_one();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { shared: &self.shared }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// An output the test can read, optionally slow.
    #[derive(Clone, Default)]
    struct Output {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<Mutex<usize>>,
        delay: Duration,
    }

    impl Write for Output {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            std::thread::sleep(self.delay);
            *self.writes.lock().unwrap() += 1;
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn text(out: &Output) -> String {
        String::from_utf8(out.bytes.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn every_line_is_written_in_order_by_the_time_the_guard_drops() {
        let out = Output::default();
        let (sink, guard) = start(out.clone(), MAX_QUEUED).unwrap();
        let lines: Vec<String> = (0..2000).map(|i| format!("line {i}\n")).collect();
        for line in &lines {
            sink.make_writer().write_all(line.as_bytes()).unwrap();
        }
        drop(guard);
        assert_eq!(text(&out), lines.concat());
    }

    #[test]
    fn lines_arriving_together_go_out_in_few_writes() {
        // Each write takes 50 ms: the lines that come meanwhile wait, and go out together.
        let out = Output { delay: Duration::from_millis(50), ..Output::default() };
        let (sink, guard) = start(out.clone(), MAX_QUEUED).unwrap();
        let lines: Vec<String> = (0..1000).map(|i| format!("line {i}\n")).collect();
        for line in &lines {
            sink.make_writer().write_all(line.as_bytes()).unwrap();
        }
        drop(guard);
        // tracing-appender made a write per line or two; gathered, a burst takes one or two.
        assert!(*out.writes.lock().unwrap() <= 3, "{} writes", out.writes.lock().unwrap());
        assert_eq!(text(&out), lines.concat());
    }

    #[test]
    fn a_line_reaches_the_output_while_the_server_runs() {
        let out = Output::default();
        let (sink, _guard) = start(out.clone(), MAX_QUEUED).unwrap();
        sink.make_writer().write_all(b"hello\n").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while text(&out).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(text(&out), "hello\n");
    }

    #[test]
    fn a_full_queue_makes_the_writer_wait_instead_of_dropping_lines() {
        // Each write takes 20 ms; at most 100 bytes may wait.
        let out = Output { delay: Duration::from_millis(20), ..Output::default() };
        let (sink, guard) = start(out.clone(), 100).unwrap();
        let line = [b'x'; 60];
        let started = Instant::now();
        for _ in 0..6 {
            sink.make_writer().write_all(&line).unwrap();
        }
        // Six 60-byte lines cannot all wait at once: the writer waited for the slow output.
        assert!(started.elapsed() >= Duration::from_millis(20), "{:?}", started.elapsed());
        drop(guard);
        assert_eq!(out.bytes.lock().unwrap().len(), 360);
    }
}
