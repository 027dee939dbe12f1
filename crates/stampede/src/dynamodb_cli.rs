//! `stampede dynamodb ...` (feature `aws`): setting up a DynamoDB table for `serve --store dynamodb`.

use crate::cli::DynamodbCommand;
use anyhow::Context;
use stampede_store::DynamoStore;

/// Runs a `dynamodb` subcommand.
pub async fn run(command: DynamodbCommand) -> anyhow::Result<()> {
    match command {
        DynamodbCommand::CreateTable { table, aws_endpoint_url } => {
            let client = match aws_endpoint_url.as_deref().filter(|u| !u.is_empty()) {
                Some(url) => DynamoStore::local_client(url).await,
                None => DynamoStore::client(None).await,
            };
            stampede_store::dynamo::create_table(&client, &table)
                .await
                .with_context(|| format!("creating the DynamoDB table {table}"))?;
            println!("table {table} is ready");
            Ok(())
        }
    }
}
