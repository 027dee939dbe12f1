//! The single table's key layout, in one place so docs/aws.md's table design and the code
//! cannot drift apart. Every item has `pk` and `sk`; three sparse GSIs serve the listings.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// An item or a key as the SDK takes it.
pub type Item = HashMap<String, AttributeValue>;

/// Orders by customer, newest first (`gsi1pk` = `CUSTOMER#<key>`, `gsi1sk` = order id).
pub const BY_CUSTOMER: &str = "byCustomer";
/// Orders by day, for reports (`gsi2pk` = `DAY#<days since 1970>#<day bucket>`, `gsi2sk` = order id).
pub const BY_DAY: &str = "byDay";
/// Outbox events by state and the dev mailbox (`gsi3pk` = `OUTBOX#<state>#<bucket>` or `MAILBOX`).
pub const BY_STATE: &str = "byState";

/// Buckets the outbox's `byState` partitions are spread over. A GSI partition takes about
/// 1,000 writes/s like a table's, and an event writes its `pending` partition three times
/// (inserted, claimed — the projection is ALL —, removed when settled), so each order costs
/// 3 index writes there: 32 buckets carry ~10,000 orders/s. Raising it is safe: events keep
/// the partition they were written to, and every reader queries all buckets.
pub const BUCKETS: u32 = 32;

/// Buckets of a day in `byDay`: 32 takes 16,000 orders/s at half a partition's write rate.
/// Raising it is safe (old orders keep their buckets, all below the new count); lowering is not.
pub const DAY_BUCKETS: u32 = 32;

/// Key attributes of the table and its indexes.
pub const PK: &str = "pk";
pub const SK: &str = "sk";

/// The key of the item `pk`, `sk`.
pub(super) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_owned(), AttributeValue::S(pk)), (SK.to_owned(), AttributeValue::S(sk.to_owned()))])
}

/// Every product definition lives in one partition: the catalog is small and read whole.
pub const CATALOG: &str = "CATALOG";

/// A product definition.
pub fn product(id: &str) -> Item {
    key(CATALOG.to_owned(), &format!("PRODUCT#{id}"))
}

/// One stock counter of a product; each is its own partition so each takes its own writes.
pub fn shard(product_id: &str, n: u32) -> Item {
    key(format!("STOCK#{product_id}#{n}"), "STOCK")
}

/// Present while every counter of a product is empty: written (conditional on each counter
/// being 0) by the instance that finds it so, deleted by the cancellation that returns stock,
/// so other instances learn "sold out" from one item instead of every counter.
pub fn sold_out(product_id: &str) -> Item {
    key(format!("SOLDOUT#{product_id}"), "SOLDOUT")
}

/// An order.
pub fn order(id: &str) -> Item {
    key(format!("ORDER#{id}"), "ORDER")
}

/// The record binding an idempotency key to the order it placed.
pub fn idempotency(key_: &str) -> Item {
    key(format!("IDEM#{key_}"), "IDEM")
}

/// Units a customer holds of a product with a per-customer limit, in one of the product's
/// [`HOLD_BUCKETS`] partitions (by a hash of the customer key) with the customer key as sort
/// key: every order of a limited product writes its holding, so one partition per product
/// would cap it near 500 orders/s, while the sales audit reads a product's holdings with a
/// query per bucket instead of a scan of the table.
pub fn holding(product_id: &str, customer_key: &str) -> Item {
    key(holders_partition(product_id, fnv1a(customer_key) % HOLD_BUCKETS), customer_key)
}

/// Buckets of a limited product's holdings: 32 take 16,000 orders/s at 2 write units each.
/// Changing it moves every holding: only with an empty table.
pub const HOLD_BUCKETS: u32 = 32;

/// The partition of a product's holdings in `bucket`.
pub fn holders_partition(product_id: &str, bucket: u32) -> String {
    format!("HOLD#{product_id}#{bucket}")
}

/// Delivered outbox events in one bucket, counted: the count is a few items to read, not
/// every delivered event on the index.
pub fn outbox_stats(bucket: u32) -> Item {
    key(format!("OUTBOX_STATS#{bucket}"), "STATS")
}

/// The table's TTL attribute (epoch seconds): DynamoDB deletes an item some time after it,
/// as `--notify-retention-days` prunes SQLite. Set on delivered events, dev-mailbox
/// messages and idempotency records; never on orders, stock or pending events.
pub const EXPIRES_AT: &str = "expires_at";

/// Partitions a waiting room's line is spread over: a join writes its ticket into one, picked
/// by the customer, so joins are not capped by one partition's ~1,000 writes/s (a join is a
/// two-item transaction, 2 units per item: ~500 joins/s per partition, ~8,000/s over 16).
/// Changing it orphans the tickets of lines already open.
pub const LINE_SHARDS: u32 = 16;

/// The ticket a customer holds for a product: one per customer, by key.
pub fn line_holder(product_id: &str, customer_key: &str) -> Item {
    key(format!("LINEHOLDER#{product_id}#{customer_key}"), "TICKET")
}

/// The line partition a customer's ticket goes to.
pub fn line_partition(product_id: &str, customer_key: &str) -> String {
    line_shard(product_id, fnv1a(customer_key) % LINE_SHARDS)
}

/// A line partition: its tickets sorted by rank (`sk`, zero-padded so text order is rank order).
pub fn line_shard(product_id: &str, shard: u32) -> String {
    format!("LINE#{product_id}#{shard}")
}

/// The `sk` of a ticket in its line partition.
pub fn line_rank(rank: u64) -> String {
    format!("{rank:020}")
}

/// A waiting room's state: written once per watermark advance (at most once a tick), not per join.
pub fn room(product_id: &str) -> Item {
    key(format!("ROOM#{product_id}"), "ROOM")
}

/// An outbox event.
pub fn event(id: &str) -> Item {
    key(format!("OUTBOX#{id}"), "EVENT")
}

/// A dev-mailbox message, keyed by what makes it unique: one per event and recipient.
pub fn mail(event_id: &str, recipient: &str) -> Item {
    key(format!("MAIL#{event_id}#{recipient}"), "MAIL")
}

/// The `byState` partition of outbox events in `state` whose id falls in `bucket`.
pub fn outbox_partition(state: &str, bucket: u32) -> String {
    format!("OUTBOX#{state}#{bucket}")
}

/// The `byState` partition of the dev mailbox.
pub const MAILBOX: &str = "MAILBOX";

/// An account: its partition holds the profile (`sk` = `USER`), the saved cart (`CART`) and the
/// orders placed while signed in to it (`ORDER#<order id>`), so removing it is one query.
pub fn user(id: &str) -> Item {
    key(user_partition(id), USER_SK)
}

/// The partition of an account's items.
pub fn user_partition(id: &str) -> String {
    format!("USER#{id}")
}

/// The `sk` of an account's profile item.
pub const USER_SK: &str = "USER";

/// An account's saved cart.
pub fn saved_cart(user_id: &str) -> Item {
    key(user_partition(user_id), "CART")
}

/// An order placed while signed in to an account.
pub fn account_order(user_id: &str, order_id: &str) -> Item {
    key(user_partition(user_id), &format!("{ACCOUNT_ORDER_PREFIX}{order_id}"))
}

/// The `sk` prefix of an account's order links.
pub const ACCOUNT_ORDER_PREFIX: &str = "ORDER#";

/// The item that makes an email unique: created with the account under a condition, it names
/// the account's id.
pub fn email(email: &str) -> Item {
    key(format!("EMAIL#{email}"), "EMAIL")
}

/// The `byState` partition of staff accounts (sorted by email): staff are few, customers many,
/// so only staff profiles carry `gsi3pk`.
pub const STAFF: &str = "STAFF";

/// How many admin accounts are active: every change that could take the last one away is a
/// transaction conditional on this count, so two admins removing each other cannot both win.
pub fn active_admins() -> Item {
    key("ADMINS".to_owned(), "COUNT")
}

/// A signed-in session, by the hash of its token.
pub fn session(token_hash: &str) -> Item {
    key(format!("SESSION#{token_hash}"), "SESSION")
}

/// The audit log: one partition (staff actions are rare), `sk` the zero-padded entry id.
pub const AUDIT: &str = "AUDIT";

/// One audit entry.
pub fn audit(id: i64) -> Item {
    key(AUDIT.to_owned(), &audit_sk(id))
}

/// The `sk` of audit entry `id`: zero-padded, so text order is id order.
pub fn audit_sk(id: i64) -> String {
    format!("{id:020}")
}

/// The counter audit entry ids are drawn from.
pub fn audit_sequence() -> Item {
    key("AUDIT_SEQ".to_owned(), "SEQ")
}

/// A one-time emailed link, by the hash of its token.
pub fn email_link(token_hash: &str) -> Item {
    key(format!("LINK#{token_hash}"), "LINK")
}

/// The record that a link went to `email` for `purpose` at `at`, for the sending limit: the
/// links of one address and purpose are one range of one partition.
pub fn link_sent(email: &str, purpose: &str, at: i64, token_hash: &str) -> Item {
    key(links_sent_partition(email), &format!("{}{token_hash}", links_sent_from(purpose, at)))
}

/// The partition of the links sent to `email`.
pub fn links_sent_partition(email: &str) -> String {
    format!("LINKS#{email}")
}

/// The lowest `sk` of links sent for `purpose` at or after `at`.
pub fn links_sent_from(purpose: &str, at: i64) -> String {
    format!("{purpose}#{:020}#", at.max(0))
}

/// Present while `stampede import` is writing into the table: names the file being imported,
/// so a run after a crash may finish that import (the table is "empty" but for it), and
/// nothing else may start. Deleted once the import is checked.
pub fn import_marker() -> Item {
    key("IMPORT".to_owned(), "IMPORT")
}

/// Where the shop's order history begins when orders older than its first product were
/// imported (`from`, Unix ms): the order search and the flash-sale figures walk `byDay` back
/// to the earlier of it and the oldest product's `created_at`, since no day before holds orders.
pub fn history_start() -> Item {
    key("HISTORY".to_owned(), "START")
}

/// The `byCustomer` partition of a customer.
pub fn customer_partition(customer_key: &str) -> String {
    format!("CUSTOMER#{customer_key}")
}

/// The `byDay` partition of an order created at `millis`.
pub fn day_partition(millis: i64, id: &str) -> String {
    day_bucket(day(millis), fnv1a(id) % DAY_BUCKETS)
}

/// The day (since 1970, UTC) an instant falls on, as `byDay` numbers them.
pub fn day(millis: i64) -> i64 {
    millis.div_euclid(86_400_000)
}

/// The `byDay` partition of `bucket` of `day`.
pub fn day_bucket(day: i64, bucket: u32) -> String {
    format!("DAY#{day}#{bucket}")
}

/// A stable outbox bucket for an id: the same id always lands in the same bucket.
pub fn bucket(id: &str) -> u32 {
    fnv1a(id) % BUCKETS
}

fn fnv1a(id: &str) -> u32 {
    id.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_in_range() {
        assert_eq!(bucket("0190a1b2-0000-7000-8000-000000000000"), bucket("0190a1b2-0000-7000-8000-000000000000"));
        let used: std::collections::BTreeSet<u32> = (0..1000).map(|i| bucket(&format!("id-{i}"))).collect();
        assert_eq!(used.len(), BUCKETS as usize, "1,000 ids should reach every bucket");
    }

    #[test]
    fn orders_of_a_day_spread_over_every_day_bucket() {
        let used: std::collections::BTreeSet<String> =
            (0..1000).map(|i| day_partition(0, &format!("id-{i}"))).collect();
        assert_eq!(used.len(), DAY_BUCKETS as usize);
        assert!(used.iter().all(|p| p.starts_with("DAY#0#")));
    }
}
