//! The customer email for an order event: a receipt when the order is placed, a short
//! status update after that. Plain-text and HTML parts come from askama templates.

use crate::Event;
use crate::mail::{MailContext, Receipt};
use askama::Template;
use stampede_domain::{Fulfilment, OrderLine, OrderStatus, ShopProfile, short_number};
use stampede_store::Order;
use stampede_store::outbox::ORDER_PLACED;

/// A line as the receipt shows it.
struct LineView {
    quantity: u32,
    name: String,
    /// e.g. `Size: Large; Toppings: Olives, Basil`; empty without options.
    options: String,
    total: String,
}

#[derive(Template)]
#[template(path = "receipt.txt")]
struct TextReceipt<'a> {
    view: &'a ReceiptView,
}

#[derive(Template)]
#[template(path = "receipt.html")]
struct HtmlReceipt<'a> {
    view: &'a ReceiptView,
}

/// What both templates show.
struct ReceiptView {
    headline: String,
    greeting: String,
    /// The short number the site shows, without `#`.
    number: String,
    status: String,
    lines: Vec<LineView>,
    total: String,
    status_url: String,
    /// "Pickup at the counter" or "Delivery to <address>", when the order says.
    fulfilment: Option<String>,
    /// The number the shop may call, when the customer gave one.
    phone: Option<String>,
    /// "As soon as possible" or the chosen time, when the order says how it reaches the customer.
    when: Option<String>,
    shop: ShopProfile,
}

/// Renders the email for `event` (a receipt, a status update, or a one-time link), or
/// `None` if there is no one to send it to (shorthand `userId` orders carry no email address).
pub fn render(event: &Event, context: &MailContext) -> Result<Option<Receipt>, askama::Error> {
    if event.kind == stampede_store::EMAIL_LINK_EVENT {
        return Ok(crate::link_mail::render(event, context));
    }
    let Some(order) = &event.order else { return Ok(None) };
    let Some(to) = order.customer.email.clone() else { return Ok(None) };
    let status =
        event.payload.get("status").and_then(|s| s.as_str()).and_then(OrderStatus::parse).unwrap_or(order.status);
    let number = short_number(&order.id);
    let (subject, headline) = if event.kind == ORDER_PLACED {
        (format!("Order placed: #{number}"), "Thank you for your order".to_owned())
    } else {
        let phrase = status_phrase(status);
        (format!("Order #{number} {phrase}"), format!("Your order {phrase}"))
    };
    let view = ReceiptView {
        headline,
        greeting: order.customer.name.as_deref().map_or_else(|| "Hello,".to_owned(), |n| format!("Hello {n},")),
        number,
        status: status.label().to_owned(),
        lines: order.lines.iter().map(line_view).collect(),
        total: order.total.for_people(),
        status_url: context.order(&order.id),
        fulfilment: order.fulfilment.as_ref().map(|f| fulfilment_line(f, &context.shop)),
        phone: order.phone.as_ref().map(|p| p.as_str().to_owned()),
        when: order
            .fulfilment
            .as_ref()
            .map(|_| order.slot.map_or_else(|| "As soon as possible".to_owned(), |at| context.time_label(at))),
        shop: context.shop.clone(),
    };
    let text = TextReceipt { view: &view }.render()?;
    let html = HtmlReceipt { view: &view }.render()?;
    Ok(Some(Receipt { to, subject, text, html }))
}

/// One line saying how the order reaches the customer.
fn fulfilment_line(f: &Fulfilment, shop: &ShopProfile) -> String {
    match f {
        Fulfilment::Pickup if shop.address.is_empty() => "Pickup at the counter".to_owned(),
        Fulfilment::Pickup => format!("Pickup at the counter: {}", shop.address),
        Fulfilment::Delivery(a) => format!("Delivery to {}, {} {}", a.address, a.postcode, a.city),
    }
}

/// Where the customer can follow the order (without its access key: for channels that do
/// not sign, such as SNS).
pub fn status_url(public_url: &str, order: &Order) -> String {
    format!("{}/orders/{}", public_url.trim_end_matches('/'), order.id)
}

pub(crate) fn status_phrase(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Received => "was received",
        OrderStatus::Preparing => "is being prepared",
        OrderStatus::Ready => "is ready for pickup",
        OrderStatus::OutForDelivery => "is out for delivery",
        OrderStatus::Completed => "is completed",
        OrderStatus::Cancelled => "was cancelled",
    }
}

/// Groups a line's options by option group, so three toppings read as one entry.
fn line_view(line: &OrderLine) -> LineView {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for option in &line.options {
        match groups.iter_mut().find(|(g, _)| *g == option.group_name) {
            Some((_, choices)) => choices.push(&option.choice_name),
            None => groups.push((&option.group_name, vec![&option.choice_name])),
        }
    }
    let options = groups.iter().map(|(g, c)| format!("{g}: {}", c.join(", "))).collect::<Vec<_>>().join("; ");
    LineView { quantity: line.quantity, name: line.product_name.clone(), options, total: line.line_total.for_people() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chosen_times_are_told_in_the_shop_zone() {
        let utc = MailContext::default();
        assert_eq!(utc.time_label(1_796_062_500_000), "Mon 30 Nov 2026, 18:15 UTC");
        let berlin = MailContext { zone: Some(jiff::tz::TimeZone::get("Europe/Berlin").unwrap()), ..utc };
        assert_eq!(berlin.time_label(1_796_062_500_000), "Mon 30 Nov 2026, 19:15 CET");
    }
}
