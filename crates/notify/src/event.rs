//! An outbox event as channels see it: the stored event plus the order it is about.

use serde_json::{Value, json};
use stampede_domain::{Money, OrderLine};
use stampede_store::clock::rfc3339;
use stampede_store::{Order, OutboxEvent};

/// One event to deliver.
#[derive(Debug, Clone)]
pub struct Event {
    /// The outbox event id: stable across retries and resends, for de-duplication.
    pub id: String,
    /// `order.placed`, `order.cancelled` or `order.status_changed`.
    pub kind: String,
    /// The event as stored with the change.
    pub payload: Value,
    /// The order as it is now; `None` if it could not be found (it always should be).
    pub order: Option<Order>,
    /// Which delivery attempt this is, from 1.
    pub attempt: u32,
}

impl Event {
    /// Pairs a stored event with its order.
    pub fn new(stored: &OutboxEvent, order: Option<Order>) -> Event {
        Event {
            id: stored.id.clone(),
            kind: stored.kind.clone(),
            payload: stored.payload.clone(),
            order,
            attempt: stored.attempts,
        }
    }

    /// The JSON body webhooks and SNS receive: the stored event, timestamps in RFC 3339,
    /// and the order with its items, so a kitchen display needs no second request.
    pub fn to_json(&self) -> Value {
        let mut body = self.payload.clone();
        if let Some(at) = body.get("occurredAt").and_then(Value::as_i64) {
            body["occurredAt"] = rfc3339(at).into();
        }
        if let Some(order) = &self.order {
            body["order"] = order_json(order);
        }
        body
    }
}

fn money(m: &Money) -> Value {
    json!({ "amount": m.amount, "currency": m.currency.as_str() })
}

fn line_json(line: &OrderLine) -> Value {
    json!({
        "productId": line.product_id,
        "productName": line.product_name,
        "quantity": line.quantity,
        "options": line.options.iter().map(|o| json!({
            "groupId": o.group_id, "groupName": o.group_name, "choiceId": o.choice_id, "choiceName": o.choice_name,
            "priceDelta": o.price_delta,
        })).collect::<Vec<_>>(),
        "unitPrice": money(&line.unit_price),
        "lineTotal": money(&line.line_total),
    })
}

fn order_json(order: &Order) -> Value {
    json!({
        "id": order.id,
        "customer": { "email": order.customer.email, "name": order.customer.name },
        "items": order.lines.iter().map(line_json).collect::<Vec<_>>(),
        "total": money(&order.total),
        "status": order.status.as_str(),
        "fulfilment": fulfilment_json(order),
        "createdAt": rfc3339(order.created_at),
        "updatedAt": rfc3339(order.updated_at),
    })
}

/// Pickup or delivery with the phone and chosen time, shaped as the API shows them
/// (`fulfilment.phone`, `fulfilment.slot`); `null` when the order did not say.
fn fulfilment_json(order: &Order) -> Value {
    let mut value = json!(order.fulfilment);
    if let Value::Object(fields) = &mut value {
        if let Some(phone) = &order.phone {
            fields.insert("phone".into(), json!(phone.as_str()));
        }
        if let Some(slot) = order.slot {
            fields.insert("slot".into(), json!(rfc3339(slot)));
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_domain::{Currency, Customer, Fulfilment, OrderStatus, Phone};

    #[test]
    fn fulfilment_carries_phone_and_slot_as_the_api_does() {
        let mut order = Order {
            id: "o1".into(),
            customer: Customer::with_email("ana@example.com", None).unwrap(),
            lines: vec![],
            total: Money::new(100, Currency::USD),
            status: OrderStatus::Received,
            fulfilment: Some(Fulfilment::Pickup),
            phone: Some(Phone::new("555 0100").unwrap()),
            slot: Some(1_796_062_500_000),
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(
            order_json(&order)["fulfilment"],
            json!({"type": "pickup", "phone": "555 0100", "slot": "2026-11-30T18:15:00Z"})
        );
        order.fulfilment = None;
        assert_eq!(order_json(&order)["fulfilment"], Value::Null);
    }
}
