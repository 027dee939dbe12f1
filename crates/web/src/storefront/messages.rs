//! Refusals in words a customer understands. Both the cart (checking a line as it is added)
//! and checkout (the store's answer) get here through `Problem`, the web layer's one
//! description of what went wrong, so one wording serves both.

use super::display::wait_label;
use crate::Problem;
use crate::shop_time::ShopZone;
use crate::timefmt::parse_rfc3339;

/// Explains `problem`, times in the shop's `zone`; `name_of` turns a product id into its menu name.
pub fn explain(problem: &Problem, now: i64, zone: &ShopZone, name_of: impl Fn(&str) -> String) -> String {
    let kind = problem.kind.trim_start_matches("/problems/");
    let id = problem.product_id.as_deref().unwrap_or_default();
    let name = name_of(id);
    match kind {
        "out-of-stock" => match problem.available {
            Some(0) | None => format!("Sorry, {name} just sold out."),
            Some(n) => format!("Sorry, only {n} {name} left. Lower the quantity to order the rest."),
        },
        "sale-not-started" => match problem.sale_starts_at.as_deref().and_then(parse_rfc3339) {
            Some(at) => {
                format!("The {name} sale isn't open yet. It opens {} ({}).", wait_label(now, at), zone.label(at))
            }
            None => format!("The {name} sale isn't open yet."),
        },
        "sale-ended" => format!("Sorry, the {name} sale has ended."),
        "place-expired" => format!(
            "Your place in the {name} line has expired: you joined more than a day ago, and each customer \
             keeps one place per line, so it can't take you again."
        ),
        "product-unavailable" | "unknown-product" => format!("Sorry, {name} is no longer on the menu."),
        "busy" => format!(
            "We're swamped with orders right now, so yours couldn't be queued. Nothing was charged or reserved \
             and your cart is saved: please try again in {} seconds.",
            problem.retry_after.unwrap_or(1)
        ),
        "rate-limited" => format!(
            "That's a lot of orders in a short time. Nothing was placed: please try again in {} seconds.",
            problem.retry_after.unwrap_or(1)
        ),
        "internal" => "Something went wrong on our side and nothing was charged. Please try again.".to_owned(),
        _ => {
            // A field problem's detail starts with the field's JSON path, which means nothing on a page.
            let detail = match &problem.field {
                Some(field) => problem.detail.trim_start_matches(&format!("{field}: ")),
                None => &problem.detail,
            };
            sentence(&detail.replace(&format!("`{id}`"), &name))
        }
    }
}

/// Capitalises the first letter and ends with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_domain::OrderRejection;

    fn say(r: OrderRejection) -> String {
        explain(&Problem::from(r), 0, &ShopZone::default(), |_| "Golden Slice".to_owned())
    }

    #[test]
    fn refusals_name_the_product_and_what_to_do() {
        let sold = say(OrderRejection::OutOfStock { product: "g".into(), requested: 1, available: 0 });
        assert_eq!(sold, "Sorry, Golden Slice just sold out.");
        let few = say(OrderRejection::OutOfStock { product: "g".into(), requested: 5, available: 2 });
        assert!(few.contains("only 2 Golden Slice left"));
        let early = say(OrderRejection::SaleNotStarted { product: "g".into(), starts_at: 3_600_000 });
        assert_eq!(early, "The Golden Slice sale isn't open yet. It opens in 1 h 0 min (Thu 1 Jan 1970, 01:00 UTC).");
        let limit = say(OrderRejection::CustomerLimit { product: "g".into(), limit: 1, already: 1, requested: 1 });
        assert!(limit.starts_with("At most 1 of Golden Slice per customer"), "{limit}");
        let invalid =
            say(stampede_domain::ValidationError::new("options.toppings", "Toppings: choose at most 5").into());
        assert_eq!(invalid, "Toppings: choose at most 5.");
        let busy = explain(&crate::problem::busy(std::time::Duration::from_secs(3)), 0, &ShopZone::default(), |_| {
            String::new()
        });
        assert!(busy.contains("try again in 3 seconds"));
        let mut expired = Problem::new(axum::http::StatusCode::CONFLICT, "place-expired", "Expired", "detail");
        expired.product_id = Some("g".into());
        let expired = explain(&expired, 0, &ShopZone::default(), |_| "Golden Slice".to_owned());
        assert!(expired.starts_with("Your place in the Golden Slice line has expired"), "{expired}");
    }
}
