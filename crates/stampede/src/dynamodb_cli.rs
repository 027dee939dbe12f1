//! `stampede dynamodb ...` (feature `aws`): setting up a DynamoDB table for `serve --store dynamodb`.

use crate::cli::DynamodbCommand;
use anyhow::Context;
use stampede_store::DynamoStore;

/// Runs a `dynamodb` subcommand.
pub async fn run(command: DynamodbCommand) -> anyhow::Result<()> {
    match command {
        DynamodbCommand::CreateTable { table, aws_endpoint_url } => {
            let client = DynamoStore::client_or_local(aws_endpoint_url.as_deref()).await;
            stampede_store::dynamo::create_table(&client, &table)
                .await
                .with_context(|| format!("creating the DynamoDB table {table}"))?;
            println!("table {table} is ready");
            Ok(())
        }
    }
}
