//! `stampede loadtest`, a subcommand of the one binary (which starts the server it tests as
//! a child process of itself). `flash-sale` fires a simulated flash sale over real HTTP,
//! checks that nothing was oversold or lost, and measures throughput and latency against a
//! baseline taken in the same run (the machines are shared and noisy, so ratios are what
//! count); `soak` keeps a steady load for a long time; `--waiting-room` sends the sale
//! through a waiting room.

mod args;
mod driver;
mod figures;
mod flash_sale;
mod receiver;
mod report;
mod report_file;
mod sale_product;
mod sale_tail;
mod server;
mod soak;
mod staleness;
mod stats;
mod store_costs;
mod store_costs_report;
mod summary;
mod waiting_room;

pub use args::{FlashSaleArgs, LoadtestCommand, SoakArgs};

/// Runs a load test; fails if any invariant was violated.
pub async fn run(cmd: LoadtestCommand) -> anyhow::Result<()> {
    match cmd {
        LoadtestCommand::FlashSale(args) if args.waiting_room => waiting_room::run(args).await,
        LoadtestCommand::FlashSale(args) => flash_sale::run(args).await,
        LoadtestCommand::Soak(args) => soak::run(args).await,
    }
}
