//! Reading and writing attribute values, and the order, event and mail items built from them.

use super::keys::{self, Item};
use crate::{IdempotencyKey, MailMessage, Order, OutboxEvent, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use stampede_domain::{Currency, Customer, CustomerKey, Millis, Money, OrderStatus, Phone};
use std::collections::BTreeMap;
use std::str::FromStr;

/// A string attribute.
pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute.
pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn corrupt(name: &str) -> StoreError {
    StoreError::Backend(format!("stored item lacks a valid `{name}`"))
}

/// A required string attribute.
pub fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    opt_s(item, name).ok_or_else(|| corrupt(name))
}

/// An optional string attribute.
pub fn opt_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// A required number attribute.
pub fn get_n<T: FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    opt_n(item, name)?.ok_or_else(|| corrupt(name))
}

/// An optional number attribute.
pub fn opt_n<T: FromStr>(item: &Item, name: &str) -> Result<Option<T>, StoreError> {
    match item.get(name).and_then(|v| v.as_n().ok()) {
        None => Ok(None),
        Some(raw) => raw.parse().map(Some).map_err(|_| corrupt(name)),
    }
}

/// Which stock counters an order took its units from: returned to the same ones on cancel,
/// so every counter's level stays its own sales history.
pub type Taken = BTreeMap<String, Vec<(u32, u32)>>;

/// The order item: the order itself, its index keys, and where its stock came from.
pub fn order_item(order: &Order, idempotency: Option<&IdempotencyKey>, taken: &Taken) -> Result<Item, StoreError> {
    let mut item = keys::order(&order.id);
    let c = &order.customer;
    item.insert("id".into(), s(&order.id));
    item.insert("customer_key".into(), s(&c.key.0));
    if let Some(email) = &c.email {
        item.insert("customer_email".into(), s(email));
    }
    if let Some(name) = &c.name {
        item.insert("customer_name".into(), s(name));
    }
    if let Some(limit_key) = &c.limit_key {
        item.insert("limit_key".into(), s(&limit_key.0));
    }
    item.insert("status".into(), s(order.status.as_str()));
    item.insert("lines".into(), s(serde_json::to_string(&order.lines)?));
    item.insert("total_amount".into(), n(order.total.amount));
    item.insert("currency".into(), s(order.total.currency.as_str()));
    if let Some(f) = &order.fulfilment {
        item.insert("fulfilment".into(), s(serde_json::to_string(f)?));
    }
    if let Some(phone) = &order.phone {
        item.insert("phone".into(), s(phone.as_str()));
    }
    if let Some(slot) = order.slot {
        item.insert("slot_at".into(), n(slot));
    }
    item.insert("created_at".into(), n(order.created_at));
    item.insert("updated_at".into(), n(order.updated_at));
    // Kept with the order for good (the `IDEM#` record expires), so an export carries it.
    if let Some(k) = idempotency {
        item.insert("idempotency_key".into(), s(&k.key));
        item.insert("request_fingerprint".into(), s(&k.fingerprint));
    }
    item.insert("taken".into(), s(serde_json::to_string(taken)?));
    item.insert("gsi1pk".into(), s(keys::customer_partition(&c.key.0)));
    item.insert("gsi1sk".into(), s(&order.id));
    item.insert("gsi2pk".into(), s(keys::day_partition(order.created_at, &order.id)));
    item.insert("gsi2sk".into(), s(&order.id));
    Ok(item)
}

/// An order read back from its item.
pub fn order_from(item: &Item) -> Result<Order, StoreError> {
    let status = get_s(item, "status")?;
    let status = OrderStatus::parse(status).ok_or_else(|| corrupt("status"))?;
    let currency = Currency::parse(get_s(item, "currency")?).ok_or_else(|| corrupt("currency"))?;
    Ok(Order {
        id: get_s(item, "id")?.to_owned(),
        customer: Customer {
            key: CustomerKey(get_s(item, "customer_key")?.to_owned()),
            email: opt_s(item, "customer_email").map(str::to_owned),
            name: opt_s(item, "customer_name").map(str::to_owned),
            limit_key: opt_s(item, "limit_key").map(|k| CustomerKey(k.to_owned())),
        },
        lines: serde_json::from_str(get_s(item, "lines")?)?,
        total: Money::new(get_n(item, "total_amount")?, currency),
        status,
        fulfilment: opt_s(item, "fulfilment").map(serde_json::from_str).transpose()?,
        phone: opt_s(item, "phone").map(|p| Phone::stored(p.to_owned())),
        slot: opt_n(item, "slot_at")?,
        created_at: get_n(item, "created_at")?,
        updated_at: get_n(item, "updated_at")?,
    })
}

/// The idempotency key an order was placed with, if any (the fingerprint is empty on orders
/// placed before it was kept with the order).
pub fn idempotency_from(item: &Item) -> Option<IdempotencyKey> {
    let key = opt_s(item, "idempotency_key")?.to_owned();
    Some(IdempotencyKey { key, fingerprint: opt_s(item, "request_fingerprint").unwrap_or_default().to_owned() })
}

/// Where an order's units came from.
pub fn taken_from(item: &Item) -> Result<Taken, StoreError> {
    Ok(opt_s(item, "taken").map(serde_json::from_str).transpose()?.unwrap_or_default())
}

/// Outbox states as stored and indexed.
pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

/// A new, due-now outbox event announcing a change to `order_id`, with the same payload as SQLite writes.
pub fn new_event(kind: &str, order_id: &str, status: OrderStatus, previous: Option<OrderStatus>, now: Millis) -> Item {
    let (id, payload) = crate::outbox::new_event_payload(kind, order_id, status, previous, now);
    event_item(&id, kind, order_id, &payload, now)
}

/// A pending outbox event due at `now`, however its payload was made (an order's change, an
/// emailed link).
pub fn event_item(id: &str, kind: &str, order_id: &str, payload: &serde_json::Value, now: Millis) -> Item {
    let mut item = keys::event(id);
    item.insert("gsi3pk".into(), s(keys::outbox_partition(PENDING, keys::bucket(id))));
    item.insert("gsi3sk".into(), s(id));
    item.insert("id".into(), s(id));
    item.insert("kind".into(), s(kind));
    item.insert("order_id".into(), s(order_id));
    item.insert("payload".into(), s(payload.to_string()));
    item.insert("created_at".into(), n(now));
    item.insert("attempts".into(), n(0));
    item.insert("next_attempt_at".into(), n(now));
    item.insert("state".into(), s(PENDING));
    item.insert("done_channels".into(), s("[]"));
    item
}

/// An outbox event read back from its item.
pub fn event_from(item: &Item) -> Result<OutboxEvent, StoreError> {
    Ok(OutboxEvent {
        id: get_s(item, "id")?.to_owned(),
        kind: get_s(item, "kind")?.to_owned(),
        order_id: get_s(item, "order_id")?.to_owned(),
        payload: serde_json::from_str(get_s(item, "payload")?)?,
        created_at: get_n(item, "created_at")?,
        attempts: get_n(item, "attempts")?,
        next_attempt_at: get_n(item, "next_attempt_at")?,
        delivered_at: opt_n(item, "delivered_at")?,
        failed_at: opt_n(item, "failed_at")?,
        last_error: opt_s(item, "last_error").map(str::to_owned),
        done_channels: serde_json::from_str(opt_s(item, "done_channels").unwrap_or("[]"))?,
    })
}

/// A dev-mailbox message read back from its item.
pub fn mail_from(item: &Item) -> Result<MailMessage, StoreError> {
    Ok(MailMessage {
        id: get_s(item, "id")?.to_owned(),
        event_id: get_s(item, "event_id")?.to_owned(),
        recipient: get_s(item, "recipient")?.to_owned(),
        subject: get_s(item, "subject")?.to_owned(),
        text_body: get_s(item, "text_body")?.to_owned(),
        html_body: get_s(item, "html_body")?.to_owned(),
        created_at: get_n(item, "created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_and_slot_round_trip_through_the_order_item() {
        let mut order = Order {
            id: "0193-a".into(),
            customer: Customer::with_email("ana+pizza@example.com", Some("Ana"))
                .unwrap()
                .with_limit_key(stampede_domain::LimitKeyRules::default()),
            lines: vec![],
            total: Money::new(500, Currency::USD),
            status: OrderStatus::Received,
            fulfilment: Some(stampede_domain::Fulfilment::Pickup),
            phone: Some(Phone::new("+1 555 0100").unwrap()),
            slot: Some(1_796_062_500_000),
            created_at: 1,
            updated_at: 1,
        };
        let item = order_item(&order, None, &Taken::new()).unwrap();
        assert_eq!(item["phone"].as_s().unwrap(), "+1 555 0100");
        assert_eq!(item["limit_key"].as_s().unwrap(), "ana@example.com");
        assert_eq!(order_from(&item).unwrap(), order);
        (order.phone, order.slot, order.customer.limit_key) = (None, None, None);
        let item = order_item(&order, None, &Taken::new()).unwrap();
        assert!(!item.contains_key("phone") && !item.contains_key("slot_at") && !item.contains_key("limit_key"));
        assert_eq!(order_from(&item).unwrap(), order);
    }
}
