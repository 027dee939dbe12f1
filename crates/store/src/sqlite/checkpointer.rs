//! Copies the WAL back into the database file from its own thread and connection, so the
//! order writer never pays for a checkpoint in the middle of a flash sale.

use super::schema;
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the WAL is checkpointed.
const INTERVAL: Duration = Duration::from_millis(500);

/// Stops the checkpointer thread when dropped.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` every half second.
    pub fn start(path: PathBuf) -> std::io::Result<Checkpointer> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new().name("stampede-checkpointer".into()).spawn(move || {
            let conn = match Connection::open(&path).and_then(|c| schema::configure_checkpointer(&c).map(|()| c)) {
                Ok(conn) => conn,
                Err(e) => return tracing::error!(error = %e, "checkpointer could not open the database"),
            };
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(INTERVAL);
                // PASSIVE never blocks the writer or readers; frames it cannot copy yet wait for the next round.
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
            // A last full checkpoint leaves a tidy database file behind.
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        })?;
        Ok(Checkpointer { stop })
    }
}
