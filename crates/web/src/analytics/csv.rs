//! Orders as CSV (RFC 4180): one row per order line, so a spreadsheet can sum units and
//! line totals per product without parsing anything; the order's own columns repeat on each
//! of its lines. Money is a decimal string made from integer cents, times are RFC 3339 UTC.

use crate::timefmt::rfc3339;
use stampede_domain::{Fulfilment, OrderLine};
use stampede_store::Order;
use std::fmt::Write;

/// The header row.
pub const COLUMNS: [&str; 19] = [
    "order_id",
    "placed_at",
    "status",
    "customer",
    "customer_name",
    "customer_email",
    "fulfilment",
    "delivery_address",
    "delivery_city",
    "delivery_postcode",
    "line_no",
    "product_id",
    "product_name",
    "options",
    "quantity",
    "unit_price",
    "line_total",
    "order_total",
    "currency",
];

/// The header line, CRLF-terminated.
pub fn header() -> String {
    let mut out = String::new();
    row(&mut out, COLUMNS.iter().map(|c| Cell::Plain(c)));
    out
}

/// Appends one row per line of `order`.
pub fn write_order(out: &mut String, order: &Order) {
    let (kind, address, city, postcode) = match &order.fulfilment {
        None => ("", "", "", ""),
        Some(Fulfilment::Pickup) => ("pickup", "", "", ""),
        Some(Fulfilment::Delivery(a)) => ("delivery", a.address.as_str(), a.city.as_str(), a.postcode.as_str()),
    };
    let placed = rfc3339(order.created_at);
    let total = decimal(order.total.amount);
    for (n, line) in order.lines.iter().enumerate() {
        let (line_no, quantity) = ((n + 1).to_string(), line.quantity.to_string());
        let (unit, line_total, options) =
            (decimal(line.unit_price.amount), decimal(line.line_total.amount), options(line));
        row(
            out,
            [
                Cell::Plain(&order.id),
                Cell::Plain(&placed),
                Cell::Plain(order.status.as_str()),
                Cell::Text(&order.customer.key.0),
                Cell::Text(order.customer.name.as_deref().unwrap_or("")),
                Cell::Text(order.customer.email.as_deref().unwrap_or("")),
                Cell::Plain(kind),
                Cell::Text(address),
                Cell::Text(city),
                Cell::Text(postcode),
                Cell::Plain(&line_no),
                Cell::Plain(&line.product_id),
                Cell::Text(&line.product_name),
                Cell::Text(&options),
                Cell::Plain(&quantity),
                Cell::Plain(&unit),
                Cell::Plain(&line_total),
                Cell::Plain(&total),
                Cell::Plain(order.total.currency.as_str()),
            ],
        );
    }
}

/// Minor units as a decimal string with two places: `1299` is `12.99`, `-5` is `-0.05`.
pub fn decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// The chosen options as `Size: Large; Toppings: Olives, Basil`.
fn options(line: &OrderLine) -> String {
    let mut out = String::new();
    let mut current: Option<&str> = None;
    for o in &line.options {
        if current == Some(o.group_id.as_str()) {
            let _ = write!(out, ", {}", o.choice_name);
        } else {
            let sep = if current.is_none() { "" } else { "; " };
            let _ = write!(out, "{sep}{}: {}", o.group_name, o.choice_name);
            current = Some(&o.group_id);
        }
    }
    out
}

/// A field: `Plain` is written by us (ids, numbers, statuses); `Text` came from a customer
/// or the catalog and may hold anything.
enum Cell<'a> {
    Plain(&'a str),
    Text(&'a str),
}

fn row<'a>(out: &mut String, cells: impl IntoIterator<Item = Cell<'a>>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match cell {
            Cell::Plain(s) => field(out, s, false),
            Cell::Text(s) => field(out, s, true),
        }
    }
    out.push_str("\r\n");
}

/// Quotes a field when it holds a comma, quote, CR or LF, doubling inner quotes. Free text
/// that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a
/// leading `'`, so a customer named `=HYPERLINK(...)` stays a name when staff open the file.
fn field(out: &mut String, s: &str, free_text: bool) {
    let formula = free_text && s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || s.contains([',', '"', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quote {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stampede_domain::{Currency, Customer, CustomerKey, DeliveryAddress, Money, OrderStatus, SelectedOption};

    fn opt(group: &str, choice: &str) -> SelectedOption {
        SelectedOption {
            group_id: group.to_lowercase(),
            group_name: group.into(),
            choice_id: choice.to_lowercase(),
            choice_name: choice.into(),
            price_delta: 0,
        }
    }

    fn order() -> Order {
        let usd = |a| Money::new(a, Currency::USD);
        Order {
            id: "0194-a".into(),
            customer: Customer {
                key: CustomerKey("ana@example.com".into()),
                email: Some("ana@example.com".into()),
                name: Some("O'Brien, \"Ana\"".into()),
                limit_key: None,
            },
            lines: vec![
                OrderLine {
                    product_id: "margherita".into(),
                    product_name: "Margherita".into(),
                    quantity: 2,
                    options: vec![opt("Size", "Large"), opt("Toppings", "Olives"), opt("Toppings", "Basil")],
                    unit_price: usd(1_505),
                    line_total: usd(3_010),
                },
                OrderLine {
                    product_id: "cola".into(),
                    product_name: "=cmd|' /C calc'!A0".into(),
                    quantity: 1,
                    options: vec![],
                    unit_price: usd(5),
                    line_total: usd(5),
                },
            ],
            total: usd(3_015),
            status: OrderStatus::Preparing,
            fulfilment: Some(Fulfilment::Delivery(DeliveryAddress {
                address: "1 Main St\nFlat 2".into(),
                city: "Springfield".into(),
                postcode: "12345".into(),
            })),
            phone: None,
            slot: None,
            created_at: 1_795_132_800_000 + 1_234,
            updated_at: 0,
        }
    }

    #[test]
    fn money_is_a_decimal_from_cents() {
        assert_eq!(
            [0, 5, 99, 100, 1299, -5, -1299].map(decimal),
            ["0.00", "0.05", "0.99", "1.00", "12.99", "-0.05", "-12.99"]
        );
    }

    #[test]
    fn one_row_per_line_with_rfc_4180_quoting() {
        let mut out = header();
        write_order(&mut out, &order());
        let rows: Vec<&str> = out.split_terminator("\r\n").collect();
        assert_eq!(rows[0], COLUMNS.join(","));
        assert_eq!(
            rows[1],
            "0194-a,2026-11-20T00:00:01.234Z,preparing,ana@example.com,\"O'Brien, \"\"Ana\"\"\",ana@example.com,\
             delivery,\"1 Main St\nFlat 2\",Springfield,12345,1,margherita,Margherita,\
             \"Size: Large; Toppings: Olives, Basil\",2,15.05,30.10,30.15,USD"
        );
        assert_eq!(rows.len(), 3);
        assert!(rows[2].contains(",2,cola,\"'=cmd|' /C calc'!A0\",,1,0.05,0.05,30.15,USD"), "{}", rows[2]);
    }

    #[test]
    fn orders_without_fulfilment_or_name_leave_those_cells_empty() {
        let mut o = order();
        o.fulfilment = None;
        o.customer.name = None;
        o.lines.truncate(1);
        let mut out = String::new();
        write_order(&mut out, &o);
        assert!(out.starts_with("0194-a,2026-11-20T00:00:01.234Z,preparing,ana@example.com,,ana@example.com,,,,,1,"));
        assert!(out.ends_with("\r\n") && out.matches("\r\n").count() == 1);
    }
}
