//! One-time links sent by email, through the outbox: a guest's way to see the orders placed
//! under their email, and an account's proof that its owner reads its email.
//!
//! The token is 32 random bytes; only its SHA-256 is stored, and a link works once, before
//! it expires. Opening is a button (a form post), not the link itself, so a mail scanner
//! that fetches every link cannot use one up. Once opened, a guest's lookup is remembered
//! for an hour in a cookie the server signs.

use super::Auth;
use super::cookies::{CookiePolicy, new_token, token_hash};
use axum::http::HeaderMap;
use serde_json::json;
use stampede_domain::{Millis, Signer};
use stampede_store::{LinkOpening, LinkPurpose, NewEmailLink, StoreError};
use std::time::Duration;

/// How long a lookup link works.
pub const LOOKUP_LINK_TTL: Duration = Duration::from_secs(30 * 60);
/// How long a verification link works.
pub const VERIFY_LINK_TTL: Duration = Duration::from_secs(24 * 3600);
/// Links of one purpose one email may receive per hour: enough for a lost email, too few to
/// flood an inbox.
pub const LINKS_PER_EMAIL_PER_HOUR: u32 = 3;
/// Cookie that remembers an opened lookup link.
pub const LOOKUP_COOKIE: &str = "lookup";
/// How long an opened lookup is remembered.
const LOOKUP_COOKIE_TTL: Duration = Duration::from_secs(3600);
const LOOKUP_PURPOSE: &str = "order-lookup-cookie";

/// Where each kind of link lands.
pub fn path(purpose: LinkPurpose) -> &'static str {
    match purpose {
        LinkPurpose::OrderLookup => "/my-orders/open",
        LinkPurpose::VerifyEmail => "/account/verify",
    }
}

/// Stores a fresh link for `email` and queues the email that carries it, unless the email
/// already had its share this hour. Either way the caller answers the same, so the answer
/// says nothing about the address.
pub async fn send(auth: &Auth, purpose: LinkPurpose, email: &str, now: Millis) -> Result<bool, StoreError> {
    let hour_ago = now - 3_600_000;
    if auth.accounts.links_sent(email, purpose, hour_ago).await? >= LINKS_PER_EMAIL_PER_HOUR {
        return Ok(false);
    }
    let ttl = match purpose {
        LinkPurpose::OrderLookup => LOOKUP_LINK_TTL,
        LinkPurpose::VerifyEmail => VERIFY_LINK_TTL,
    };
    let token = new_token();
    let link = NewEmailLink {
        token_hash: token_hash(&token),
        purpose,
        email: email.to_owned(),
        expires_at: now + ttl.as_millis() as Millis,
        payload: json!({
            "to": email,
            "purpose": purpose.as_str(),
            "path": format!("{}?token={token}", path(purpose)),
            "validMinutes": ttl.as_secs() / 60,
        }),
    };
    auth.accounts.send_link(link).await?;
    Ok(true)
}

/// Uses up a link; the email it was sent to, or `None` if it is unknown, used or expired.
pub async fn open(auth: &Auth, purpose: LinkPurpose, token: &str, now: Millis) -> Result<Option<String>, StoreError> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    auth.accounts.open_link(LinkOpening { token_hash: &token_hash(token), purpose, now }).await
}

/// The `Set-Cookie` value that lets this browser list `email`'s orders for an hour.
pub fn lookup_cookie(policy: CookiePolicy, signer: &Signer, email: &str, now: Millis) -> String {
    let until = now + LOOKUP_COOKIE_TTL.as_millis() as Millis;
    let message = format!("{}.{until}", hex::encode(email));
    let value = format!("{message}~{}", signer.sign(LOOKUP_PURPOSE, &message));
    policy.set(LOOKUP_COOKIE, &value, Some(LOOKUP_COOKIE_TTL.as_secs()))
}

/// The email whose orders this browser may list, from an unexpired, untouched lookup cookie.
pub fn looked_up(policy: CookiePolicy, signer: &Signer, headers: &HeaderMap, now: Millis) -> Option<String> {
    let value = policy.read(headers, LOOKUP_COOKIE)?;
    let (message, tag) = value.rsplit_once('~')?;
    if !signer.verify(LOOKUP_PURPOSE, message, tag) {
        return None;
    }
    let (email, until) = message.split_once('.')?;
    let until: Millis = until.parse().ok()?;
    (until > now).then(|| String::from_utf8(hex::decode(email).ok()?).ok())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use axum::http::header::COOKIE;

    fn sent_back(set_cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(set_cookie.split(';').next().unwrap()).unwrap());
        headers
    }

    #[test]
    fn lookup_cookies_name_one_email_until_they_expire() {
        let signer = Signer::new(vec![b"k".to_vec()]).unwrap();
        let policy = CookiePolicy::default();
        let cookie = lookup_cookie(policy, &signer, "ana@example.com", 0);
        assert!(cookie.contains("HttpOnly") && cookie.contains("Max-Age=3600"), "{cookie}");
        let headers = sent_back(&cookie);
        assert_eq!(looked_up(policy, &signer, &headers, 1).as_deref(), Some("ana@example.com"));
        assert_eq!(looked_up(policy, &signer, &headers, 3_600_000), None, "expired");
        let other = Signer::new(vec![b"other".to_vec()]).unwrap();
        assert_eq!(looked_up(policy, &other, &headers, 1), None, "signed by another server");
        let edited = cookie.replacen(&hex::encode("ana"), &hex::encode("bob"), 1);
        assert_eq!(looked_up(policy, &signer, &sent_back(&edited), 1), None, "edited");
    }
}
