//! Copies the WAL back into the database file from its own thread and connection, so the
//! order writer rarely pays for a checkpoint in the middle of a flash sale.
//!
//! A passive checkpoint cannot rewind the WAL while commits keep arriving: SQLite starts
//! writing from the top of the file again only when every frame has been copied back, and
//! under a steady stream of orders there is always a newer frame. Left alone the WAL grows
//! without bound (gigabytes within minutes of a sustained sale). So when the WAL passes
//! [`RESTART_FRAMES`] (by default), the checkpointer asks the writer to run a `RESTART` checkpoint between
//! two batches: the passive rounds have already copied nearly everything, so the writer
//! pauses only to copy the frames of the last round or so and rewind.

use super::schema;
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the WAL is checkpointed. The writer's pause to rewind copies what the passive
/// rounds have not, so it grows with this: accepting orders at 256 connections (wrk), rounds
/// every 500 ms left pauses of 45–90 ms once a second and a p99 of 86–100 ms; every 50 ms,
/// pauses of 2–15 ms and a p99 of 40 ms. A round with nothing to copy costs microseconds.
pub const INTERVAL: Duration = Duration::from_millis(50);

/// WAL frames (pages, 4 KiB by default) past which the writer is asked to rewind the WAL:
/// 64 MiB, the size `journal_size_limit` trims the file back to.
pub const RESTART_FRAMES: i64 = 16_384;

/// Stops the checkpointer thread when dropped.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
}

/// Set by the checkpointer when the WAL should be rewound; taken by the writer between batches.
#[derive(Clone, Default)]
pub struct RestartRequest(Arc<AtomicBool>);

impl RestartRequest {
    fn ask(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// True once per request.
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` every `interval`; asks for a rewind
    /// through `restart` when the WAL grows past `restart_frames`.
    pub fn start(
        path: PathBuf,
        interval: Duration,
        restart_frames: i64,
        restart: RestartRequest,
    ) -> std::io::Result<Checkpointer> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new().name("stampede-checkpointer".into()).spawn(move || {
            let conn = match Connection::open(&path).and_then(|c| schema::configure_checkpointer(&c).map(|()| c)) {
                Ok(conn) => conn,
                Err(e) => return tracing::error!(error = %e, "checkpointer could not open the database"),
            };
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(interval);
                // PASSIVE never blocks the writer or readers; frames it cannot copy yet wait for the next round.
                match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
                    Ok(frames) if frames > restart_frames => restart.ask(),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
                }
            }
            // A last full checkpoint leaves a tidy database file behind.
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        })?;
        Ok(Checkpointer { stop })
    }
}
