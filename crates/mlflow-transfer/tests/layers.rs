//! The engine's layering, as ARCHITECTURE.md promises it: no two modules import each other
//! (directly or around a longer circle), and no mover imports another. Read from the sources,
//! so a new `use` that breaks it fails here.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Module name (`store::dir`, `movers::run`, `plan`) → the engine modules its code uses.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut graph = BTreeMap::new();
    for f in &files {
        let name = module_of(&src, f);
        if name == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let code: String = code.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
        let mut deps = BTreeSet::new();
        for path in paths_used(&code) {
            // The longest known module the path names: `store::dir::DirSink` → `store::dir`.
            let segments: Vec<&str> = path.split("::").collect();
            let found = (1..=segments.len()).rev().map(|n| segments[..n].join("::")).find(|m| modules.contains(m));
            if let Some(m) = found.filter(|m| *m != name && !name.starts_with(&format!("{m}::"))) {
                deps.insert(m);
            }
        }
        graph.insert(name, deps);
    }
    graph
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// Every `crate::a::b::C` path, with `use crate::{a::{b, c}, d}` groups expanded.
fn paths_used(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        out.extend(expand("", rest));
    }
    out
}

/// Expands the path (or brace group) at the start of `s`, prefixed by `prefix`.
fn expand(prefix: &str, s: &str) -> Vec<String> {
    if let Some(inner) = s.strip_prefix('{') {
        let (mut depth, mut start, mut out) = (0, 0, Vec::new());
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    out.extend(expand(prefix, inner[start..i].trim_start()));
                    return out;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.extend(expand(prefix, inner[start..i].trim_start()));
                    start = i + 1;
                }
                _ => {}
            }
        }
        return out;
    }
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    let (word, after) = s.split_at(end);
    if word.is_empty() {
        return Vec::new();
    }
    let path = if prefix.is_empty() { word.to_string() } else { format!("{prefix}::{word}") };
    match after.strip_prefix("::") {
        Some(next) => {
            let more = expand(&path, next);
            if more.is_empty() {
                vec![path]
            } else {
                more
            }
        }
        None => vec![path],
    }
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = imports();
    assert!(graph.contains_key("movers::run") && graph.contains_key("store::dir"), "{graph:?}");
    for start in graph.keys() {
        let (mut seen, mut todo) = (BTreeSet::new(), vec![start.clone()]);
        while let Some(m) = todo.pop() {
            for d in graph.get(&m).into_iter().flatten() {
                assert!(d != start, "{start} imports itself back through {m}: {graph:#?}");
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
    }
}

#[test]
fn no_mover_imports_another() {
    for (m, deps) in imports().iter().filter(|(m, _)| m.starts_with("movers::")) {
        let movers: Vec<&String> = deps.iter().filter(|d| d.starts_with("movers")).collect();
        assert!(movers.is_empty(), "{m} imports {movers:?}");
    }
}

#[test]
fn the_reader_sees_groups() {
    let got = paths_used("use crate::{a::{b, c::D}, e};\nlet x = crate::f::g(1);");
    assert_eq!(got, ["a::b", "a::c::D", "e", "f::g"]);
}

#[test]
fn movers_reach_backends_only_through_store_traits() {
    let concrete = ["store::rest", "store::dir", "store::zip", "store::object", "store::artifact_root"];
    for (m, deps) in imports().iter().filter(|(m, _)| m.starts_with("movers::")) {
        let found: Vec<&String> = deps.iter().filter(|d| concrete.contains(&d.as_str())).collect();
        assert!(found.is_empty(), "{m} uses {found:?}");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(m.replace("::", "/") + ".rs");
        let text = std::fs::read_to_string(&src).unwrap();
        assert!(!text.contains("mlflow_client"), "{m} talks to a server itself");
    }
}

/// Every file of ours comes into place through `store::local::persist`, which syncs the file
/// and its folder: a rename or a plain write elsewhere could leave an export reported complete
/// that a power cut takes back. Test modules (fixtures) aside.
#[test]
fn every_file_comes_into_place_synced() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    for krate in ["mlflow-transfer", "mlflow-export-import"] {
        collect(&crates.join(krate).join("src"), &mut files);
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let allowed = file.ends_with("store/local.rs");
        for needle in ["fs::rename(", "fs::write("] {
            assert!(allowed || !code.contains(needle), "{} uses {needle} instead of store::local", file.display());
        }
    }
}
