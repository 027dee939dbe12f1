//! `stampede loadtest`: placeholder replaced below.
use clap::Subcommand;

/// Load tests.
#[derive(Debug, Subcommand)]
pub enum LoadtestCommand {}

pub async fn run(cmd: LoadtestCommand) -> anyhow::Result<()> {
    match cmd {}
}
