//! `stampede`: the shop in one binary.

use clap::Parser;
use stampede::cli::{Cli, Command};
use stampede::{backup, loadtest, logging, serve};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    logging::init(cli.log_format, cli.access_log);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        None => runtime.block_on(serve::run(cli.serve)),
        Some(Command::Serve(args)) => runtime.block_on(serve::run(args)),
        Some(Command::Loadtest(args)) => runtime.block_on(loadtest::run(args)),
        Some(Command::Backup(args)) => backup::run_backup(&args),
        Some(Command::Restore(args)) => backup::run_restore(&args),
    }
}
