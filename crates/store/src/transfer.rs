//! The shop as `stampede export` writes it and `stampede import` reads it: JSON Lines, a
//! header, then one record per line, each with a `kind`. This module is the format and its
//! checks only, no I/O; each store reads and writes it in its own `transfer.rs`.

use crate::accounts::{Role, User};
use crate::{IdempotencyKey, Order, OutboxEvent, StoreError};
use serde::{Deserialize, Serialize};
use stampede_domain::{Millis, Product};
use std::collections::{BTreeMap, HashSet};

/// The header's `format`.
pub const FORMAT: &str = "stampede-export";
/// The header's `version`: raised when a record changes shape.
pub const VERSION: u32 = 1;

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    Header(Header),
    Product(ProductRecord),
    Order(OrderRecord),
    User(UserRecord),
    AccountOrder(AccountOrder),
    Holding(Holding),
    Audit(AuditRecord),
    SavedCart(SavedCart),
    Event(EventRecord),
}

/// Where an export sends its records, one at a time and in order; an error stops the export.
pub type RecordSink<'a> = dyn FnMut(&Record) -> Result<(), StoreError> + Send + 'a;

/// The first line: what the file is and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// The store exported: `sqlite`, `postgres`, `dynamodb`.
    pub source: String,
    pub exported_at: Millis,
}

impl Header {
    pub fn new(source: &str, exported_at: Millis) -> Header {
        Header { format: FORMAT.to_owned(), version: VERSION, source: source.to_owned(), exported_at }
    }
}

/// A product and the units available now (summed over its counters where it is split).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRecord {
    pub product: Product,
    pub stock: u32,
}

/// An order with its lines, and the idempotency key that placed it, so a client's retry after
/// the move still gets this order back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// The order's fields, at the record's top level.
    #[serde(flatten)]
    pub order: Order,
    pub idempotency_key: Option<String>,
    pub request_fingerprint: Option<String>,
}

impl OrderRecord {
    pub fn new(order: Order, key: Option<IdempotencyKey>) -> OrderRecord {
        let (idempotency_key, request_fingerprint) = key.map(|k| (k.key, k.fingerprint)).unzip();
        OrderRecord { order, idempotency_key, request_fingerprint }
    }
}

/// A customer or staff account, with its password hash as stored (argon2id PHC string), so
/// its owner signs in with the same password after the move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    /// `customer`, `kitchen` or `admin`.
    pub role: String,
    pub password_hash: String,
    pub created_at: Millis,
    pub email_verified: bool,
    pub active: bool,
    pub must_change_password: bool,
}

impl UserRecord {
    pub fn new(user: User, password_hash: String) -> UserRecord {
        UserRecord {
            id: user.id,
            email: user.email,
            name: user.name,
            role: user.role.as_str().to_owned(),
            password_hash,
            created_at: user.created_at,
            email_verified: user.email_verified,
            active: user.active,
            must_change_password: user.must_change_password,
        }
    }
}

/// An order placed while signed in to an account: what an account whose email is not yet
/// verified may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOrder {
    pub user_id: String,
    pub order_id: String,
}

/// Units a customer holds of a product, which per-customer limits count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holding {
    pub customer_key: String,
    pub product_id: String,
    pub quantity: u32,
}

/// One staff action of the audit log, in the log's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// A signed-in customer's cart, in the cart cookie's format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedCart {
    pub user_id: String,
    pub cart: String,
    pub updated_at: Millis,
}

/// An outbox event not yet delivered (due, waiting for a retry, or parked as failed), so the
/// receipts and webhooks the old store still owed go out from the new one. A claim in flight
/// is not kept: the event is due again when its lease (`next_attempt_at`) ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub id: String,
    /// The event's own kind (`order.placed`, `customer.link`, ...).
    pub event: String,
    pub order_id: String,
    pub payload: serde_json::Value,
    pub created_at: Millis,
    pub attempts: u32,
    pub next_attempt_at: Millis,
    /// Set when the relay parked it after its last attempt.
    pub failed_at: Option<Millis>,
    pub last_error: Option<String>,
    /// Channels that already took it, skipped on retries.
    pub done_channels: Vec<String>,
}

impl EventRecord {
    pub fn new(e: OutboxEvent) -> EventRecord {
        EventRecord {
            id: e.id,
            event: e.kind,
            order_id: e.order_id,
            payload: e.payload,
            created_at: e.created_at,
            attempts: e.attempts,
            next_attempt_at: e.next_attempt_at,
            failed_at: e.failed_at,
            last_error: e.last_error,
            done_channels: e.done_channels,
        }
    }
}

impl Record {
    /// The `kind` it is written with.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Header(_) => "header",
            Record::Product(_) => "product",
            Record::Order(_) => "order",
            Record::User(_) => "user",
            Record::AccountOrder(_) => "account_order",
            Record::Holding(_) => "holding",
            Record::Audit(_) => "audit",
            Record::SavedCart(_) => "saved_cart",
            Record::Event(_) => "event",
        }
    }

    /// The record as one line of JSON (without the newline).
    pub fn to_line(&self) -> Result<String, StoreError> {
        Ok(serde_json::to_string(self)?)
    }
}

/// Records per kind, in the order they are written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(pub BTreeMap<&'static str, u64>);

impl Counts {
    pub fn add(&mut self, record: &Record) {
        *self.0.entry(record.kind()).or_default() += 1;
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> =
            self.0.iter().filter(|(k, _)| **k != "header").map(|(k, n)| format!("{k}: {n}")).collect();
        f.write_str(&parts.join(", "))
    }
}

/// A line of an import file that cannot be taken, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct BadLine {
    /// 1-based, as editors count.
    pub line: usize,
    pub message: String,
}

/// A whole shop read from an export, checked line by line before anything is written.
#[derive(Debug, Clone, Default)]
pub struct Shop {
    pub header: Option<Header>,
    pub products: Vec<ProductRecord>,
    pub orders: Vec<OrderRecord>,
    pub users: Vec<UserRecord>,
    pub account_orders: Vec<AccountOrder>,
    pub holdings: Vec<Holding>,
    pub audit: Vec<AuditRecord>,
    pub saved_carts: Vec<SavedCart>,
    pub events: Vec<EventRecord>,
    pub counts: Counts,
    product_ids: HashSet<String>,
    order_ids: HashSet<String>,
    user_ids: HashSet<String>,
    emails: HashSet<String>,
    idempotency_keys: HashSet<String>,
    event_ids: HashSet<String>,
    /// Customer and product of each holding, a user and order of each account order, and the
    /// users with a saved cart: a store keeps one of each, so a second is refused by line.
    holding_keys: HashSet<String>,
    account_order_keys: HashSet<String>,
    cart_users: HashSet<String>,
}

impl Shop {
    /// Parses and checks line `line` (1-based) of the file. Blank lines are skipped.
    pub fn push_line(&mut self, line: usize, text: &str) -> Result<(), BadLine> {
        if text.trim().is_empty() {
            return Ok(());
        }
        let bad = |message: String| BadLine { line, message };
        let record: Record = serde_json::from_str(text).map_err(|e| bad(format!("not a record: {e}")))?;
        self.push(record).map_err(bad)
    }

    /// Records so far, the header left out.
    pub fn records(&self) -> u64 {
        self.counts.0.iter().filter(|(k, _)| **k != "header").map(|(_, n)| n).sum()
    }

    fn push(&mut self, record: Record) -> Result<(), String> {
        if self.header.is_none() && !matches!(record, Record::Header(_)) {
            return Err(format!("the file must start with a `header` record, not `{}`", record.kind()));
        }
        let kind = record.kind();
        match record {
            Record::Header(h) => {
                if self.header.is_some() {
                    return Err("a second `header` record".into());
                }
                if h.format != FORMAT || h.version != VERSION {
                    return Err(format!(
                        "format `{}` version {} is not what this build reads (`{FORMAT}` version {VERSION})",
                        h.format, h.version
                    ));
                }
                self.header = Some(h);
            }
            Record::Product(p) => {
                p.product.validate().map_err(|e| format!("product `{}`: {}", p.product.id, e.message))?;
                unique(&mut self.product_ids, &p.product.id, "product id")?;
                self.products.push(p);
            }
            Record::Order(o) => {
                check_order(&o)?;
                unique(&mut self.order_ids, &o.order.id, "order id")?;
                if let Some(key) = &o.idempotency_key {
                    unique(&mut self.idempotency_keys, key, "idempotency key")?;
                }
                self.orders.push(o);
            }
            Record::User(u) => {
                if Role::parse(&u.role).is_none() {
                    return Err(format!("user `{}`: unknown role `{}`", u.email, u.role));
                }
                if u.email != u.email.to_lowercase() {
                    return Err(format!("user `{}`: emails are stored lower-cased", u.email));
                }
                unique(&mut self.user_ids, &u.id, "user id")?;
                unique(&mut self.emails, &u.email, "user email")?;
                self.users.push(u);
            }
            Record::AccountOrder(a) => {
                self.known_user(&a.user_id)?;
                if !self.order_ids.contains(&a.order_id) {
                    return Err(format!("order `{}` is not among the orders before this line", a.order_id));
                }
                if !self.account_order_keys.insert(format!("{}\0{}", a.user_id, a.order_id)) {
                    return Err(format!("order `{}` is linked to user `{}` twice", a.order_id, a.user_id));
                }
                self.account_orders.push(a);
            }
            Record::Holding(h) => {
                if !self.holding_keys.insert(format!("{}\0{}", h.customer_key, h.product_id)) {
                    return Err(format!("a second holding of `{}` for customer `{}`", h.product_id, h.customer_key));
                }
                self.holdings.push(h);
            }
            Record::Audit(a) => self.audit.push(a),
            Record::SavedCart(c) => {
                self.known_user(&c.user_id)?;
                if !self.cart_users.insert(c.user_id.clone()) {
                    return Err(format!("a second saved cart for user `{}`", c.user_id));
                }
                self.saved_carts.push(c);
            }
            Record::Event(e) => {
                // Each claim counts one more, in a 32-bit column on PostgreSQL.
                if e.attempts >= i32::MAX.unsigned_abs() {
                    return Err(format!("event `{}`: {} attempts is more than a store can count", e.id, e.attempts));
                }
                unique(&mut self.event_ids, &e.id, "event id")?;
                self.events.push(e);
            }
        }
        *self.counts.0.entry(kind).or_default() += 1;
        Ok(())
    }

    fn known_user(&self, id: &str) -> Result<(), String> {
        match self.user_ids.contains(id) {
            true => Ok(()),
            false => Err(format!("user `{id}` is not among the users before this line")),
        }
    }
}

fn unique(seen: &mut HashSet<String>, value: &str, what: &str) -> Result<(), String> {
    match seen.insert(value.to_owned()) {
        true => Ok(()),
        false => Err(format!("{what} `{value}` appears twice")),
    }
}

/// What the stores' columns require of an order: lines, one currency, a total that adds up.
fn check_order(o: &OrderRecord) -> Result<(), String> {
    let o = &o.order;
    let bad = |why: &str| Err(format!("order `{}`: {why}", o.id));
    if o.lines.is_empty() {
        return bad("it has no lines");
    }
    if o.lines.iter().any(|l| l.quantity == 0) {
        return bad("a line has quantity 0");
    }
    if o.lines.iter().any(|l| l.unit_price.currency != o.total.currency || l.line_total.currency != o.total.currency) {
        return bad("its lines and total are in different currencies");
    }
    if o.lines.iter().map(|l| l.line_total.amount).sum::<i64>() != o.total.amount {
        return bad("its lines do not add up to its total");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> String {
        Record::Header(Header::new("sqlite", 1)).to_line().unwrap()
    }

    #[test]
    fn a_file_must_start_with_a_header_of_this_format() {
        let mut shop = Shop::default();
        let err = shop.push_line(1, r#"{"kind":"holding","customer_key":"a","product_id":"p","quantity":1}"#);
        assert_eq!(err.unwrap_err().line, 1);
        let mut shop = Shop::default();
        let newer = r#"{"kind":"header","format":"stampede-export","version":99,"source":"x","exported_at":0}"#;
        assert!(shop.push_line(1, newer).unwrap_err().message.contains("version 99"));
    }

    #[test]
    fn bad_lines_are_named_by_number() {
        let mut shop = Shop::default();
        shop.push_line(1, &header()).unwrap();
        shop.push_line(2, "").unwrap();
        let err = shop.push_line(3, "{not json").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.to_string().starts_with("line 3: not a record"), "{err}");
        let unknown = shop.push_line(4, r#"{"kind":"spaceship"}"#).unwrap_err();
        assert!(unknown.message.contains("spaceship"), "{unknown}");
    }

    #[test]
    fn users_need_a_known_role_and_a_unique_email_and_links_a_known_user() {
        let mut shop = Shop::default();
        shop.push_line(1, &header()).unwrap();
        let user = |id: &str, email: &str, role: &str| {
            Record::User(UserRecord {
                id: id.into(),
                email: email.into(),
                name: None,
                role: role.into(),
                password_hash: "$argon2id$...".into(),
                created_at: 0,
                email_verified: true,
                active: true,
                must_change_password: false,
            })
            .to_line()
            .unwrap()
        };
        shop.push_line(2, &user("u1", "a@example.com", "customer")).unwrap();
        assert!(shop.push_line(3, &user("u2", "a@example.com", "admin")).unwrap_err().message.contains("twice"));
        assert!(shop.push_line(4, &user("u3", "b@example.com", "owner")).unwrap_err().message.contains("role"));
        let cart = r#"{"kind":"saved_cart","user_id":"nobody","cart":"","updated_at":0}"#;
        assert!(shop.push_line(5, cart).unwrap_err().message.contains("nobody"));
        assert_eq!(shop.records(), 1, "only what was taken counts: {}", shop.counts);
        let cart = r#"{"kind":"saved_cart","user_id":"u1","cart":"p:1","updated_at":0}"#;
        shop.push_line(6, cart).unwrap();
        assert!(shop.push_line(7, cart).unwrap_err().message.contains("a second saved cart"));
    }

    #[test]
    fn what_a_store_keeps_one_of_comes_once_and_counts_fit_the_columns() {
        let mut shop = Shop::default();
        shop.push_line(1, &header()).unwrap();
        let holding = r#"{"kind":"holding","customer_key":"a","product_id":"p","quantity":1}"#;
        shop.push_line(2, holding).unwrap();
        let again = shop.push_line(3, holding).unwrap_err();
        assert_eq!(again.line, 3);
        assert!(again.message.contains("a second holding of `p`"), "{again}");
        let event = |attempts: u32| {
            let e = r#"{"kind":"event","id":"e1","event":"customer.link","order_id":"","payload":{},"created_at":0,"#;
            format!(
                r#"{e}"attempts":{attempts},"next_attempt_at":0,"failed_at":null,"last_error":null,"done_channels":[]}}"#
            )
        };
        let too_many = shop.push_line(4, &event(u32::MAX)).unwrap_err();
        assert!(too_many.message.contains("more than a store can count"), "{too_many}");
        shop.push_line(5, &event(3)).unwrap();
    }
}
