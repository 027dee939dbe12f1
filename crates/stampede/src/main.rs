//! `stampede`: the shop in one binary.

use clap::Parser;
use stampede::cli::{Cli, Command};
use stampede::{admin_cli, backup, logging, serve, transfer};

/// mimalloc rather than glibc's malloc: requests allocate and free small buffers on every
/// worker thread, and glibc's arenas spent about an eighth of the server's CPU on it in a
/// flash sale (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let otlp_endpoint = match &cli.command {
        None => cli.serve.otlp_endpoint.as_deref(),
        Some(Command::Serve(args)) => args.otlp_endpoint.as_deref(),
        Some(_) => None,
    };
    let telemetry = logging::init(cli.log_format, cli.access_log, otlp_endpoint)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = match cli.command {
        None => runtime.block_on(serve::run(cli.serve)),
        Some(Command::Serve(args)) => runtime.block_on(serve::run(args)),
        Some(Command::Loadtest(args)) => runtime.block_on(stampede_loadtest::run(args)),
        Some(Command::Backup(args)) => backup::run_backup(&args),
        Some(Command::Restore(args)) => backup::run_restore(&args),
        Some(Command::Export(args)) => runtime.block_on(transfer::run_export(args)),
        Some(Command::Import(args)) => runtime.block_on(transfer::run_import(args)),
        Some(Command::Admin(command)) => runtime.block_on(admin_cli::run(command)),
        #[cfg(feature = "aws")]
        Some(Command::Dynamodb(command)) => runtime.block_on(stampede::dynamodb_cli::run(command)),
        #[cfg(feature = "postgres")]
        Some(Command::Migrate(args)) => runtime.block_on(stampede::serve::migrate(args)),
    };
    // After a graceful shutdown the last requests' spans may still be queued: send them now.
    telemetry.shutdown();
    result
}
