//! Online backups and restores of the SQLite database, and the lock that keeps one process
//! per data directory.

use super::schema;
use crate::StoreError;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::fs::File;
use std::path::{Path, PathBuf};

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("{what} {}: {e}", path.display()))
}

/// An exclusive lock on a data directory, held for as long as a server or a restore runs.
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock on `dir`, failing at once if another process holds it.
    pub fn acquire(dir: &Path) -> Result<DataDirLock, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
        let path = dir.join("stampede.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io("cannot open", &path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Conflict(format!(
                "{} is in use by another stampede process; stop it first",
                dir.display()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(io("cannot lock", &path, e)),
        }
    }
}

/// Copies the live database at `db` to `dest` while it keeps taking orders. The copy is made
/// in one step of SQLite's online backup API, inside a single read transaction, so it is a
/// consistent snapshot; in WAL mode the writer is never blocked while it runs.
pub fn backup(db: &Path, dest: &Path) -> Result<(), StoreError> {
    if !db.exists() {
        return Err(StoreError::NotFound { what: "database", id: db.display().to_string() });
    }
    let source = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    source.busy_timeout(std::time::Duration::from_secs(10))?;
    let partial = partial_path(dest);
    let _ = std::fs::remove_file(&partial);
    {
        let mut target = Connection::open(&partial)?;
        let copy = Backup::new(&source, &mut target)?;
        loop {
            match copy.step(-1)? {
                StepResult::Done => break,
                StepResult::More | StepResult::Busy | StepResult::Locked => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                _ => break,
            }
        }
    }
    verify(&partial)?;
    std::fs::rename(&partial, dest).map_err(|e| io("cannot write", dest, e))
}

/// Replaces the database at `db` with the backup `src`. The caller holds the data-dir lock,
/// so no server is running on it.
pub fn restore(src: &Path, db: &Path) -> Result<(), StoreError> {
    verify(src)?;
    let partial = partial_path(db);
    std::fs::copy(src, &partial).map_err(|e| io("cannot copy to", &partial, e))?;
    for stale in ["-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{stale}", db.display()));
        if path.exists() {
            std::fs::remove_file(&path).map_err(|e| io("cannot remove", &path, e))?;
        }
    }
    std::fs::rename(&partial, db).map_err(|e| io("cannot replace", db, e))
}

/// Checks a database file is intact and of a schema this build understands.
fn verify(path: &Path) -> Result<(), StoreError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(StoreError::Backend(format!("{} failed the integrity check: {check}", path.display())));
    }
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version == 0 || version > schema::latest_version() {
        return Err(StoreError::Backend(format!(
            "{} has schema version {version}; this build reads 1 to {}",
            path.display(),
            schema::latest_version()
        )));
    }
    Ok(())
}

fn partial_path(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.partial", path.display()))
}
