//! Free text customers type (names, address lines): one line, and nothing invisible that
//! changes how it reads.

/// Whether `c` may appear in a name or an address line. Control characters (NUL, newlines,
/// escapes) break receipts, logs and CSV exports; bidi overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069) make text display in another order than it is stored, so a name or an address
/// could read as something else on the kitchen's screen.
pub fn is_plain_text_char(c: char) -> bool {
    !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether every character of `text` is plain (see [`is_plain_text_char`]).
pub fn is_plain_text(text: &str) -> bool {
    text.chars().all(is_plain_text_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_not_plain() {
        assert!(is_plain_text("Zoë O'Brien-Müller 王"));
        for bad in ["a\0b", "a\nb", "a\u{7}", "a\u{202E}b", "\u{202A}", "x\u{2066}y", "\u{2069}", "a\u{9b}b"] {
            assert!(!is_plain_text(bad), "{bad:?}");
        }
        // Marks that only affect neighbouring characters' direction are fine in names.
        assert!(is_plain_text("\u{200F}abc"));
    }
}
