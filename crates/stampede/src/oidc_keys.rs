//! The OIDC provider's signing keys for `serve`: fetched from its JWKS URL at start (a
//! wrong URL fails the start, not the first sign-in) and again every 10 minutes, so keys the
//! provider rotates in are picked up without a restart.

use crate::admin_cli::AccountArgs;
use anyhow::{Context, bail};
use jsonwebtoken::jwk::JwkSet;
use stampede_web::auth::oidc::{OidcConfig, OidcVerifier};
use std::sync::Arc;
use std::time::Duration;

/// How often the keys are fetched again.
const REFRESH: Duration = Duration::from_secs(600);

/// The verifier the flags describe, with its keys loaded; `None` when OIDC is off.
pub async fn verifier(args: &AccountArgs) -> anyhow::Result<Option<Arc<OidcVerifier>>> {
    let (Some(issuer), Some(audience)) = (&args.oidc_issuer, &args.oidc_audience) else { return Ok(None) };
    let issuer = issuer.trim_end_matches('/').to_owned();
    let url = args.oidc_jwks_url.clone().unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json"));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let keys = fetch(&client, &url).await.with_context(|| format!("fetching the OIDC keys from {url}"))?;
    tracing::info!(%issuer, %url, keys = keys.keys.len(), "accepting OIDC ID tokens");
    let config = OidcConfig { issuer, audience: audience.clone(), roles_claim: args.oidc_roles_claim.clone() };
    let verifier = Arc::new(OidcVerifier::new(config, keys));
    let refreshed = verifier.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(REFRESH).await;
            match fetch(&client, &url).await {
                Ok(keys) => refreshed.set_keys(keys),
                // Keep the keys we have: a provider hiccup must not sign everyone out.
                Err(e) => tracing::warn!(error = %e, %url, "could not refresh the OIDC keys"),
            }
        }
    });
    Ok(Some(verifier))
}

async fn fetch(client: &reqwest::Client, url: &str) -> anyhow::Result<JwkSet> {
    let response = client.get(url).send().await?.error_for_status()?;
    let keys: JwkSet = response.json().await.context("the JWKS is not valid JSON")?;
    if keys.keys.is_empty() {
        bail!("the JWKS holds no keys");
    }
    Ok(keys)
}
