//! `stampede admin create-user`, and the account settings of `serve`. The password comes
//! from an environment variable or stdin, never from a flag (flags show up in `ps` and
//! shell history) and never from a default.

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use stampede_store::{Accounts, Role, SqliteAccounts};
use stampede_web::auth::login_limits::{LoginLimits, LoginPolicy};
use stampede_web::auth::{SignUpError, password, register};
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

/// Environment variable `create-user` reads the password from, when set.
pub const PASSWORD_ENV: &str = "STAMPEDE_USER_PASSWORD";

/// `stampede admin ...`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account (the first admin, kitchen staff, or a customer). The password is
    /// read from STAMPEDE_USER_PASSWORD if set, else from the first line of stdin.
    CreateUser(CreateUserArgs),
}

/// A role as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Admin,
    Kitchen,
    Customer,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Kitchen => Role::Kitchen,
            RoleArg::Customer => Role::Customer,
        }
    }
}

/// `stampede admin create-user`.
#[derive(Debug, Clone, Args)]
pub struct CreateUserArgs {
    /// The account's email, used to sign in.
    #[arg(long)]
    pub email: String,
    /// What the account may do.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Directory of the SQLite database (`stampede.db`); created if missing.
    #[arg(long, env = "STAMPEDE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Create the account in this PostgreSQL database (the one `serve --store postgres`
    /// serves; its schema is brought up to date first) instead of the data directory. Not read
    /// from DATABASE_URL, so a SQLite shop's account never lands in another database.
    #[arg(long, conflicts_with = "dynamodb_table")]
    pub database_url: Option<String>,
    /// Create the account in this DynamoDB table (the one `serve --store dynamodb` serves)
    /// instead of the data directory (feature `aws`). Not read from the environment either.
    #[arg(long)]
    pub dynamodb_table: Option<String>,
    /// A local DynamoDB-compatible server (e.g. moto) for `--dynamodb-table`.
    #[arg(long, requires = "dynamodb_table")]
    pub aws_endpoint_url: Option<String>,
}

/// Accounts, sessions and sign-in limits for `serve`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Accounts")]
pub struct AccountArgs {
    /// Mark session and CSRF cookies `Secure` (HTTPS only, `__Host-` prefix). Defaults to on
    /// when --public-url starts with https://.
    #[arg(long, env = "STAMPEDE_COOKIE_SECURE", action = clap::ArgAction::Set)]
    pub cookie_secure: Option<bool>,
    /// Sign-in attempts one client address may make per minute (0 turns the limit off).
    #[arg(long, env = "STAMPEDE_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 10)]
    pub login_attempts_per_minute: u32,
    /// Wrong passwords in a row that lock an email (0 turns lockout off).
    #[arg(long, env = "STAMPEDE_LOGIN_LOCKOUT_FAILURES", default_value_t = 5)]
    pub login_lockout_failures: u32,
    /// Minutes a locked email stays locked.
    #[arg(long, env = "STAMPEDE_LOGIN_LOCKOUT_MINUTES", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub login_lockout_minutes: u64,
    /// Accept OIDC ID tokens (`Authorization: Bearer`) from this issuer, e.g. a Cognito user
    /// pool `https://cognito-idp.<region>.amazonaws.com/<pool id>`.
    #[arg(long, env = "STAMPEDE_OIDC_ISSUER", requires = "oidc_audience")]
    pub oidc_issuer: Option<String>,
    /// The audience tokens must name: the app client id.
    #[arg(long, env = "STAMPEDE_OIDC_AUDIENCE", requires = "oidc_issuer")]
    pub oidc_audience: Option<String>,
    /// Where the issuer's signing keys are; defaults to `<issuer>/.well-known/jwks.json`.
    /// Fetched at start and every 10 minutes.
    #[arg(long, env = "STAMPEDE_OIDC_JWKS_URL")]
    pub oidc_jwks_url: Option<String>,
    /// The claim that lists a user's groups; `admin` and `kitchen` map to those roles.
    #[arg(long, env = "STAMPEDE_OIDC_ROLES_CLAIM", default_value = "cognito:groups")]
    pub oidc_roles_claim: String,
}

impl AccountArgs {
    /// The sign-in limits these flags describe.
    pub fn login_limits(&self) -> LoginLimits {
        LoginLimits::new(LoginPolicy {
            per_ip_per_minute: self.login_attempts_per_minute,
            lockout_after: self.login_lockout_failures,
            lockout_for: Duration::from_secs(self.login_lockout_minutes * 60),
        })
    }

    /// Whether cookies are `Secure`: the flag, else whether the public URL is HTTPS.
    pub fn secure_cookies(&self, public_url: Option<&str>) -> bool {
        self.cookie_secure.unwrap_or_else(|| public_url.is_some_and(|u| u.starts_with("https://")))
    }
}

/// Runs an admin command.
pub async fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::CreateUser(args) => create_user(args).await,
    }
}

async fn create_user(args: CreateUserArgs) -> anyhow::Result<()> {
    let password = match std::env::var(PASSWORD_ENV) {
        Ok(p) => p,
        Err(_) => {
            eprintln!("Password for {} (one line on stdin):", args.email);
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if let Some(weak) = password::weakness(&password) {
        bail!("the password is not accepted: {weak}");
    }
    let accounts: Box<dyn Accounts> = match (&args.database_url, &args.dynamodb_table) {
        (Some(url), _) => postgres_accounts(url).await?,
        (None, Some(table)) => dynamodb_accounts(table, args.aws_endpoint_url.as_deref()).await?,
        (None, None) => Box::new(
            SqliteAccounts::open(&args.data_dir.join("stampede.db"))
                .with_context(|| format!("opening the database in {}", args.data_dir.display()))?,
        ),
    };
    let user = match register(accounts.as_ref(), &args.email, args.name.as_deref(), &password, args.role.into()).await {
        Ok(user) => user,
        Err(SignUpError::Email(e) | SignUpError::EmailTaken(e) | SignUpError::Name(e) | SignUpError::Password(e)) => {
            bail!("{e}")
        }
        Err(SignUpError::Store(e)) => return Err(e.into()),
    };
    let entry = stampede_store::NewAudit {
        actor: "cli".into(),
        action: "user.create".into(),
        target: user.email.clone(),
        detail: format!("created with role {}", user.role.as_str()),
    };
    accounts.record(entry).await?;
    println!("created {} account {}", user.role.as_str(), user.email);
    Ok(())
}

#[cfg(feature = "postgres")]
async fn postgres_accounts(url: &str) -> anyhow::Result<Box<dyn Accounts>> {
    use stampede_store::{PostgresConfig, PostgresStore};
    let config = PostgresConfig { pool_size: 1, ..PostgresConfig::new(url) };
    Ok(Box::new(PostgresStore::connect(config).await.context("opening the PostgreSQL store")?))
}

#[cfg(not(feature = "postgres"))]
async fn postgres_accounts(_: &str) -> anyhow::Result<Box<dyn Accounts>> {
    bail!(
        "--database-url needs a build with the postgres feature: cargo run --release --features postgres -- admin ..."
    )
}

#[cfg(feature = "aws")]
async fn dynamodb_accounts(table: &str, endpoint_url: Option<&str>) -> anyhow::Result<Box<dyn Accounts>> {
    use stampede_store::{DynamoConfig, DynamoStore, Store};
    let store = DynamoStore::new(DynamoStore::client_or_local(endpoint_url).await, DynamoConfig::new(table));
    store.ping().await.with_context(|| format!("reaching the DynamoDB table {table}"))?;
    Ok(Box::new(store))
}

#[cfg(not(feature = "aws"))]
async fn dynamodb_accounts(_: &str, _: Option<&str>) -> anyhow::Result<Box<dyn Accounts>> {
    bail!("--dynamodb-table needs a build with the aws feature: cargo run --release --features aws -- admin ...")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        accounts: AccountArgs,
    }

    #[test]
    fn cookies_are_secure_over_https_unless_told_otherwise() {
        let parse = |args: &[&str]| Flags::parse_from([&["stampede"], args].concat()).accounts;
        assert!(parse(&[]).secure_cookies(Some("https://shop.example")));
        assert!(!parse(&[]).secure_cookies(Some("http://127.0.0.1:3000")));
        assert!(!parse(&[]).secure_cookies(None));
        assert!(!parse(&["--cookie-secure", "false"]).secure_cookies(Some("https://shop.example")));
        assert!(parse(&["--cookie-secure", "true"]).secure_cookies(None));
        assert!(
            Flags::try_parse_from(["stampede", "--oidc-issuer", "https://i"]).is_err(),
            "an issuer needs an audience"
        );
    }
}
