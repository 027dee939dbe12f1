//! Staff sign-in through an OpenID Connect provider such as Amazon Cognito, for deployments
//! that do not keep local accounts: a request carrying `Authorization: Bearer <ID token>` is
//! the token's subject when the token is signed by a key of the provider's JWKS, was issued
//! by the configured issuer for the configured audience, and has not expired. The role comes
//! from a groups claim (`cognito:groups` by default): `admin`, else `kitchen`, else customer.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use stampede_store::{Role, User};
use std::sync::RwLock;

/// Signature algorithms accepted; `none` and HMAC (a shared secret) never are.
const ALGORITHMS: [Algorithm; 6] =
    [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::ES256, Algorithm::ES384];

/// Clock skew allowed on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 60;

/// What tokens must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The `iss` claim, e.g. `https://cognito-idp.us-east-1.amazonaws.com/<pool id>`.
    pub issuer: String,
    /// The `aud` claim: the app client id.
    pub audience: String,
    /// The claim listing the user's groups.
    pub roles_claim: String,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm is not accepted")]
    Algorithm,
    #[error("no key in the provider's JWKS matches the token's key id")]
    UnknownKey,
    #[error("the token was rejected: {0}")]
    Invalid(String),
}

/// Verifies ID tokens against the provider's current keys.
pub struct OidcVerifier {
    config: OidcConfig,
    keys: RwLock<JwkSet>,
}

impl OidcVerifier {
    /// A verifier trusting `keys` (the provider's JWKS).
    pub fn new(config: OidcConfig, keys: JwkSet) -> OidcVerifier {
        OidcVerifier { config, keys: RwLock::new(keys) }
    }

    /// Replaces the keys, e.g. after the provider rotated them.
    pub fn set_keys(&self, keys: JwkSet) {
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
    }

    /// The user a valid token speaks for.
    pub fn verify(&self, token: &str) -> Result<User, OidcError> {
        let header = decode_header(token).map_err(|_| OidcError::Malformed)?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(OidcError::Algorithm);
        }
        let kid = header.kid.ok_or(OidcError::UnknownKey)?;
        let key = {
            let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
            let jwk = keys.find(&kid).ok_or(OidcError::UnknownKey)?;
            // The key's own algorithm, when it names one, must be the token's: a token cannot
            // pick how it is checked.
            if jwk.common.key_algorithm.is_some_and(|a| a.to_string() != format!("{:?}", header.alg)) {
                return Err(OidcError::Algorithm);
            }
            DecodingKey::from_jwk(jwk).map_err(|e| OidcError::Invalid(e.to_string()))?
        };
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        let claims = decode::<Value>(token, &key, &validation).map_err(|e| OidcError::Invalid(e.to_string()))?.claims;
        let sub = claims["sub"].as_str().filter(|s| !s.is_empty()).ok_or(OidcError::Invalid("no subject".into()))?;
        let groups: Vec<&str> = match &claims[&self.config.roles_claim] {
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            Value::String(s) => s.split([',', ' ']).collect(),
            _ => Vec::new(),
        };
        let role = if groups.contains(&"admin") {
            Role::Admin
        } else if groups.contains(&"kitchen") {
            Role::Kitchen
        } else {
            Role::Customer
        };
        let email = claims["email"].as_str().map_or_else(|| sub.to_owned(), str::to_lowercase);
        Ok(User {
            id: format!("oidc:{sub}"),
            email,
            name: claims["name"].as_str().map(str::to_owned),
            role,
            created_at: claims["iat"].as_i64().unwrap_or(0) * 1000,
            // Only when the identity provider vouches for the address: a token without the
            // claim must not own every guest order placed under its email.
            email_verified: claims["email"].is_string() && verified(&claims["email_verified"]),
            active: true,
            must_change_password: false,
        })
    }
}

/// `email_verified` as providers send it: `true`, or the string `"true"` some send instead.
fn verified(claim: &serde_json::Value) -> bool {
    claim.as_bool().unwrap_or_else(|| claim.as_str() == Some("true"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const JWKS: &str = include_str!("../../tests/fixtures/oidc-test-jwks.json");

    fn verifier() -> OidcVerifier {
        let config = OidcConfig {
            issuer: "https://issuer.test".into(),
            audience: "shop-client".into(),
            roles_claim: "cognito:groups".into(),
        };
        OidcVerifier::new(config, serde_json::from_str(JWKS).unwrap())
    }

    fn token(key_pem: &str, kid: &str, claims: serde_json::Value) -> String {
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap();
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }

    const KEY: &str = include_str!("../../tests/fixtures/oidc-test-key.pem");
    const OTHER_KEY: &str = include_str!("../../tests/fixtures/oidc-other-key.pem");

    fn claims(groups: &[&str], exp_from_now: i64) -> serde_json::Value {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        json!({"iss": "https://issuer.test", "aud": "shop-client", "sub": "abc-123", "email": "Chef@Example.com",
               "cognito:groups": groups, "iat": now, "exp": now + exp_from_now})
    }

    #[test]
    fn a_valid_token_speaks_for_its_subject_with_the_role_of_its_groups() {
        let v = verifier();
        let admin = v.verify(&token(KEY, "test-key-1", claims(&["kitchen", "admin"], 300))).unwrap();
        assert_eq!(
            (admin.id.as_str(), admin.email.as_str(), admin.role),
            ("oidc:abc-123", "chef@example.com", Role::Admin)
        );
        let cook = v.verify(&token(KEY, "test-key-1", claims(&["kitchen"], 300))).unwrap();
        assert_eq!(cook.role, Role::Kitchen);
        let nobody = v.verify(&token(KEY, "test-key-1", claims(&[], 300))).unwrap();
        assert_eq!(nobody.role, Role::Customer);
        assert!(!nobody.email_verified, "no `email_verified` claim: not vouched for");
        for (claim, vouched) in
            [(json!(true), true), (json!("true"), true), (json!(false), false), (json!("no"), false)]
        {
            let mut c = claims(&[], 300);
            c["email_verified"] = claim.clone();
            assert_eq!(v.verify(&token(KEY, "test-key-1", c)).unwrap().email_verified, vouched, "{claim}");
        }
    }

    #[test]
    fn wrong_issuer_audience_expiry_key_or_signature_are_refused() {
        let v = verifier();
        let mut wrong_iss = claims(&["admin"], 300);
        wrong_iss["iss"] = json!("https://evil.test");
        let mut wrong_aud = claims(&["admin"], 300);
        wrong_aud["aud"] = json!("another-app");
        let mut no_sub = claims(&["admin"], 300);
        no_sub.as_object_mut().unwrap().remove("sub");
        for (what, t) in [
            ("issuer", token(KEY, "test-key-1", wrong_iss)),
            ("audience", token(KEY, "test-key-1", wrong_aud)),
            ("subject", token(KEY, "test-key-1", no_sub)),
            ("expired beyond the leeway", token(KEY, "test-key-1", claims(&["admin"], -120))),
            ("signed by another key", token(OTHER_KEY, "test-key-1", claims(&["admin"], 300))),
        ] {
            assert!(matches!(v.verify(&t), Err(OidcError::Invalid(_))), "{what}: {:?}", v.verify(&t));
        }
        let unknown = token(KEY, "rotated-away", claims(&["admin"], 300));
        assert_eq!(v.verify(&unknown), Err(OidcError::UnknownKey));
        let kitchen = token(KEY, "test-key-1", claims(&["kitchen"], 300));
        let admin = token(KEY, "test-key-1", claims(&["admin"], 300));
        let (k, a): (Vec<&str>, Vec<&str>) = (kitchen.split('.').collect(), admin.split('.').collect());
        let tampered = format!("{}.{}.{}", k[0], a[1], k[2]);
        assert!(matches!(v.verify(&tampered), Err(OidcError::Invalid(_))), "a changed payload breaks the signature");
        v.set_keys(JwkSet { keys: vec![] });
        assert_eq!(
            v.verify(&token(KEY, "test-key-1", claims(&["admin"], 300))),
            Err(OidcError::UnknownKey),
            "rotated keys"
        );
    }

    #[test]
    fn malformed_and_unsigned_tokens_are_refused() {
        let v = verifier();
        assert_eq!(v.verify("not a jwt"), Err(OidcError::Malformed));
        // {"alg":"none"} . {"sub":"x"} . (no signature)
        let none = "eyJhbGciOiJub25lIiwia2lkIjoidGVzdC1rZXktMSJ9.eyJzdWIiOiJ4In0.";
        assert!(v.verify(none).is_err());
        // HS256 with the key id of an RSA key: refused before any secret is tried.
        let hs = "eyJhbGciOiJIUzI1NiIsImtpZCI6InRlc3Qta2V5LTEifQ.eyJzdWIiOiJ4In0.c2ln";
        assert_eq!(v.verify(hs), Err(OidcError::Algorithm));
    }
}
