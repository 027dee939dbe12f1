//! A small pool of read-only connections; WAL lets them read while the writer commits.

use super::schema;
use crate::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// Read-only connections, opened on demand and kept for reuse.
#[derive(Clone)]
pub struct ReadPool {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
    /// One permit per connection: a read beyond `size` waits for a connection rather than
    /// opening one it would close again. Opening (file, schema, pragmas) costs far more
    /// than the short reads it serves; the relay's burst of order reads after a flash sale
    /// had been opening and closing connections by the thousand.
    permits: Arc<Semaphore>,
}

impl ReadPool {
    /// A pool over the database at `path` of at most `size` connections.
    pub fn new(path: PathBuf, size: usize) -> ReadPool {
        ReadPool { path, idle: Arc::default(), permits: Arc::new(Semaphore::new(size.max(1))) }
    }

    /// Runs `f` on a pooled connection on the blocking thread pool, waiting for a free one.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit =
            self.permits.acquire().await.map_err(|_| StoreError::Backend("the read pool is closed".into()))?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let result = f(&conn);
            pool.give_back(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
    }

    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(conn) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        schema::configure_reader(&conn)?;
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
    }
}
