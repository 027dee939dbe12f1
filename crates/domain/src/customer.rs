//! Who is ordering: an email-identified customer, or an opaque user id from the shorthand API.

use crate::ValidationError;
use crate::plain_text::is_plain_text;
use serde::{Deserialize, Serialize};

/// The key orders and per-customer limits are counted under: a lower-cased email or `user:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CustomerKey(pub String);

/// A validated customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub key: CustomerKey,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The key per-customer limits count under, where it differs from `key`: the email
    /// without its `+tag` (see [`LimitKeyRules`]). `None`: limits count under `key`. Left out
    /// of the JSON when absent, so idempotency fingerprints of plain addresses stay as they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_key: Option<CustomerKey>,
}

/// How an email becomes the key per-customer limits count under, so one mailbox cannot pass
/// a limit under several spellings. The address itself is kept as typed (lower-cased) for
/// mail, display and finding orders; only the limit key is normalised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitKeyRules {
    /// Also drop the dots of Gmail addresses (`s.a.m@gmail.com` is `sam@gmail.com`), and count
    /// `googlemail.com` as `gmail.com`. Off by default: other providers treat dots as letters.
    pub gmail_dots: bool,
}

impl LimitKeyRules {
    /// The limit key of a lower-cased, validated `email`: `+tag` removed from the local part
    /// (sub-addressing), and Gmail's dots when the rules say so.
    pub fn key_for(self, email: &str) -> String {
        let Some((local, domain)) = email.split_once('@') else { return email.to_owned() };
        let mut local = local.split_once('+').map_or(local, |(base, _)| base).to_owned();
        let mut domain = domain;
        if self.gmail_dots && matches!(domain, "gmail.com" | "googlemail.com") {
            local.retain(|c| c != '.');
            domain = "gmail.com";
        }
        if local.is_empty() {
            // `+tag@example.com` or `...@gmail.com`: nothing left to key on but the address.
            return email.to_owned();
        }
        format!("{local}@{domain}")
    }
}

const MAX_EMAIL_LEN: usize = 254;
const MAX_NAME_LEN: usize = 100;
const MAX_USER_ID_LEN: usize = 64;

impl Customer {
    /// A customer known by email, with an optional display name.
    pub fn with_email(email: &str, name: Option<&str>) -> Result<Customer, ValidationError> {
        let email = normalize_email(email)?;
        let name = match name.map(str::trim) {
            Some("") | None => None,
            Some(n) if n.chars().count() > MAX_NAME_LEN => {
                return Err(ValidationError::new(
                    "customer.name",
                    format!("must be at most {MAX_NAME_LEN} characters"),
                ));
            }
            Some(n) if !is_plain_text(n) => {
                return Err(ValidationError::new(
                    "customer.name",
                    "must be one line of plain text, without control characters or direction overrides",
                ));
            }
            Some(n) => Some(n.to_owned()),
        };
        Ok(Customer { key: CustomerKey(email.clone()), email: Some(email), name, limit_key: None })
    }

    /// A customer known by an opaque user id (the flash-sale shorthand); an email-shaped id is treated as an email.
    pub fn with_user_id(user_id: &str) -> Result<Customer, ValidationError> {
        let id = user_id.trim();
        if id.contains('@') {
            return Customer::with_email(id, None).map_err(|e| ValidationError::new("userId", e.message));
        }
        // Not starting with '.': `.` and `..` would vanish from a URL's path
        // (`/api/customers/{userId}/orders`), and the API's schema says so.
        let valid = !id.is_empty()
            && id.len() <= MAX_USER_ID_LEN
            && !id.starts_with('.')
            && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(ValidationError::new(
                "userId",
                format!(
                    "must be 1 to {MAX_USER_ID_LEN} letters, digits, '-', '_' or '.' (not first), or an email address"
                ),
            ));
        }
        Ok(Customer { key: CustomerKey(format!("user:{id}")), email: None, name: None, limit_key: None })
    }

    /// Sets the key limits count under from the email, by `rules` (user ids keep their key).
    pub fn with_limit_key(mut self, rules: LimitKeyRules) -> Customer {
        self.limit_key =
            self.email.as_deref().map(|email| rules.key_for(email)).filter(|k| *k != self.key.0).map(CustomerKey);
        self
    }

    /// The key per-customer limits (and the per-customer order rate) count under.
    pub fn limit_key(&self) -> &CustomerKey {
        self.limit_key.as_ref().unwrap_or(&self.key)
    }
}

impl CustomerKey {
    /// The key for a path segment that is either an email address or a user id.
    pub fn from_lookup(raw: &str) -> Result<CustomerKey, ValidationError> {
        if raw.contains('@') {
            Customer::with_email(raw, None).map(|c| c.key)
        } else {
            Customer::with_user_id(raw).map(|c| c.key)
        }
    }
}

/// Lower-cases and checks an address: one `@`, a non-empty local part, a dotted domain, no spaces.
/// Addresses are ASCII only: receipts go out over SMTP without the SMTPUTF8 extension, and the
/// address is the customer's key, so one spelling per mailbox. An internationalised domain is
/// given in its `xn--` form.
fn normalize_email(raw: &str) -> Result<String, ValidationError> {
    let email = raw.trim().to_ascii_lowercase();
    // The refusal quotes the input, minus anything that would not read as written.
    let shown: String = raw.trim().chars().filter(|c| crate::plain_text::is_plain_text_char(*c)).collect();
    let invalid = || ValidationError::new("customer.email", format!("`{shown}` is not a valid email address"));
    if !email.is_ascii() {
        return Err(ValidationError::new(
            "customer.email",
            format!(
                "`{shown}` is not a valid email address: use ASCII only (an international domain in its xn-- form)"
            ),
        ));
    }
    if email.len() > MAX_EMAIL_LEN || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.contains('@')
        && domain.split('.').all(|label| !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-'));
    if local.is_empty() || !domain_ok {
        return Err(invalid());
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        let c = Customer::with_email("  Ana@Example.COM ", Some(" Ana ")).unwrap();
        assert_eq!(c.key.0, "ana@example.com");
        assert_eq!(c.name.as_deref(), Some("Ana"));
        for bad in ["", "ana", "@example.com", "ana@", "ana@example", "a b@example.com", "ana@ex..com", "a@b@c.com"] {
            assert!(Customer::with_email(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_plain_text_and_emails_ascii() {
        assert!(Customer::with_email("a@b.co", Some("Zoë")).is_ok());
        for name in ["A\0na", "Ana\u{202E}lanif", "Ana\u{2066}"] {
            assert_eq!(Customer::with_email("a@b.co", Some(name)).unwrap_err().field, "customer.name", "{name:?}");
        }
        for email in ["zoë@example.com", "ana@exämple.com", "ana@例え.jp"] {
            assert!(Customer::with_email(email, None).unwrap_err().message.contains("ASCII"), "{email}");
        }
        assert!(Customer::with_email("ana@xn--exmple-cua.com", None).is_ok());
    }

    #[test]
    fn limit_keys_drop_plus_tags_and_optionally_gmail_dots() {
        let plain = LimitKeyRules::default();
        let gmail = LimitKeyRules { gmail_dots: true };
        assert_eq!(plain.key_for("sam+2@example.com"), "sam@example.com");
        assert_eq!(plain.key_for("sam+a+b@example.com"), "sam@example.com");
        assert_eq!(plain.key_for("s.am@example.com"), "s.am@example.com");
        assert_eq!(plain.key_for("s.a.m+x@gmail.com"), "s.a.m@gmail.com", "dots stay unless asked");
        assert_eq!(gmail.key_for("s.a.m+x@gmail.com"), "sam@gmail.com");
        assert_eq!(gmail.key_for("S.am@googlemail.com".to_lowercase().as_str()), "sam@gmail.com");
        assert_eq!(gmail.key_for("s.am@example.com"), "s.am@example.com", "other domains keep their dots");
        assert_eq!(plain.key_for("+tag@example.com"), "+tag@example.com");
        assert_eq!(gmail.key_for("...@gmail.com"), "...@gmail.com");

        let tagged = Customer::with_email("Sam+2@Example.com", None).unwrap().with_limit_key(plain);
        assert_eq!(tagged.email.as_deref(), Some("sam+2@example.com"), "the address is kept for mail");
        assert_eq!(tagged.key.0, "sam+2@example.com");
        assert_eq!(tagged.limit_key().0, "sam@example.com");
        let same = Customer::with_email("sam@example.com", None).unwrap().with_limit_key(plain);
        assert_eq!((same.limit_key.as_ref(), same.limit_key().0.as_str()), (None, "sam@example.com"));
        let user = Customer::with_user_id("u-1").unwrap().with_limit_key(gmail);
        assert_eq!(user.limit_key().0, "user:u-1");
    }

    #[test]
    fn user_ids_get_their_own_namespace() {
        assert_eq!(Customer::with_user_id("u-42").unwrap().key.0, "user:u-42");
        assert_eq!(Customer::with_user_id("x@y.io").unwrap().key.0, "x@y.io");
        assert!(Customer::with_user_id("has space").is_err());
        assert!(Customer::with_user_id("..").is_err() && Customer::with_user_id(".x").is_err());
        assert!(Customer::with_user_id("x.y").is_ok());
        assert!(Customer::with_user_id(&"x".repeat(65)).is_err());
    }
}
