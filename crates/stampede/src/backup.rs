//! `stampede backup` and `stampede restore`.

use crate::cli::{BackupArgs, RestoreArgs};
use anyhow::{Context, bail};
use stampede_store::DataDirLock;
use stampede_store::sqlite::{backup, restore};

const DB_FILE: &str = "stampede.db";

/// Copies the live database while the shop keeps selling.
pub fn run_backup(args: &BackupArgs) -> anyhow::Result<()> {
    let db = args.data.data_dir.join(DB_FILE);
    if !db.exists() {
        bail!(
            "database {} does not exist. `stampede backup` copies the SQLite store; back up a PostgreSQL \
             store with `pg_dump --format=custom --file FILE \"$DATABASE_URL\"` or the provider's snapshots \
             (docs/postgres.md), and a DynamoDB table with its point-in-time recovery (docs/aws.md)",
            db.display()
        );
    }
    backup(&db, &args.file).with_context(|| format!("backing up {}", db.display()))?;
    println!("backed up {} to {}", db.display(), args.file.display());
    Ok(())
}

/// Replaces the database with a backup; refuses while a server holds the data directory.
pub fn run_restore(args: &RestoreArgs) -> anyhow::Result<()> {
    let _lock = DataDirLock::acquire(&args.data.data_dir)?;
    let db = args.data.data_dir.join(DB_FILE);
    if db.exists() && !args.force {
        bail!("{} already exists; pass --force to replace it with {}", db.display(), args.file.display());
    }
    restore(&args.file, &db).with_context(|| format!("restoring {}", args.file.display()))?;
    println!("restored {} into {}", args.file.display(), db.display());
    Ok(())
}
