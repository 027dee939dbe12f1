//! Settings whose values live in AWS Secrets Manager. The environment names each secret by
//! its ARN, never the value, so neither the function's configuration nor the template shows
//! one; the values are read once per cold start.

use anyhow::Context as _;
use std::time::Duration;

/// The ARNs of the secrets the stack keeps (deploy/template.yaml makes the first three).
#[derive(Debug, Default, clap::Args)]
pub struct SecretArns {
    /// Secrets Manager secret holding the admin API's bearer token.
    #[arg(long, env = "STAMPEDE_ADMIN_TOKEN_SECRET_ARN")]
    pub admin_token_secret_arn: Option<String>,
    /// Secret holding the signing key(s) (comma separated to rotate), as `STAMPEDE_SECRET_KEY`.
    #[arg(long, env = "STAMPEDE_SECRET_KEY_SECRET_ARN")]
    pub secret_key_secret_arn: Option<String>,
    /// Secret CloudFront sends as `X-Stampede-Origin`: requests without it are refused, so
    /// the API's own URL cannot be used to go around CloudFront (and its WAF rules).
    #[arg(long, env = "STAMPEDE_ORIGIN_SECRET_ARN")]
    pub origin_secret_arn: Option<String>,
    /// Secret holding the webhook signing secret, as `STAMPEDE_WEBHOOK_SECRET`.
    #[arg(long, env = "STAMPEDE_WEBHOOK_SECRET_ARN")]
    pub webhook_secret_arn: Option<String>,
}

/// The values of the secrets [`SecretArns`] names; `None` where no ARN was given.
#[derive(Debug, Default)]
pub struct SecretValues {
    pub admin_token: Option<String>,
    pub secret_key: Option<String>,
    pub origin_secret: Option<String>,
    pub webhook_secret: Option<String>,
}

/// Reads every named secret (through Secrets Manager at `aws_endpoint`, if set). A secret
/// that cannot be read stops the cold start: running without the admin token or signing key
/// would fail later in ways that are harder to see.
pub async fn read(refs: &SecretArns, aws_endpoint: Option<&str>) -> anyhow::Result<SecretValues> {
    let wanted =
        [&refs.admin_token_secret_arn, &refs.secret_key_secret_arn, &refs.origin_secret_arn, &refs.webhook_secret_arn];
    if wanted.iter().all(|arn| arn.as_deref().is_none_or(str::is_empty)) {
        return Ok(SecretValues::default());
    }
    let sdk = stampede_notify::channels::sns::sdk_config(aws_endpoint, Duration::from_secs(5)).await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let read = |arn: Option<String>| {
        let client = client.clone();
        async move {
            let Some(arn) = arn.filter(|a| !a.is_empty()) else { return Ok(None) };
            let out = client.get_secret_value().secret_id(&arn).send().await.with_context(|| {
                format!("reading the secret {arn} (does the role allow secretsmanager:GetSecretValue?)")
            })?;
            let value = out.secret_string.with_context(|| format!("the secret {arn} has no text value"))?;
            anyhow::Ok(Some(value.trim().to_owned()))
        }
    };
    let (admin_token, secret_key, origin_secret, webhook_secret) = tokio::try_join!(
        read(refs.admin_token_secret_arn.clone()),
        read(refs.secret_key_secret_arn.clone()),
        read(refs.origin_secret_arn.clone()),
        read(refs.webhook_secret_arn.clone()),
    )?;
    Ok(SecretValues { admin_token, secret_key, origin_secret, webhook_secret })
}
