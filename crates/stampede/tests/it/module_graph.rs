//! No import circles between source files (#17), checked over every crate's `src`.
//!
//! Each `.rs` file is a node. An edge runs from a file to the file that *defines* what it
//! uses: every path of its `use` declarations (braces expanded) and every inline `a::b`
//! path that starts at `crate::`, `super::`, `self::` or one of the file's child modules,
//! resolved to the deepest module file it walks through. When the rest of the path names
//! something that file only re-exports (`pub use`), the edge follows the re-export to the
//! file that defines it; the re-export itself is no edge, so a lib.rs or mod.rs that
//! declares its children and re-exports their items is not in a circle with them. A parent
//! that *uses* its children (to build a router, to implement a trait by calling them) while
//! a child uses something the parent defines is a circle: the shared piece belongs in a
//! module of its own, below both. Unit tests (`#[cfg(test)] mod tests`) and comments are
//! left out: they are not part of the module structure a reader follows.
//!
//! Why files and not Rust's modules: a circle between files is what makes a change in one
//! ripple into the other and back, and what a reader must hold in their head at once.

mod graph;
mod source;

use graph::{ModPath, ModuleGraph};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[test]
fn the_workspace_has_no_import_circles() {
    let crates = workspace_crates();
    assert!(crates.len() >= 6, "expected every crate under crates/, found {:?}", crates.keys());
    let mut report = String::new();
    for (name, files) in &crates {
        let graph = ModuleGraph::build(files);
        assert!(graph.edges.values().any(|e| !e.is_empty()), "no edges at all in {name}: the scan is broken");
        for circle in graph.circles() {
            report.push_str(&describe(name, &graph, &circle));
        }
    }
    assert!(report.is_empty(), "import circles (move the shared piece into a module of its own):\n{report}");
}

#[test]
fn a_two_file_circle_is_found_with_its_edges() {
    let graph = graph_of(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        ("a.rs", "use crate::b::B;\npub struct A;\n"),
        ("b.rs", "pub struct B;\npub fn make() -> crate::a::A { crate::a::A }\n"),
    ]);
    assert_eq!(graph.circles(), vec![vec![module("a"), module("b")]]);
    let text = describe("demo", &graph, &graph.circles()[0]);
    assert!(text.contains("a.rs -> b.rs (crate::b::B)"), "{text}");
    assert!(text.contains("b.rs -> a.rs (crate::a::A)"), "{text}");
}

#[test]
fn a_parent_using_its_child_while_the_child_uses_the_parent_is_a_circle() {
    let graph = graph_of(&[
        ("lib.rs", "mod handler;\npub struct AppState;\npub fn router() { handler::serve() }\n"),
        ("handler.rs", "use crate::AppState;\npub fn serve() {}\n"),
    ]);
    assert_eq!(graph.circles(), vec![vec![module(""), module("handler")]]);
}

#[test]
fn re_exports_are_followed_to_the_defining_file() {
    let graph = graph_of(&[
        ("lib.rs", "mod handler;\nmod state;\npub use state::AppState;\npub fn router() { handler::serve() }\n"),
        ("handler.rs", "use crate::AppState;\npub fn serve() {}\n"),
        ("state.rs", "pub struct AppState;\n"),
    ]);
    assert!(graph.circles().is_empty(), "{:?}", graph.circles());
    assert_eq!(graph.edges[&module("handler")][0].to, module("state"));
}

#[test]
fn a_parent_that_only_declares_and_re_exports_is_not_in_a_circle() {
    let graph = graph_of(&[
        (
            "lib.rs",
            "mod x;\npub use x::Thing;\npub const LIMIT: u32 = 1;\n// x::Thing in a comment is no use\n\
             #[cfg(test)]\nmod tests {\n    use super::x::Thing;\n}\n",
        ),
        ("x.rs", "pub struct Thing;\nfn limit() -> u32 {\n    crate::LIMIT\n}\n"),
    ]);
    assert!(graph.circles().is_empty(), "{:?}", graph.circles());
    assert_eq!(graph.edges[&module("x")][0].to, module(""));
    assert!(graph.edges[&module("")].is_empty(), "{:?}", graph.edges[&module("")]);
}

/// Every crate under the workspace's `crates/`: its name → (module path → source text).
fn workspace_crates() -> BTreeMap<String, BTreeMap<ModPath, String>> {
    let crates_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut crates = BTreeMap::new();
    for entry in std::fs::read_dir(&crates_dir).expect("crates/") {
        let src = entry.expect("crate dir").path().join("src");
        if src.is_dir() {
            let name = src.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned());
            crates.insert(name.unwrap_or_default(), crate_sources(&src));
        }
    }
    crates
}

/// The library's `.rs` files under `src`, keyed by module path. Binary roots beside a
/// lib.rs (`main.rs`, `bin/*.rs`) are left out: they reach the library only by its crate
/// name, as another crate would, so they cannot close a circle inside it.
fn crate_sources(src: &Path) -> BTreeMap<ModPath, String> {
    let has_lib = src.join("lib.rs").is_file();
    rust_files(src)
        .into_iter()
        .filter(|file| !has_lib || !is_binary_root(src, file))
        .map(|file| {
            let relative = file.strip_prefix(src).expect("under src");
            let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            (module_path(relative), text)
        })
        .collect()
}

fn is_binary_root(src: &Path, file: &Path) -> bool {
    file == src.join("main.rs") || file.starts_with(src.join("bin"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// `api/queue.rs` → `["api", "queue"]`; `api/mod.rs` → `["api"]`; `lib.rs` and `main.rs` → `[]`.
fn module_path(relative: &Path) -> ModPath {
    let mut path: ModPath =
        relative.with_extension("").components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if path.last().is_some_and(|last| ["mod", "lib", "main"].contains(&last.as_str())) {
        path.pop();
    }
    path
}

/// A module path as the file a reader opens (`["api"]` → `api/mod.rs` when it has children).
fn file_name(graph_modules: &[ModPath], module: &ModPath) -> String {
    if module.is_empty() {
        return "lib.rs".to_owned();
    }
    let has_children = graph_modules.iter().any(|m| m.len() > module.len() && m.starts_with(module));
    match has_children {
        true => format!("{}/mod.rs", module.join("/")),
        false => format!("{}.rs", module.join("/")),
    }
}

/// One circle, its files and the edges that close it, for the failure message.
fn describe(crate_name: &str, graph: &ModuleGraph, circle: &[ModPath]) -> String {
    let modules: Vec<ModPath> = graph.edges.keys().cloned().collect();
    let names: Vec<String> = circle.iter().map(|m| file_name(&modules, m)).collect();
    let mut text = format!("{crate_name}: {} files: {}\n", circle.len(), names.join(", "));
    for (from, edge) in graph.edges_within(circle) {
        let (from, to) = (file_name(&modules, &from), file_name(&modules, &edge.to));
        text.push_str(&format!("    {from} -> {to} ({})\n", edge.via));
    }
    text
}

fn graph_of(files: &[(&str, &str)]) -> ModuleGraph {
    let texts = files.iter().map(|(file, text)| (module_path(Path::new(file)), (*text).to_owned())).collect();
    ModuleGraph::build(&texts)
}

fn module(path: &str) -> ModPath {
    path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}
