//! The email that carries a one-time link (a guest's order lookup, an account's email
//! confirmation). Only mail channels send it: the link is a secret for the recipient, so
//! webhooks and SNS never see these events.

use crate::Event;
use crate::mail::{MailContext, Receipt};
use stampede_store::LinkPurpose;

/// Renders the link email of `event`, or `None` if its payload lacks the recipient or path.
pub fn render(event: &Event, links: &MailContext) -> Option<Receipt> {
    let payload = &event.payload;
    let to = payload.get("to")?.as_str()?.to_owned();
    let path = payload.get("path")?.as_str()?;
    let minutes = payload.get("validMinutes").and_then(serde_json::Value::as_u64).unwrap_or(30);
    let url = links.url(path);
    let valid = if minutes >= 120 { format!("{} hours", minutes / 60) } else { format!("{minutes} minutes") };
    let (subject, intro, action) = if payload.get("purpose")?.as_str()? == LinkPurpose::VerifyEmail.as_str() {
        (
            "Confirm your email",
            "Please confirm that this is your email address, so the orders placed with it show in your account.",
            "Confirm my email",
        )
    } else {
        (
            "Your orders",
            "Someone (we hope you) asked to see the orders placed with this email address.",
            "Show my orders",
        )
    };
    let ignore = "If you did not ask for this, ignore this email: nothing changes.";
    let text = format!("Hello,\n\n{intro}\n\n{action}: {url}\n\nThe link works once, for {valid}. {ignore}\n");
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{subject}</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 36rem; margin: 0 auto; padding: 1rem; color: #222\">\
         <p>Hello,</p><p>{intro}</p><p><a href=\"{url}\">{action}</a></p>\
         <p style=\"color: #666\">The link works once, for {valid}. {ignore}</p></body></html>",
        url = html_escape(&url),
    );
    Some(Receipt { to, subject: subject.to_owned(), text, html })
}

/// The URL is the only outside value in the HTML; the rest are fixed sentences.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn link_emails_carry_the_link_in_both_parts() {
        let event = Event {
            id: "e1".into(),
            kind: stampede_store::EMAIL_LINK_EVENT.into(),
            payload: json!({"to": "ana@example.com", "purpose": "order_lookup", "path": "/my-orders/open?token=abc", "validMinutes": 30}),
            order: None,
            attempt: 1,
        };
        let mail = render(&event, &MailContext::from("https://shop.example/")).unwrap();
        assert_eq!((mail.to.as_str(), mail.subject.as_str()), ("ana@example.com", "Your orders"));
        assert!(mail.text.contains("https://shop.example/my-orders/open?token=abc"), "{}", mail.text);
        assert!(mail.html.contains("href=\"https://shop.example/my-orders/open?token=abc\""), "{}", mail.html);
        assert!(mail.text.contains("for 30 minutes"));
        let verify = Event {
            payload: json!({"to": "a@b.co", "purpose": "verify_email", "path": "/account/verify?token=x", "validMinutes": 1440}),
            ..event
        };
        let mail = render(&verify, &MailContext::from("http://127.0.0.1:3000")).unwrap();
        assert_eq!(mail.subject, "Confirm your email");
        assert!(mail.text.contains("http://127.0.0.1:3000/account/verify?token=x") && mail.text.contains("24 hours"));
    }
}
