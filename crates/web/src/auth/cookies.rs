//! The cookies accounts use: the session and the CSRF token. Both are HttpOnly and
//! SameSite=Lax; over HTTPS they are also `Secure` with the `__Host-` prefix, which pins
//! them to this host so a sibling subdomain cannot plant its own.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use sha2::{Digest, Sha256};

/// How cookies are marked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CookiePolicy {
    /// Mark cookies `Secure` (only sent over HTTPS).
    pub secure: bool,
}

impl CookiePolicy {
    /// The name a cookie goes by under this policy.
    pub fn name(&self, base: &str) -> String {
        if self.secure { format!("__Host-{base}") } else { base.to_owned() }
    }

    /// A `Set-Cookie` value; `max_age` of `None` makes a browser-session cookie.
    pub fn set(&self, base: &str, value: &str, max_age: Option<u64>) -> String {
        let mut cookie = format!("{}={value}; Path=/; HttpOnly; SameSite=Lax", self.name(base));
        if let Some(secs) = max_age {
            cookie.push_str(&format!("; Max-Age={secs}"));
        }
        if self.secure {
            cookie.push_str("; Secure");
        }
        cookie
    }

    /// A `Set-Cookie` value that removes the cookie.
    pub fn clear(&self, base: &str) -> String {
        self.set(base, "", Some(0))
    }

    /// The value of a cookie the request carries.
    pub fn read<'h>(&self, headers: &'h HeaderMap, base: &str) -> Option<&'h str> {
        cookie(headers, &self.name(base)).filter(|v| !v.is_empty())
    }
}

/// A fresh unguessable token: 32 random bytes as hex.
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The value of the first cookie called `name` in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// What is stored of a session token: its SHA-256, so the database alone cannot sign anyone in.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares without an early exit, so timing does not leak how much of a guess was right.
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn secure_cookies_are_host_prefixed() {
        let plain = CookiePolicy { secure: false };
        let secure = CookiePolicy { secure: true };
        assert_eq!(plain.set("session", "t", Some(60)), "session=t; Path=/; HttpOnly; SameSite=Lax; Max-Age=60");
        assert_eq!(secure.set("csrf", "t", None), "__Host-csrf=t; Path=/; HttpOnly; SameSite=Lax; Secure");
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("cart=x; __Host-csrf=abc; session=s"));
        assert_eq!(secure.read(&headers, "csrf"), Some("abc"));
        assert_eq!(plain.read(&headers, "csrf"), None, "the prefixed cookie is not the plain one");
        assert_eq!(plain.read(&headers, "session"), Some("s"));
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
        assert!(same(&a, &a.clone()) && !same(&a, &b) && !same("a", "ab"));
    }
}
