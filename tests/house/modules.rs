//! The import graph of a crate's top-level modules: an edge `a → b` when a file of module `a`
//! names `crate::b` (or a name the crate root re-exports from `b`). The root itself is left out:
//! it declares and composes every module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::lexer::code_only;

pub type Graph = BTreeMap<String, BTreeSet<String>>;

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
}

/// The identifier at the start of `s`.
fn head(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

pub fn graph(src: &Path) -> Graph {
    let root = code_only(&std::fs::read_to_string(src.join("lib.rs")).unwrap_or_default());
    let mut modules = BTreeSet::new();
    let mut reexports = BTreeMap::new();
    for line in root.lines() {
        let s = line.trim();
        let s = s
            .strip_prefix("pub ")
            .or_else(|| s.strip_prefix("pub(crate) "))
            .unwrap_or(s);
        if let Some(m) = s.strip_prefix("mod ").filter(|m| m.trim_end().ends_with(';')) {
            modules.insert(head(m.trim()).to_owned());
        }
    }
    for stmt in root.split(';') {
        // A statement may follow attributes and comments: start at its `use`.
        let Some(at) = stmt.find("pub use ").or_else(|| stmt.find("pub(crate) use ")) else {
            continue;
        };
        let rest = &stmt[at..];
        let rest = &rest[rest.find("use ").map_or(0, |u| u + "use ".len())..];
        let m = head(rest);
        if modules.contains(m) {
            for name in words(&rest[m.len()..]) {
                reexports.insert(name.to_owned(), m.to_owned());
            }
        }
    }
    let mut graph = Graph::new();
    for m in &modules {
        let mut files = Vec::new();
        let single = src.join(format!("{m}.rs"));
        if single.exists() {
            files.push(single);
        } else {
            files.extend(super::rust_files(&src.join(m)));
        }
        let edges = graph.entry(m.clone()).or_default();
        for f in files {
            let code = code_only(&std::fs::read_to_string(&f).unwrap_or_default());
            let mut rest = code.as_str();
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + "crate::".len()..];
                // `crate::{a::X, b}` names several; `crate::a` one.
                let names: Vec<&str> = if rest.starts_with('{') {
                    let end = rest.find('}').unwrap_or(rest.len());
                    rest[1..end].split(',').map(|p| head(p.trim())).collect()
                } else {
                    vec![head(rest)]
                };
                for n in names {
                    let target = if modules.contains(n) {
                        Some(n)
                    } else {
                        reexports.get(n).map(String::as_str)
                    };
                    if let Some(t) = target.filter(|t| t != m) {
                        edges.insert(t.to_owned());
                    }
                }
            }
        }
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan).
pub fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                if let Some(l) = s.low.get_mut(v) {
                    *l = (*l).min(lw);
                }
            } else if s.on.contains(w) {
                let iw = s.index[w];
                if let Some(l) = s.low.get_mut(v) {
                    *l = (*l).min(iw);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_circle_is_found() {
        let mut g = Graph::new();
        for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
            g.entry(a.into()).or_default().insert(b.into());
            g.entry(b.into()).or_default();
        }
        assert_eq!(cycles(&g), vec![vec!["a".to_owned(), "b".into(), "c".into()]]);
    }
}
