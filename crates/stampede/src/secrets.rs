//! The server's signing secrets (order access tokens, CSRF tokens, emailed lookups). Given
//! with `--secret-key` (several, comma separated, to rotate: the first signs, all verify),
//! or else made once and kept in the data directory, so tokens survive restarts. Several
//! instances of one shop must share the setting.

use anyhow::Context;
use stampede_domain::Signer;
use std::path::Path;

/// File in the data directory that holds a generated secret.
const SECRET_FILE: &str = "secret.key";

/// The signer for `configured` secrets, or for the data directory's own.
pub fn signer(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Signer> {
    if let Some(signer) = configured.and_then(from_setting) {
        return Ok(signer);
    }
    let path = data_dir.join(SECRET_FILE);
    let secret = match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = hex::encode(rand::random::<[u8; 32]>());
            write_private(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), "made a signing secret for this shop");
            secret
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    from_setting(&secret).with_context(|| format!("{} is empty", path.display()))
}

/// Secrets from a comma-separated setting; `None` if it names none.
pub fn from_setting(value: &str) -> Option<Signer> {
    let secrets = value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec()).collect();
    Signer::new(secrets)
}

fn write_private(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_is_kept_and_a_configured_one_wins() {
        let dir = tempfile::tempdir().unwrap();
        let first = signer(None, dir.path()).unwrap();
        let again = signer(None, dir.path()).unwrap();
        assert_eq!(first.sign("p", "m"), again.sign("p", "m"), "the same secret after a restart");
        let configured = signer(Some("new, old"), dir.path()).unwrap();
        assert_ne!(configured.sign("p", "m"), first.sign("p", "m"));
        assert!(configured.verify("p", "m", &from_setting("old").unwrap().sign("p", "m")), "rotation");
        assert!(from_setting(" , ").is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SECRET_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
