//! OIDC (Cognito-style) ID tokens on the real binary: keys fetched from a JWKS URL served
//! here, tokens signed with a test-only key; the dashboard and the admin API accept valid
//! tokens by group, and refuse expired, foreign or badly signed ones.

use crate::common::process::Server;
use crate::common::send_json;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

const KEY: &str = include_str!("../../../web/tests/fixtures/oidc-test-key.pem");
const OTHER_KEY: &str = include_str!("../../../web/tests/fixtures/oidc-other-key.pem");
const JWKS: &str = include_str!("../../../web/tests/fixtures/oidc-test-jwks.json");
const ISSUER: &str = "https://cognito-idp.test.example/pool-1";

fn token(key: &str, groups: &[&str], expires_in: i64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = json!({"iss": ISSUER, "aud": "shop-client", "sub": format!("user-{}", groups.join("-")),
        "email": format!("{}@example.com", groups.first().unwrap_or(&"nobody")), "cognito:groups": groups,
        "iat": now, "exp": now + expires_in});
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key-1".into());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(key.as_bytes()).unwrap()).unwrap()
}

async fn jwks_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/jwks.json", axum::routing::get(|| async { ([("content-type", "application/json")], JWKS) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/jwks.json")
}

// Multi-threaded: `Server::start` blocks this thread while the JWKS server answers on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_tokens_open_the_dashboard_and_admin_api_by_group() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = jwks_server().await;
    let server = Server::start(
        dir.path(),
        &["--oidc-issuer", ISSUER, "--oidc-audience", "shop-client", "--oidc-jwks-url", &jwks],
    );
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = |path: &str, token: &str| {
        client.get(server.url(path)).header("accept", "text/html").bearer_auth(token.to_owned()).send()
    };
    let admin = token(KEY, &["admin"], 600);
    let kitchen = token(KEY, &["kitchen"], 600);
    assert_eq!(page("/admin/products", &admin).await.unwrap().status(), 200);
    assert_eq!(page("/admin/orders", &kitchen).await.unwrap().status(), 200);
    assert_eq!(page("/admin/products", &kitchen).await.unwrap().status(), 403);
    assert_eq!(page("/admin/orders", &token(KEY, &[], 600)).await.unwrap().status(), 403, "customers are not staff");
    for (what, bad) in [("expired", token(KEY, &["admin"], -600)), ("foreign key", token(OTHER_KEY, &["admin"], 600))] {
        let resp = page("/admin/orders", &bad).await.unwrap();
        assert_eq!(resp.status(), 303, "{what} tokens are anonymous");
    }

    // The admin API takes an admin's token instead of the static one.
    let order = send_json(
        client.post(server.url("/api/orders")).json(&json!({"userId": "u1", "productId": "cola", "quantity": 1})),
    )
    .await;
    let id = order["id"].as_str().unwrap();
    let status = |token: String| {
        client
            .post(server.url(&format!("/api/admin/orders/{id}/status")))
            .bearer_auth(token)
            .json(&json!({"status": "preparing"}))
            .send()
    };
    assert_eq!(status(kitchen.clone()).await.unwrap().status(), 403);
    assert_eq!(status(admin.clone()).await.unwrap().status(), 200);

    // A bearer token cannot be attached by another site, so its form posts need no CSRF token.
    let advanced = client
        .post(server.url(&format!("/admin/orders/{id}/status")))
        .bearer_auth(kitchen)
        .form(&[("status", "ready")])
        .send()
        .await
        .unwrap();
    assert_eq!(advanced.status(), 303);
    let conn = rusqlite::Connection::open(dir.path().join("stampede.db")).unwrap();
    let mut stmt = conn.prepare("SELECT actor FROM audit_log WHERE action = 'order.status' ORDER BY id").unwrap();
    let actors: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(actors, ["admin@example.com", "kitchen@example.com"], "the token's email is the audit actor");
}

#[test]
fn an_unreachable_jwks_fails_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stampede"))
        .args(["--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(["--oidc-issuer", ISSUER, "--oidc-audience", "a", "--oidc-jwks-url", "http://127.0.0.1:9/jwks.json"])
        .env("STAMPEDE_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("fetching the OIDC keys from http://127.0.0.1:9/jwks.json"), "{stderr}");
}
