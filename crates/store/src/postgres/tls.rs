//! TLS to PostgreSQL, as RDS, Aurora and Cloud SQL want it: libpq's `sslmode` and
//! `sslrootcert` in the database URL, over rustls. tokio-postgres itself knows only
//! `disable`, `prefer` and `require` and no `sslrootcert`, so both are taken out of the URL
//! here and turned into the connector's certificate checks:
//!
//! | `sslmode` | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | no | |
//! | `prefer` (the default) | if the server offers it | no |
//! | `require` | yes, or no connection | no (libpq's `require` does not check either) |
//! | `verify-ca` | yes | chain to a trusted root |
//! | `verify-full` | yes | chain and host name |
//!
//! The trusted roots are the certificates in `sslrootcert` (a PEM file: RDS's
//! `global-bundle.pem`, say), or else the system's (what libpq's `sslrootcert=system` reads:
//! `/etc/ssl/certs` on Debian, or `SSL_CERT_FILE`). Unlike libpq, no file under
//! `~/.postgresql` is read.

use crate::StoreError;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// Where and how to connect: the URL's settings for tokio-postgres, and the TLS connector
/// that checks what its `sslmode` asks.
pub(crate) struct Endpoint {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
}

/// What a certificate must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

/// Parses `url` (URL or libpq `key=value` form) with its TLS settings.
pub(crate) fn endpoint(url: &str) -> Result<Endpoint, StoreError> {
    let invalid = |e: String| StoreError::Backend(format!("the database URL is not valid: {e}"));
    let (rest, ours) = take_tls_options(url);
    let mut config: tokio_postgres::Config = rest.parse().map_err(|e| invalid(format!("{e}")))?;
    let (mode, check) = match ours.sslmode.as_deref() {
        None => (config.get_ssl_mode(), Check::Nothing),
        Some("disable") => (SslMode::Disable, Check::Nothing),
        Some("prefer") => (SslMode::Prefer, Check::Nothing),
        Some("require") => (SslMode::Require, Check::Nothing),
        Some("verify-ca") => (SslMode::Require, Check::Chain),
        Some("verify-full") => (SslMode::Require, Check::ChainAndName),
        Some(other) => {
            return Err(invalid(format!(
                "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    config.ssl_mode(mode);
    Ok(Endpoint { config, tls: MakeRustlsConnect::new(client_config(check, ours.sslrootcert.as_deref())?) })
}

/// The TLS options tokio-postgres does not take.
#[derive(Debug, Default, PartialEq, Eq)]
struct TlsOptions {
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

/// `url` without `sslmode` and `sslrootcert`, and their values: from the query of a
/// `postgres://` URL (percent-decoded), or from the words of a `key=value` string.
fn take_tls_options(url: &str) -> (String, TlsOptions) {
    let mut ours = TlsOptions::default();
    let mut take = |key: &str, value: String| match key {
        "sslmode" => ours.sslmode = Some(value),
        "sslrootcert" => ours.sslrootcert = Some(value),
        _ => unreachable!("only our keys are taken"),
    };
    let ours_key = |key: &str| key == "sslmode" || key == "sslrootcert";
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else { return (url.to_owned(), ours) };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some((key, value)) if ours_key(key) => take(key, percent_decode(value)),
                _ => kept.push(pair),
            }
        }
        if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) }
    } else {
        let mut kept = Vec::new();
        for word in url.split(' ') {
            match word.split_once('=') {
                Some((key, value)) if ours_key(key) => take(key, value.trim_matches('\'').to_owned()),
                _ => kept.push(word),
            }
        }
        kept.join(" ")
    };
    (rest, ours)
}

/// `%XX` escapes decoded (a path in a URL query may carry them).
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The certificates in the PEM file `path`, or the system's.
fn roots(path: Option<&str>) -> Result<RootCertStore, StoreError> {
    let mut roots = RootCertStore::empty();
    let Some(path) = path else {
        // Certificates the system store holds but rustls cannot parse are skipped.
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if roots.is_empty() {
            return Err(StoreError::Backend(
                "the system has no trusted root certificates: name a file with sslrootcert in the database URL".into(),
            ));
        }
        return Ok(roots);
    };
    let unreadable = |e: String| StoreError::Backend(format!("sslrootcert={path}: {e}"));
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| unreadable(e.to_string()))?;
    for cert in certs {
        roots.add(cert.map_err(|e| unreadable(e.to_string()))?).map_err(|e| unreadable(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(unreadable("no certificate in the file".into()));
    }
    Ok(roots)
}

/// ring, named: the build links no other provider, and naming it spares relying on a
/// process-wide default.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(check: Check, sslrootcert: Option<&str>) -> Result<ClientConfig, StoreError> {
    let provider = provider();
    let tls_error = |e: String| StoreError::Backend(format!("TLS set-up: {e}"));
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?;
    let algorithms = provider.signature_verification_algorithms;
    // The roots are read only when a mode checks certificates.
    let webpki = match check {
        Check::Nothing => None,
        Check::Chain | Check::ChainAndName => Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots(sslrootcert)?), provider)
                .build()
                .map_err(|e| tls_error(e.to_string()))?,
        ),
    };
    let verifier = Arc::new(ServerCheck { webpki, algorithms, names: check == Check::ChainAndName });
    Ok(builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth())
}

/// The server's certificate checked as the `sslmode` says: without `webpki` (`prefer`,
/// `require`) any certificate is taken, as libpq does. The handshake's signatures are checked
/// whatever the mode, so the server holds the key of the certificate it sent.
#[derive(Debug)]
struct ServerCheck {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
    /// The certificate must name the host (`verify-full`).
    names: bool,
}

impl ServerCertVerifier for ServerCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else { return Ok(ServerCertVerified::assertion()) };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.names => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_options_leave_the_url_and_the_rest_stays() {
        let (rest, ours) = take_tls_options(
            "postgres://u:p@db:5432/shop?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Frds.pem",
        );
        assert_eq!(rest, "postgres://u:p@db:5432/shop?application_name=x");
        assert_eq!(ours.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(ours.sslrootcert.as_deref(), Some("/etc/rds.pem"));
        let (rest, ours) = take_tls_options("host=db user=u sslmode=require dbname=shop");
        assert_eq!(rest, "host=db user=u dbname=shop");
        assert_eq!(ours.sslmode.as_deref(), Some("require"));
        assert_eq!(take_tls_options("postgres://db/shop").1, TlsOptions::default());
    }

    #[test]
    fn each_sslmode_is_understood_and_others_refused() {
        // verify-ca and verify-full read root certificates: the TLS-only cluster's test has them.
        for mode in ["disable", "prefer", "require"] {
            let parsed = endpoint(&format!("postgres://db/shop?sslmode={mode}")).map(|e| e.config.get_ssl_mode());
            let expected = match mode {
                "disable" => SslMode::Disable,
                "prefer" => SslMode::Prefer,
                _ => SslMode::Require,
            };
            assert_eq!(parsed.ok(), Some(expected), "{mode}");
        }
        assert!(endpoint("postgres://db/shop?sslmode=allow").is_err());
        let missing = endpoint("postgres://db/shop?sslmode=verify-full&sslrootcert=/nonexistent.pem");
        assert!(matches!(missing, Err(StoreError::Backend(m)) if m.contains("/nonexistent.pem")));
    }
}
