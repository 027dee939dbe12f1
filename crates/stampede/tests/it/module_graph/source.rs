//! Reading one source file for the module graph: what is left once tests and comments are
//! dropped, the paths it uses, the items it defines and the names it re-exports. Text-level
//! on purpose (std only, no parser): the workspace's code is rustfmt-formatted, so `use`
//! trees, item headers and `#[cfg(test)] mod tests` have one shape.

use std::collections::{BTreeMap, BTreeSet};

/// A path as written, split at `::` (`crate::state::AppState` → `["crate", "state", "AppState"]`).
pub type UsePath = Vec<String>;

/// What the module graph needs from one file.
#[derive(Debug, Default)]
pub struct Source {
    /// Paths of its `use` declarations (re-exports excluded) and of inline `a::b` paths.
    pub uses: Vec<UsePath>,
    /// Names of the items the file defines (functions, types, consts, ...).
    pub defined: BTreeSet<String>,
    /// `pub use` re-exports: the name they export here → the path they point to.
    pub reexports: BTreeMap<String, UsePath>,
}

impl Source {
    pub fn read(text: &str) -> Source {
        let code = code_only(text);
        let mut uses = Vec::new();
        let mut reexports = BTreeMap::new();
        for decl in use_declarations(&code) {
            for path in expand_use_tree(&decl.tree) {
                let (path, alias) = split_alias(path);
                if decl.public {
                    let name = alias.or_else(|| path.last().cloned()).unwrap_or_default();
                    reexports.insert(name, path);
                } else {
                    uses.push(path);
                }
            }
        }
        uses.extend(inline_paths(&without_use_declarations(&code)));
        Source { uses, defined: defined_items(&code), reexports }
    }
}

/// The file without its unit tests (`#[cfg(test)] mod tests` and all after it, which rustfmt
/// keeps last) and without `//` comments, so neither a test's imports nor a doc comment's
/// `[`a::b`]` counts as a use.
pub fn code_only(text: &str) -> String {
    let kept = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    kept.lines().map(|line| line.find("//").map_or(line, |at| &line[..at])).collect::<Vec<_>>().join("\n")
}

/// One `use` declaration: its tree, and whether it is a re-export (`pub use`, `pub(crate) use`).
struct UseDecl {
    tree: String,
    public: bool,
}

/// Every `use ...;` in `code`, with its tree.
fn use_declarations(code: &str) -> Vec<UseDecl> {
    use_spans(code)
        .into_iter()
        .map(|(start, tree_start, end)| UseDecl {
            tree: code[tree_start..end].to_owned(),
            public: is_public_prefix(&code[..start]),
        })
        .collect()
}

/// `code` with every `use ...;` removed, so its paths are not read twice.
fn without_use_declarations(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut from = 0;
    for (start, _, end) in use_spans(code) {
        out.push_str(&code[from..start]);
        from = end + 1;
    }
    out.push_str(&code[from..]);
    out
}

/// `(start of "use", start of its tree, position of its ';')` for every `use` keyword that
/// stands as a word and is followed by whitespace.
fn use_spans(code: &str) -> Vec<(usize, usize, usize)> {
    let bytes = code.as_bytes();
    let mut spans = Vec::new();
    let mut at = 0;
    while let Some(found) = code[at..].find("use") {
        let start = at + found;
        at = start + 3;
        let word_before = start > 0 && is_ident_byte(bytes[start - 1]);
        let space_after = bytes.get(start + 3).is_some_and(|b| b.is_ascii_whitespace());
        if word_before || !space_after {
            continue;
        }
        let Some(semicolon) = code[start..].find(';') else { break };
        let end = start + semicolon;
        spans.push((start, start + 4, end));
        at = end + 1;
    }
    spans
}

/// Whether the text before a `use` ends with `pub ` or `pub(...) `.
fn is_public_prefix(before: &str) -> bool {
    let before = before.trim_end();
    if before.ends_with(')') {
        match before.rfind("pub(") {
            Some(at) => !before[..at].ends_with(|c: char| is_ident_char(c)),
            None => false,
        }
    } else {
        before.ends_with("pub") && !before[..before.len() - 3].ends_with(|c: char| is_ident_char(c))
    }
}

/// A use tree with its braces expanded: `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
pub fn expand_use_tree(tree: &str) -> Vec<UsePath> {
    let compact: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut chars = compact.chars().peekable();
    expand_group(&mut chars, &[])
}

fn expand_group(chars: &mut std::iter::Peekable<std::str::Chars>, prefix: &[String]) -> Vec<UsePath> {
    let mut paths = Vec::new();
    let mut current = String::new();
    let with_prefix = |current: &str| {
        let mut path = prefix.to_vec();
        path.extend(current.split("::").map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned));
        path
    };
    while let Some(c) = chars.next() {
        match c {
            '{' => {
                paths.extend(expand_group(chars, &with_prefix(&current)));
                current.clear();
            }
            '}' => break,
            ',' => {
                if !current.trim().is_empty() {
                    paths.push(with_prefix(&current));
                }
                current.clear();
            }
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        paths.push(with_prefix(&current));
    }
    paths
}

/// `a::B as C` → (`a::B`, `Some("C")`).
fn split_alias(mut path: UsePath) -> (UsePath, Option<String>) {
    let Some(last) = path.pop() else { return (path, None) };
    match last.split_once(" as ") {
        Some((name, alias)) => {
            path.push(name.trim().to_owned());
            (path, Some(alias.trim().to_owned()))
        }
        None => {
            path.push(last);
            (path, None)
        }
    }
}

/// Paths written inline, `a::b` or longer (`crate::problem::busy(..)`, `api::routes()`).
fn inline_paths(code: &str) -> Vec<UsePath> {
    let bytes = code.as_bytes();
    let mut paths = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if !is_ident_byte(bytes[at]) {
            at += 1;
            continue;
        }
        let mut path = Vec::new();
        let mut end = ident_end(bytes, at);
        if bytes[at].is_ascii_digit() {
            at = end;
            continue;
        }
        path.push(code[at..end].to_owned());
        while code[end..].starts_with("::") && bytes.get(end + 2).is_some_and(|b| is_ident_start(*b)) {
            let next = ident_end(bytes, end + 2);
            path.push(code[end + 2..next].to_owned());
            end = next;
        }
        if path.len() > 1 {
            paths.push(path);
        }
        at = end;
    }
    paths
}

/// Names the file defines at the start of a line: `fn`, `struct`, `enum`, `trait`, `type`,
/// `const`, `static`, `union`, `macro_rules!`, after any `pub`, `async`, `const`, `unsafe`.
fn defined_items(code: &str) -> BTreeSet<String> {
    code.lines().filter_map(item_name).collect()
}

fn item_name(line: &str) -> Option<String> {
    let mut rest = line.trim_start();
    if let Some(after) = rest.strip_prefix("pub(") {
        rest = after.split_once(')')?.1.trim_start();
    } else if let Some(after) = rest.strip_prefix("pub ") {
        rest = after.trim_start();
    }
    let mut words = rest.split_whitespace().peekable();
    while let Some(word) = words.next() {
        match word {
            "async" | "unsafe" => continue,
            "const" if words.peek().is_some_and(|next| ["fn", "async", "unsafe"].contains(next)) => continue,
            "fn" | "struct" | "enum" | "trait" | "type" | "const" | "static" | "union" | "macro_rules!" => {
                let name: String = words.next()?.chars().take_while(|c| is_ident_char(*c)).collect();
                return (!name.is_empty()).then_some(name);
            }
            _ => return None,
        }
    }
    None
}

fn ident_end(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && is_ident_byte(bytes[at]) {
        at += 1;
    }
    at
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}
