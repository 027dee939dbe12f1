//! What an SNS topic delivers, per protocol (`MessageStructure: json`): machines (SQS, Lambda,
//! HTTP subscribers) get the JSON event unchanged under `default`, while an email subscription
//! (the Flash Sale Handler's confirmation) gets a short text a person can read, under a subject
//! naming the order.

use crate::Event;
use crate::receipt::{status_phrase, status_url};
use serde_json::json;
use stampede_domain::OrderStatus;
use stampede_domain::order::short_number;
use stampede_store::outbox::{ORDER_CANCELLED, ORDER_PLACED};

/// A publish's `Subject` and its per-protocol `Message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsMessage {
    /// At most 100 printable characters on one line, as SNS requires.
    pub subject: String,
    /// `{"default": <event JSON>, "email": <text>}` as a string.
    pub message: String,
}

/// The message for `event`; links point at `public_url`.
pub fn render(event: &Event, public_url: &str) -> SnsMessage {
    let (subject, text) = match &event.order {
        Some(order) => {
            let number = short_number(&order.id);
            let status = event
                .payload
                .get("status")
                .and_then(|s| s.as_str())
                .and_then(OrderStatus::parse)
                .unwrap_or(order.status);
            let (subject, headline) = match event.kind.as_str() {
                ORDER_PLACED => (format!("Order placed: #{number}"), "Order placed successfully".to_owned()),
                ORDER_CANCELLED => (format!("Order cancelled: #{number}"), "Order cancelled".to_owned()),
                _ => {
                    let phrase = status_phrase(status);
                    (format!("Order #{number} {phrase}"), format!("Your order {phrase}"))
                }
            };
            let items: String = order
                .lines
                .iter()
                .map(|l| format!("{} x {}  {}\n", l.quantity, l.product_name, l.line_total))
                .collect();
            let text = format!(
                "{headline}\n\nOrder #{number}\n\n{items}\nTotal: {}\n\nFollow your order: {}\n",
                order.total,
                status_url(public_url, order)
            );
            (subject, text)
        }
        None => (format!("Stampede: {}", event.kind), format!("{} ({})\n", event.kind, event.id)),
    };
    let message = json!({ "default": event.to_json().to_string(), "email": text }).to_string();
    SnsMessage { subject: one_line(&subject), message }
}

/// SNS refuses subjects with control characters or over 100 characters.
fn one_line(subject: &str) -> String {
    subject.chars().filter(|c| !c.is_control()).take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use stampede_domain::{Currency, Customer, Money, OrderLine};
    use stampede_store::Order;

    fn event(kind: &str, status: &str) -> Event {
        let line = OrderLine {
            product_id: "calzone".into(),
            product_name: "Calzone".into(),
            quantity: 2,
            options: vec![],
            unit_price: Money::new(1250, Currency::USD),
            line_total: Money::new(2500, Currency::USD),
        };
        let order = Order {
            id: "01935c1d-7b2a-7c00-8f00-0000f09a839f".into(),
            customer: Customer::with_user_id("user123").unwrap(),
            lines: vec![line],
            total: Money::new(2500, Currency::USD),
            status: OrderStatus::Received,
            fulfilment: None,
            phone: None,
            slot: None,
            created_at: 0,
            updated_at: 0,
        };
        let payload = json!({"eventId": "e1", "type": kind, "orderId": order.id, "status": status, "occurredAt": 0});
        Event { id: "e1".into(), kind: kind.into(), payload, order: Some(order), attempt: 1 }
    }

    #[test]
    fn people_read_a_short_text_and_machines_get_the_event() {
        let e = event(ORDER_PLACED, "received");
        let sns = render(&e, "https://pizza.example/");
        assert_eq!(sns.subject, "Order placed: #F09A839F");
        let message: Value = serde_json::from_str(&sns.message).unwrap();
        let default: Value = serde_json::from_str(message["default"].as_str().unwrap()).unwrap();
        assert_eq!(default, e.to_json(), "the JSON event, unchanged");
        assert_eq!(
            message["email"],
            "Order placed successfully\n\nOrder #F09A839F\n\n2 x Calzone  25.00 USD\n\nTotal: 25.00 USD\n\n\
             Follow your order: https://pizza.example/orders/01935c1d-7b2a-7c00-8f00-0000f09a839f\n"
        );
    }

    #[test]
    fn later_events_say_what_changed() {
        let preparing = render(&event("order.status_changed", "preparing"), "https://pizza.example");
        assert_eq!(preparing.subject, "Order #F09A839F is being prepared");
        assert!(preparing.message.contains("Your order is being prepared"));
        assert_eq!(render(&event(ORDER_CANCELLED, "cancelled"), "").subject, "Order cancelled: #F09A839F");
        assert_eq!(one_line(&format!("a\nb{}", "x".repeat(200))).len(), 100);
    }
}
