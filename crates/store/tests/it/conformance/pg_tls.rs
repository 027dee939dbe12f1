//! TLS to PostgreSQL, on a cluster of this test's own that accepts TLS connections only
//! (`ssl = on`, `hostssl` lines alone in pg_hba.conf), with a certificate for 127.0.0.1 signed
//! by a CA made here with openssl. Each `sslmode` is tried by connecting a store for real.

use super::pg_server::Cluster;
use stampede_store::{PostgresConfig, PostgresStore, StoreError};
use std::path::Path;
use std::process::Command;

/// A CA and a server certificate for IP 127.0.0.1 (not for `localhost`) in `dir`:
/// `ca.crt`, `server.crt`, `server.key`.
fn certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl must be installed");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=Stampede test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ]);
}

/// Turns TLS on in `cluster` with the certificate in `certs`, and refuses every connection
/// that is not TLS.
fn tls_only(cluster: &Cluster, certs: &Path) {
    let data = cluster.data_dir();
    for file in ["server.crt", "server.key"] {
        std::fs::copy(certs.join(file), data.join(file)).unwrap();
    }
    // The server runs as the data directory's owner and wants its key readable by it alone.
    let owner = std::fs::metadata(&data).map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap();
    for file in ["server.crt", "server.key"] {
        std::os::unix::fs::chown(data.join(file), Some(owner), None).unwrap();
    }
    std::fs::set_permissions(data.join("server.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
    conf.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
    std::fs::write(data.join("postgresql.conf"), conf).unwrap();
    std::fs::write(data.join("pg_hba.conf"), "local all all trust\nhostssl all all 127.0.0.1/32 trust\n").unwrap();
    cluster.reload();
}

async fn connects(url: &str) -> Result<(), StoreError> {
    PostgresStore::connect(PostgresConfig::new(url)).await.map(drop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sslmode_connects_or_refuses_as_libpq_would() {
    let cluster = Cluster::start();
    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    tls_only(&cluster, certs.path());
    let ca = certs.path().join("ca.crt");
    let ca = ca.to_str().unwrap();
    let on = |host: &str, query: &str| {
        let url = cluster.url.replace("127.0.0.1", host);
        format!("{url}?{query}")
    };
    // The server refuses plain connections: the reload took effect.
    let plain = connects(&on("127.0.0.1", "sslmode=disable")).await;
    assert!(matches!(&plain, Err(StoreError::Backend(m)) if m.contains("pg_hba.conf")), "{plain:?}");
    // Encrypted without checking the certificate, as libpq's require and prefer do.
    connects(&on("127.0.0.1", "sslmode=require")).await.unwrap();
    connects(&on("127.0.0.1", "sslmode=prefer")).await.unwrap();
    connects(&cluster.url).await.unwrap();
    // The certificate checked against the CA file, and its name against the host.
    connects(&on("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}"))).await.unwrap();
    connects(&on("localhost", &format!("sslmode=verify-ca&sslrootcert={ca}"))).await.unwrap();
    let wrong_name = connects(&on("localhost", &format!("sslmode=verify-full&sslrootcert={ca}"))).await;
    assert!(matches!(&wrong_name, Err(StoreError::Backend(m)) if m.contains("certificate")), "{wrong_name:?}");
    // Without the CA file the system's roots are trusted, and none of them signed this one.
    let unknown_ca = connects(&on("127.0.0.1", "sslmode=verify-full")).await;
    assert!(matches!(&unknown_ca, Err(StoreError::Backend(m)) if m.contains("certificate")), "{unknown_ca:?}");
}
