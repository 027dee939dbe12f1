//! `stampede-lambda` (feature `aws`): the Lambda bootstrap. `STAMPEDE_LAMBDA_ROLE=http`
//! serves the shop's Router behind API Gateway; `relay` delivers the outbox. See
//! docs/aws.md.

use stampede::lambda::{self, LambdaArgs, Role};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda::logs::init();
    let args = LambdaArgs::from_env().await.inspect_err(|e| tracing::error!("{e:#}"))?;
    tracing::info!(role = ?args.role, table = %args.table, "cold start");
    match args.role {
        Role::Http => {
            let app = lambda::http_app(&args).await.inspect_err(|e| tracing::error!("{e:#}"))?;
            lambda_http::run(app).await
        }
        Role::Relay => lambda::relay::run(args).await,
    }
}
