//! `stampede export` and `stampede import`: a shop moved between stores as JSON Lines (the
//! format is `stampede_store::transfer`; each store reads and writes it in its own module).

use crate::cli::{ExportArgs, StoreKind, StoreLocation, TransferArgs};
use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use stampede_store::clock::now_millis;
use stampede_store::transfer::{Counts, Record, RecordSink, Shop};
use stampede_store::{DataDirLock, SqliteConfig, StoreError};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// What a pass over a store saw: records per kind and the units in stock.
#[derive(Default)]
struct Tally {
    counts: Counts,
    stock: u64,
}

impl Tally {
    fn add(&mut self, record: &Record) {
        self.counts.add(record);
        if let Record::Product(p) = record {
            self.stock += u64::from(p.stock);
        }
    }
}

/// Reads every record of the store `args` names, in one snapshot, into `out`.
async fn read_store(args: &StoreLocation, exported_at: i64, out: &mut RecordSink<'_>) -> anyhow::Result<()> {
    match args.store.kind {
        StoreKind::Sqlite => {
            let db = SqliteConfig::in_dir(&args.data_dir).path;
            stampede_store::sqlite::transfer::export(&db, exported_at, out)
                .with_context(|| format!("exporting {}", db.display()))
        }
        StoreKind::Postgres => export_postgres(args, exported_at, out).await,
        StoreKind::Dynamodb => export_dynamodb(args, exported_at, out).await,
    }
}

#[cfg(feature = "postgres")]
async fn export_postgres(args: &StoreLocation, exported_at: i64, out: &mut RecordSink<'_>) -> anyhow::Result<()> {
    let url = args.store.database_url.as_deref().context("--store postgres needs --database-url (or DATABASE_URL)")?;
    stampede_store::postgres::transfer::export(url, exported_at, out).await.context("exporting the PostgreSQL store")
}

#[cfg(not(feature = "postgres"))]
async fn export_postgres(_: &StoreLocation, _: i64, _: &mut RecordSink<'_>) -> anyhow::Result<()> {
    bail!("--store postgres needs a build with the postgres feature: cargo build --release --features postgres")
}

/// The DynamoDB store `args` name (`--dynamodb-table`, `--aws-endpoint-url`).
#[cfg(feature = "aws")]
async fn dynamodb(args: &StoreLocation) -> anyhow::Result<stampede_store::DynamoStore> {
    use stampede_store::{DynamoConfig, DynamoStore};
    let table = args.store.dynamodb_table.as_deref().context("--store dynamodb needs --dynamodb-table")?;
    let client = DynamoStore::client_or_local(args.aws_endpoint_url.as_deref()).await;
    Ok(DynamoStore::new(client, DynamoConfig::new(table)))
}

#[cfg(feature = "aws")]
async fn export_dynamodb(args: &StoreLocation, exported_at: i64, out: &mut RecordSink<'_>) -> anyhow::Result<()> {
    let store = dynamodb(args).await?;
    stampede_store::dynamo::transfer::export(&store, exported_at, out).await.context("exporting the DynamoDB table")
}

/// Refuses a table an import is still writing (the import's own check reads it anyway).
#[cfg(feature = "aws")]
pub async fn refuse_unfinished_import(store: &stampede_store::DynamoStore, table: &str) -> anyhow::Result<()> {
    if let Some(file) = stampede_store::dynamo::transfer::unfinished_import(store).await? {
        bail!(
            "the DynamoDB table {table} holds an unfinished import ({file}): run that `stampede import` again to finish it first"
        );
    }
    Ok(())
}

#[cfg(not(feature = "aws"))]
async fn export_dynamodb(_: &StoreLocation, _: i64, _: &mut RecordSink<'_>) -> anyhow::Result<()> {
    Err(no_aws())
}

#[cfg(not(feature = "aws"))]
fn no_aws() -> anyhow::Error {
    anyhow::anyhow!("--store dynamodb needs a build with the aws feature: cargo build --release --features aws")
}

fn partial_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    file.with_file_name(name)
}

/// `stampede export`: the shop as JSON Lines, to `--out FILE` or to standard output.
pub async fn run_export(args: ExportArgs) -> anyhow::Result<()> {
    let Some(file) = &args.out else {
        let mut writer = BufWriter::new(std::io::stdout());
        let tally = write_export(&args.from, &mut writer, "standard output").await?;
        writer.flush().context("writing the export to standard output")?;
        eprintln!("exported: {} ({} units in stock)", tally.counts, tally.stock);
        return Ok(());
    };
    // Written beside FILE and moved over it once complete, so FILE is never half an export.
    let partial = partial_path(file);
    let created = std::fs::File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let mut writer = BufWriter::new(created);
    let tally = match write_export(&args.from, &mut writer, &partial.display().to_string()).await {
        Ok(tally) => tally,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    let written = writer.into_inner().map_err(|e| e.into_error()).context("writing the export")?;
    written.sync_all().context("writing the export")?;
    std::fs::rename(&partial, file).with_context(|| format!("moving the export to {}", file.display()))?;
    println!("exported to {}: {} ({} units in stock)", file.display(), tally.counts, tally.stock);
    Ok(())
}

/// One snapshot of the store, a line per record, into `writer` (`name` says where, for errors),
/// with a spinner on a terminal.
async fn write_export(from: &StoreLocation, writer: &mut (impl Write + Send), name: &str) -> anyhow::Result<Tally> {
    #[cfg(feature = "aws")]
    if from.store.kind == StoreKind::Dynamodb {
        refuse_unfinished_import(&dynamodb(from).await?, from.store.dynamodb_table.as_deref().unwrap_or_default())
            .await?;
    }
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {pos} records {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let mut tally = Tally::default();
    let mut write = |record: &Record| -> Result<(), StoreError> {
        let line = record.to_line()?;
        writeln!(writer, "{line}").map_err(|e| StoreError::Backend(format!("writing {name}: {e}")))?;
        tally.add(record);
        bar.inc(1);
        Ok(())
    };
    let read = read_store(from, now_millis(), &mut write).await;
    bar.finish_and_clear();
    read.map(|()| tally)
}

/// Reads and checks the whole file before anything is written.
fn read_file(path: &Path) -> anyhow::Result<Shop> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut shop = Shop::default();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}: line {}: cannot be read", path.display(), i + 1))?;
        shop.push_line(i + 1, &line)
            .map_err(|bad| anyhow::anyhow!("{}: {bad}; nothing was imported", path.display()))?;
    }
    if shop.header.is_none() {
        bail!("{} is empty: an export starts with a header line; nothing was imported", path.display());
    }
    Ok(shop)
}

/// `stampede import FILE`: the file's shop into an empty store, then a check that the store
/// holds what the file does.
pub async fn run_import(args: TransferArgs) -> anyhow::Result<()> {
    let shop = read_file(&args.file)?;
    let bar = ProgressBar::new(shop.records()).with_style(
        ProgressStyle::with_template("[{bar:40}] {pos}/{len} records, eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut done = || bar.inc(1);
    let now = now_millis();
    // Held until the check below: no server may start on the directory meanwhile.
    let mut _lock = None;
    match args.into.store.kind {
        StoreKind::Sqlite => {
            _lock = Some(DataDirLock::acquire(&args.into.data_dir)?);
            let db = SqliteConfig::in_dir(&args.into.data_dir).path;
            stampede_store::sqlite::transfer::import(&db, &shop, now, &mut done)
                .with_context(|| format!("importing into {}", db.display()))?;
        }
        StoreKind::Postgres => import_postgres(&args, &shop, now, &mut done).await?,
        StoreKind::Dynamodb => {
            if import_dynamodb(&args, &shop, &mut done).await? {
                bar.println("finished an unfinished import of this file");
            }
        }
    }
    bar.finish_and_clear();
    let mut seen = Tally::default();
    read_store(&args.into, now, &mut |record| {
        seen.add(record);
        Ok(())
    })
    .await
    .context("reading the store back")?;
    let stock: u64 = shop.products.iter().map(|p| u64::from(p.stock)).sum();
    if seen.counts != shop.counts || seen.stock != stock {
        bail!(
            "the store does not hold what {} does: the file has {} ({stock} units), the store {} ({} units)",
            args.file.display(),
            shop.counts,
            seen.counts,
            seen.stock
        );
    }
    if args.into.store.kind == StoreKind::Dynamodb {
        finish_dynamodb(&args.into).await?;
    }
    println!("imported {}: {} ({stock} units in stock)", args.file.display(), shop.counts);
    Ok(())
}

/// Imports into the table; `true` if it finished an earlier, interrupted run of this file.
#[cfg(feature = "aws")]
async fn import_dynamodb(args: &TransferArgs, shop: &Shop, done: &mut (dyn FnMut() + Send)) -> anyhow::Result<bool> {
    let store = dynamodb(&args.into).await?;
    stampede_store::dynamo::transfer::import(&store, shop, done)
        .await
        .context("importing into the DynamoDB table (running the import again finishes an interrupted one)")
}

/// The table is checked: its import marker goes, and it may be served.
#[cfg(feature = "aws")]
async fn finish_dynamodb(args: &StoreLocation) -> anyhow::Result<()> {
    let store = dynamodb(args).await?;
    stampede_store::dynamo::transfer::finish_import(&store).await.context("ending the import")
}

#[cfg(not(feature = "aws"))]
async fn import_dynamodb(_: &TransferArgs, _: &Shop, _: &mut (dyn FnMut() + Send)) -> anyhow::Result<bool> {
    Err(no_aws())
}

#[cfg(not(feature = "aws"))]
async fn finish_dynamodb(_: &StoreLocation) -> anyhow::Result<()> {
    Err(no_aws())
}

#[cfg(feature = "postgres")]
async fn import_postgres(
    args: &TransferArgs,
    shop: &Shop,
    now: i64,
    done: &mut (dyn FnMut() + Send),
) -> anyhow::Result<()> {
    let url =
        args.into.store.database_url.as_deref().context("--store postgres needs --database-url (or DATABASE_URL)")?;
    stampede_store::postgres::transfer::import(url, shop, now, done).await.context("importing into PostgreSQL")
}

#[cfg(not(feature = "postgres"))]
async fn import_postgres(_: &TransferArgs, _: &Shop, _: i64, _: &mut (dyn FnMut() + Send)) -> anyhow::Result<()> {
    bail!("--store postgres needs a build with the postgres feature: cargo build --release --features postgres")
}
