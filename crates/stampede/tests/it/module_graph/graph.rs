//! The file-level module graph of one crate and its circles (strongly connected components
//! of more than one file).

use super::source::{Source, UsePath};
use std::collections::{BTreeMap, BTreeSet};

/// A module's path inside its crate: `[]` is lib.rs (or main.rs), `["api", "queue"]` is
/// `api/queue.rs`, `["api"]` is `api/mod.rs`.
pub type ModPath = Vec<String>;

/// Re-exports followed at most this deep (a chain longer than this is a mistake anyway).
const MAX_REEXPORT_HOPS: usize = 5;

/// One edge: `from` uses something defined in `to`, first seen as `via`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub to: ModPath,
    pub via: String,
}

/// Every file of a crate and the edges between them.
pub struct ModuleGraph {
    sources: BTreeMap<ModPath, Source>,
    pub edges: BTreeMap<ModPath, Vec<Edge>>,
}

impl ModuleGraph {
    /// The graph of the files `texts` (module path → source text) of one crate.
    pub fn build(texts: &BTreeMap<ModPath, String>) -> ModuleGraph {
        let sources: BTreeMap<ModPath, Source> = texts.iter().map(|(m, t)| (m.clone(), Source::read(t))).collect();
        let mut graph = ModuleGraph { sources, edges: BTreeMap::new() };
        for module in graph.sources.keys() {
            let mut edges: Vec<Edge> = Vec::new();
            for path in &graph.sources[module].uses {
                let Some(to) = graph.resolve(module, path, 0) else { continue };
                if to != *module && !edges.iter().any(|e| e.to == to) {
                    edges.push(Edge { to, via: path.join("::") });
                }
            }
            graph.edges.insert(module.clone(), edges);
        }
        graph
    }

    /// The file that defines what `path`, written in `module`, names: the deepest module file
    /// the path walks through, or, when the rest is a name that file only re-exports, the
    /// file the re-export points to. `None` for other crates' paths and for names not
    /// resolvable to a file of this crate.
    fn resolve(&self, module: &ModPath, path: &UsePath, hops: usize) -> Option<ModPath> {
        let (base, rest) = self.anchor(module, path)?;
        let mut deepest = base;
        let mut taken = 0;
        for segment in rest {
            let mut next = deepest.clone();
            next.push(segment.clone());
            if !self.sources.contains_key(&next) {
                break;
            }
            deepest = next;
            taken += 1;
        }
        let source = self.sources.get(&deepest)?;
        let left = &rest[taken..];
        if let Some(name) = left.first()
            && hops < MAX_REEXPORT_HOPS
            && !source.defined.contains(name)
            && let Some(target) = source.reexports.get(name)
        {
            let mut followed = target.clone();
            followed.extend(left[1..].iter().cloned());
            if let Some(found) = self.resolve(&deepest, &followed, hops + 1) {
                return Some(found);
            }
        }
        Some(deepest)
    }

    /// Where a path starts (`crate::`, `super::`, `self::`, or a child module of `module`)
    /// and the segments after that start; `None` for anything else (std, other crates, locals).
    fn anchor<'p>(&self, module: &ModPath, path: &'p UsePath) -> Option<(ModPath, &'p [String])> {
        let first = path.first()?;
        if first == "crate" {
            return Some((Vec::new(), &path[1..]));
        }
        if first == "super" || first == "self" {
            let mut base = module.clone();
            let mut rest = &path[..];
            while let Some(segment) = rest.first().filter(|s| *s == "super" || *s == "self") {
                if segment == "super" {
                    base.pop();
                }
                rest = &rest[1..];
            }
            return Some((base, rest));
        }
        let mut child = module.clone();
        child.push(first.clone());
        self.sources.contains_key(&child).then(|| (module.clone(), &path[..]))
    }

    /// The circles: sets of two or more files each reachable from every other (Tarjan's
    /// strongly connected components), each sorted, in a stable order.
    pub fn circles(&self) -> Vec<Vec<ModPath>> {
        let mut tarjan = Tarjan::default();
        for module in self.edges.keys() {
            if !tarjan.index.contains_key(module) {
                tarjan.visit(module, &self.edges);
            }
        }
        let mut circles: Vec<Vec<ModPath>> = tarjan.components.into_iter().filter(|c| c.len() > 1).collect();
        for circle in &mut circles {
            circle.sort();
        }
        circles.sort();
        circles
    }

    /// The edges of `circle` that stay inside it.
    pub fn edges_within(&self, circle: &[ModPath]) -> Vec<(ModPath, Edge)> {
        let members: BTreeSet<&ModPath> = circle.iter().collect();
        circle
            .iter()
            .flat_map(|from| {
                self.edges[from].iter().filter(|e| members.contains(&e.to)).map(move |e| (from.clone(), e.clone()))
            })
            .collect()
    }
}

#[derive(Default)]
struct Tarjan {
    next: usize,
    index: BTreeMap<ModPath, usize>,
    low: BTreeMap<ModPath, usize>,
    stack: Vec<ModPath>,
    on_stack: BTreeSet<ModPath>,
    components: Vec<Vec<ModPath>>,
}

impl Tarjan {
    fn visit(&mut self, v: &ModPath, edges: &BTreeMap<ModPath, Vec<Edge>>) {
        self.index.insert(v.clone(), self.next);
        self.low.insert(v.clone(), self.next);
        self.next += 1;
        self.stack.push(v.clone());
        self.on_stack.insert(v.clone());
        for edge in edges.get(v).into_iter().flatten() {
            let w = &edge.to;
            if !self.index.contains_key(w) {
                self.visit(w, edges);
                let low = self.low[v].min(self.low[w]);
                self.low.insert(v.clone(), low);
            } else if self.on_stack.contains(w) {
                let low = self.low[v].min(self.index[w]);
                self.low.insert(v.clone(), low);
            }
        }
        if self.low[v] == self.index[v] {
            let mut component = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack.remove(&w);
                let done = w == *v;
                component.push(w);
                if done {
                    break;
                }
            }
            self.components.push(component);
        }
    }
}
