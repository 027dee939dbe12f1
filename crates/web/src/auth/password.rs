//! Passwords: argon2id with the crate's defaults (19 MiB, 2 passes), a fresh salt each,
//! stored as PHC strings. Hashing takes tens of milliseconds on purpose, so callers run it
//! on the blocking pool.

use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use std::sync::LazyLock;

/// Fewest characters a new password may have.
pub const MIN_LEN: usize = 10;
/// Most characters a password may have; longer input is refused before hashing.
pub const MAX_LEN: usize = 256;

/// Why a new password is refused, as a sentence for the form.
pub fn weakness(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Some(format!("Use at least {MIN_LEN} characters."));
    }
    if chars > MAX_LEN {
        return Some(format!("Use at most {MAX_LEN} characters."));
    }
    if password.trim().is_empty() {
        return Some("A password cannot be only spaces.".into());
    }
    None
}

/// The argon2id PHC string of `password`.
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Whether `password` matches the stored PHC string; a malformed hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    if password.chars().count() > MAX_LEN {
        return false;
    }
    PasswordHash::new(phc).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Spends the time a real check takes, for sign-ins to unknown emails, so response times
/// do not tell which emails have accounts.
pub fn verify_nothing(password: &str) {
    static DUMMY: LazyLock<String> = LazyLock::new(|| hash("not anyone's password").unwrap_or_default());
    let _ = verify(password, &DUMMY);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse battery!", &a));
        assert!(!verify("anything", "not a phc string"));
    }

    #[test]
    fn weak_passwords_are_explained() {
        assert!(weakness("short").unwrap().contains("10"));
        assert!(weakness("          ").is_some());
        assert!(weakness(&"x".repeat(MAX_LEN + 1)).is_some());
        assert_eq!(weakness("a perfectly fine passphrase"), None);
    }
}
