//! JSON log lines, the access line written directly.
//!
//! `tracing-subscriber`'s JSON formatter serializes each event through serde (a map
//! serializer, each field's text checked again as UTF-8, the timestamp in a fresh `String`):
//! about 2 µs an event (`cargo bench -p stampede --bench log_line`), paid by every request
//! while the access log is on (the default), against under 1 µs here. The access line, outside any span, is written here field by field
//! in the same shape; every other event, and an access line inside a span (traces exported),
//! goes to `tracing-subscriber`'s formatter as before.

use std::fmt::{self, Write};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent};
use tracing_subscriber::registry::LookupSpan;

/// The binary's JSON event format: flattened fields, as `tracing-subscriber`'s.
pub struct JsonLines {
    standard: Format<Json>,
}

impl Default for JsonLines {
    fn default() -> Self {
        JsonLines { standard: tracing_subscriber::fmt::format().json().flatten_event(true) }
    }
}

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, JsonFields>, writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let access = event.metadata().target() == stampede_web::telemetry::ACCESS_TARGET;
        if !access || event.parent().is_some() || ctx.lookup_current().is_some() {
            return self.standard.format_event(ctx, writer, event);
        }
        access_line(writer, event)
    }
}

/// `{"timestamp":…,"level":…,<fields in order>,"target":…}` and a newline: the standard
/// formatter's line for an event outside any span.
fn access_line(mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
    w.write_str("{\"timestamp\":\"")?;
    SystemTime.format_time(&mut w)?;
    write!(w, "\",\"level\":\"{}\"", event.metadata().level())?;
    let mut fields = Fields { w: &mut w, result: Ok(()) };
    event.record(&mut fields);
    fields.result?;
    w.write_str(",\"target\":")?;
    string(&mut w, event.metadata().target())?;
    w.write_str("}\n")
}

/// Writes each field as `,"name":value`.
struct Fields<'a, 'w> {
    w: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn entry(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self.w.write_char(',').and_then(|()| string(self.w, field.name())).and_then(|()| {
                self.w.write_char(':')?;
                value(self.w)
            });
        }
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, |w| string(w, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, |w| write!(w, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, |w| write!(w, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // As serde_json writes it (`2.0`, `1e-7`, where Rust's `{}` gives `2` and `0.0000001`);
        // JSON has no NaN or infinity, so serde writes them as null.
        self.entry(field, |w| match serde_json::Number::from_f64(value) {
            Some(number) => write!(w, "{number}"),
            None => w.write_str("null"),
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, |w| {
            w.write_char('"')?;
            write!(Escaped(&mut *w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

/// `text` as a JSON string.
fn string(w: &mut Writer<'_>, text: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaped(&mut *w).write_str(text)?;
    w.write_char('"')
}

/// Escapes what it is given for the inside of a JSON string (RFC 8259, 7): the quote, the
/// backslash and control characters; everything else is written as it is.
struct Escaped<'a, 'w>(&'a mut Writer<'w>);

impl Write for Escaped<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut plain = 0;
        for (i, byte) in text.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0..0x20 => "",
                _ => continue,
            };
            self.0.write_str(&text[plain..i])?;
            match escape {
                "" => write!(self.0, "\\u{byte:04x}")?,
                _ => self.0.write_str(escape)?,
            }
            plain = i + 1;
        }
        self.0.write_str(&text[plain..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    /// Lines written, shared with the test.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// What `emit` logs, through this format (`fast`) or the standard one.
    fn logged(fast: bool, emit: impl FnOnce()) -> String {
        let lines = Lines::default();
        let out = lines.clone();
        let layer = tracing_subscriber::fmt::layer().json().flatten_event(true).with_writer(move || out.clone());
        if fast {
            tracing::subscriber::with_default(
                tracing_subscriber::registry().with(layer.event_format(JsonLines::default())),
                emit,
            );
        } else {
            tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), emit);
        }
        String::from_utf8(lines.0.lock().unwrap().clone()).unwrap()
    }

    /// The line with its timestamp's value taken out, and that value.
    fn untimed(line: &str) -> (String, String) {
        let start = line.find("\"timestamp\":\"").unwrap() + "\"timestamp\":\"".len();
        let end = start + line[start..].find('"').unwrap();
        (format!("{}{}", &line[..start], &line[end..]), line[start..end].to_owned())
    }

    fn access(route: &str, order_id: Option<&str>, latency_ms: f64) {
        let (request_id, method, status) = ("6d7f-\"quoted\"\\back\nline\u{1}é", "POST", 201u16);
        let trace_id: Option<&str> = None;
        tracing::info!(target: stampede_web::telemetry::ACCESS_TARGET, request_id, %method, route, status, latency_ms, order_id, trace_id, "request");
    }

    #[test]
    fn the_access_line_is_the_standard_formatters_line_byte_for_byte() {
        let cases = [
            ("/healthz", None, 0.018244999999999997),
            ("/api/orders", Some("0193-ab"), 12.5),
            ("/x", None, f64::NAN),
            ("/y", None, f64::INFINITY),
            ("/whole", None, 2.0),
            ("/zero", None, -0.0),
            ("/tiny", None, 1e-7),
            ("/huge", None, 1e17),
        ];
        for (route, order_id, latency) in cases {
            let (fast, standard) =
                (logged(true, || access(route, order_id, latency)), logged(false, || access(route, order_id, latency)));
            let ((fast_line, fast_time), (standard_line, standard_time)) = (untimed(&fast), untimed(&standard));
            assert_eq!(fast_line, standard_line);
            assert!(fast.ends_with("}\n"), "{fast}");
            let parsed: serde_json::Value = serde_json::from_str(&fast).unwrap();
            assert_eq!(parsed["request_id"], "6d7f-\"quoted\"\\back\nline\u{1}é");
            // Same shape of time: 2026-12-03T08:40:52.499918Z.
            assert_eq!((fast_time.len(), &fast_time[10..11], &fast_time[26..]), (standard_time.len(), "T", "Z"));
        }
    }

    #[test]
    fn other_events_and_an_access_line_inside_a_span_are_the_standard_formatters() {
        let other = || tracing::warn!(product_id = "hot", retry_in_ms = 1000u64, "could not read a waiting-room line");
        assert_eq!(untimed(&logged(true, other)).0, untimed(&logged(false, other)).0);
        let in_span = || {
            let span = tracing::info_span!("request", route = "/healthz");
            let _entered = span.enter();
            access("/healthz", None, 1.0);
        };
        let fast = logged(true, in_span);
        assert!(fast.contains("\"span\":{"), "{fast}");
        assert_eq!(untimed(&fast).0, untimed(&logged(false, in_span)).0);
    }
}
