//! Signed tokens: HMAC-SHA256 tags over a purpose and a message, under one or more server
//! secrets. The first secret signs; every secret verifies, so a secret can be rotated by
//! putting the new one first and dropping the old one once its tokens have expired.
//!
//! The purpose is part of what is signed, so a tag made for one use (an order's access
//! token) is never accepted for another (a CSRF token).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Purpose of an order's access token: it proves its holder is the order's customer
/// (handed to the client that placed it, and in the receipt's link).
pub const ORDER_ACCESS: &str = "order-access";

/// Bytes of a tag kept in tokens: 128 bits is far beyond guessing over the network.
pub(crate) const TAG_BYTES: usize = 16;

/// The server's signing secrets, each kept as an HMAC already keyed with it: a tag then
/// costs a clone and the message's blocks, not the two extra blocks of keying every time.
#[derive(Clone)]
pub struct Signer {
    keyed: Vec<HmacSha256>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({} secrets)", self.keyed.len())
    }
}

impl Signer {
    /// Signs with the first of `secrets` and accepts tags of any of them. `None` when empty.
    pub fn new(secrets: Vec<Vec<u8>>) -> Option<Signer> {
        if secrets.is_empty() || secrets.iter().any(Vec::is_empty) {
            return None;
        }
        let keyed = secrets.iter().map(|s| HmacSha256::new_from_slice(s).expect("HMAC takes keys of any length"));
        Some(Signer { keyed: keyed.collect() })
    }

    /// The tag of `message` for `purpose`, as lower-case hex.
    pub fn sign(&self, purpose: &str, message: &str) -> String {
        hex::encode(&mac(&self.keyed[0], purpose, message).finalize().into_bytes()[..TAG_BYTES])
    }

    /// Whether `given` is the tag of `message` for `purpose` under any secret, compared in
    /// constant time.
    pub fn verify(&self, purpose: &str, message: &str, given: &str) -> bool {
        let Ok(given) = hex::decode(given) else { return false };
        if given.len() != TAG_BYTES {
            return false;
        }
        self.keyed.iter().any(|key| mac(key, purpose, message).verify_truncated_left(&given).is_ok())
    }
}

fn mac(key: &HmacSha256, purpose: &str, message: &str) -> HmacSha256 {
    let mut mac = key.clone();
    // Length-prefixed so ("ab", "c") and ("a", "bc") sign differently.
    mac.update(&(purpose.len() as u64).to_be_bytes());
    mac.update(purpose.as_bytes());
    mac.update(message.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_bind_purpose_and_message_and_survive_rotation() {
        let old = Signer::new(vec![b"old secret".to_vec()]).unwrap();
        let tag = old.sign("order", "o-1");
        assert_eq!(tag.len(), 2 * TAG_BYTES);
        assert!(old.verify("order", "o-1", &tag));
        assert!(!old.verify("order", "o-2", &tag), "another message");
        assert!(!old.verify("csrf", "o-1", &tag), "another purpose");
        assert!(!old.verify("orde", "ro-1", &tag), "the boundary between purpose and message is signed");
        assert!(!old.verify("order", "o-1", &tag[..30]), "a truncated tag");
        assert!(!old.verify("order", "o-1", "not hex"));
        let rotated = Signer::new(vec![b"new secret".to_vec(), b"old secret".to_vec()]).unwrap();
        assert!(rotated.verify("order", "o-1", &tag), "old tags verify while the old secret is listed");
        assert_ne!(rotated.sign("order", "o-1"), tag, "the new secret signs");
        let fresh = Signer::new(vec![b"new secret".to_vec()]).unwrap();
        assert!(!fresh.verify("order", "o-1", &tag), "dropping the old secret ends its tags");
        assert!(Signer::new(vec![]).is_none() && Signer::new(vec![vec![]]).is_none());
    }
}
