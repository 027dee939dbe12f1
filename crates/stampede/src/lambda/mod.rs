//! Stampede on AWS Lambda (feature `aws`): the same Router as `stampede serve`, over the
//! DynamoDB store, behind API Gateway's HTTP API; and the outbox relay as a second function.
//! Everything expensive (config, SDK clients, the Router) is built once per cold start.

pub mod logs;
pub mod origin_guard;
pub mod relay;
pub mod secrets;
pub mod trace;

use crate::cli::{CorsArgs, NotifyArgs};
use anyhow::Context;
use clap::{Parser, ValueEnum};
use stampede_store::{DynamoConfig, DynamoStore, Store, StoreError};
use stampede_web::AppState;
use std::sync::Arc;

/// The Lambda's settings, from environment variables only (a Lambda has no command line).
#[derive(Debug, Parser)]
#[command(name = "stampede-lambda", about = "Stampede on AWS Lambda")]
pub struct LambdaArgs {
    /// What this function does: `http` serves API Gateway events, `relay` delivers the outbox.
    #[arg(long, env = "STAMPEDE_LAMBDA_ROLE", value_enum, default_value_t = Role::Http)]
    pub role: Role,
    /// The DynamoDB table (deploy/template.yaml creates it).
    #[arg(long, env = "STAMPEDE_DYNAMODB_TABLE")]
    pub table: String,
    /// Endpoint override for DynamoDB: a local DynamoDB-compatible server in tests, with dummy credentials.
    #[arg(long, env = "STAMPEDE_DYNAMODB_ENDPOINT")]
    pub dynamodb_endpoint: Option<String>,
    /// Bearer token for /api/admin; unset disables the admin API.
    #[arg(long, env = "STAMPEDE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Add the demo shop's products when the catalog is empty (for a first deploy).
    #[arg(long, env = "STAMPEDE_SEED_DEMO", default_value_t = false, action = clap::ArgAction::Set)]
    pub seed_demo: bool,
    /// Secret(s) that sign order access tokens and receipt links, comma separated (the first
    /// signs, all verify). Every function of the stack must get the same value.
    #[arg(long, env = "STAMPEDE_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Secret CloudFront sends as `X-Stampede-Origin` (from `STAMPEDE_ORIGIN_SECRET_ARN`):
    /// when set, requests without it are refused.
    #[arg(skip)]
    pub origin_secret: Option<String>,
    #[command(flatten)]
    pub secrets: secrets::SecretArns,
    #[command(flatten)]
    pub shop: crate::shop_args::ShopArgs,
    #[command(flatten)]
    pub cors: CorsArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
}

/// The two functions one artifact serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    Http,
    Relay,
}

impl LambdaArgs {
    /// Reads the settings from the environment, with a clear message for what is missing,
    /// and the values of the secrets it names.
    pub async fn from_env() -> anyhow::Result<LambdaArgs> {
        let mut args = LambdaArgs::try_parse_from(["stampede-lambda"]).context("reading STAMPEDE_* settings")?;
        let found = secrets::read(&args.secrets, args.notify.aws_endpoint_url.as_deref()).await?;
        args.apply_secrets(found);
        Ok(args)
    }

    /// Puts each secret's value where the plain setting would go; a secret read from
    /// Secrets Manager wins over the plain setting.
    fn apply_secrets(&mut self, found: secrets::SecretValues) {
        self.admin_token = found.admin_token.or(self.admin_token.take());
        self.secret_key = found.secret_key.or(self.secret_key.take());
        self.origin_secret = found.origin_secret;
        self.notify.webhook_secret = found.webhook_secret.or(self.notify.webhook_secret.take());
    }

    /// The signer of the configured secret; `None` (with a warning) if there is none.
    pub fn signer(&self) -> Option<stampede_domain::Signer> {
        let signer = self.secret_key.as_deref().and_then(crate::secrets::from_setting);
        if signer.is_none() {
            tracing::warn!(
                "STAMPEDE_SECRET_KEY is not set: order access tokens work only on the instance that made them"
            );
        }
        signer
    }
}

/// The store the settings name.
pub async fn open_store(args: &LambdaArgs) -> Arc<DynamoStore> {
    let client = DynamoStore::client_or_local(args.dynamodb_endpoint.as_deref()).await;
    let retention = args.notify.retention();
    Arc::new(DynamoStore::new(client, DynamoConfig { retention, ..DynamoConfig::new(&args.table) }))
}

/// The public base URL for links in email: set it (the API's or CloudFront's URL).
fn public_url(args: &LambdaArgs) -> String {
    args.notify.public_url.clone().unwrap_or_else(|| "http://localhost".to_owned())
}

/// Cold start of the HTTP function: store, optional demo seed, and the Router.
pub async fn http_app(args: &LambdaArgs) -> anyhow::Result<axum::Router> {
    let store = open_store(args).await;
    if args.seed_demo {
        seed(store.as_ref()).await?;
    }
    // API Gateway buffers whole responses, so a live-stock stream would hold an invocation
    // until its timeout. Marked as closing from the start, each stream sends the current
    // stock with a 3 s reconnect hint and ends: browsers then poll every 3 s.
    let (_, always_closing) = tokio::sync::watch::channel(true);
    // Behind API Gateway the function is public: the dev mailbox (every customer's email)
    // is never served, and metrics are CloudWatch's.
    let mut state = AppState::new(store, args.admin_token.as_deref().filter(|t| !t.is_empty()).map(Arc::from))
        .with_dev_mailbox(stampede_web::DevMailbox::Off)
        .with_metrics(stampede_web::MetricsAccess::Off)
        .with_shop(args.shop.settings())
        .with_cors(args.cors.cors_allow_origins.clone())
        .with_write_through_lines()
        .with_shutdown(always_closing);
    if let Some(signer) = args.signer() {
        state = state.with_signer(signer);
    }
    let mut app = stampede_web::router(state);
    if let Some(secret) = args.origin_secret.as_deref().filter(|s| !s.is_empty()) {
        app = app.layer(axum::middleware::from_fn_with_state(Arc::<str>::from(secret), origin_guard::require));
    }
    Ok(app.layer(axum::middleware::from_fn(trace::lambda_span)))
}

/// Seeds the demo shop into an empty catalog. Several instances may cold-start at once:
/// the loser of a race for a product id finds it taken, which is fine.
async fn seed(store: &dyn Store) -> anyhow::Result<()> {
    if !store.products().await?.is_empty() {
        return Ok(());
    }
    match stampede_store::seed::demo_shop(store).await {
        Ok(count) => tracing::info!(products = count, "seeded the demo shop"),
        Err(StoreError::Conflict(_)) => tracing::info!("another instance is seeding the demo shop"),
        Err(e) => return Err(e).context("seeding the demo shop"),
    }
    Ok(())
}
