//! The layering of `docs/ARCHITECTURE.md`, held: every `crate::` path in a source file (outside
//! comments) names its own folder or a layer below it, so no import goes upward and no two
//! folders import each other. A new folder must be placed in `LAYERS` (or `BESIDE`) first.

use std::path::Path;

/// Lowest first: each may import only those before it.
const LAYERS: &[&str] = &[
    "prefetch",
    "protocol",
    "game",
    "metrics",
    "room",
    "runtime",
    "lobby",
    "cluster",
    "session",
    "transport",
    "admin",
    "http",
    "config",
    "server",
];

/// Beside the server's layers: what each may import.
const BESIDE: &[(&str, &[&str])] = &[
    ("client", &["protocol", "prefetch"]),
    ("bots", &["client", "protocol", "prefetch"]),
];

/// The `crate::` paths a file's code (not its comments) names, by top-level module.
fn imported_modules(source: &str) -> Vec<String> {
    let mut modules = Vec::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            modules.push(name);
        }
    }
    modules
}

fn allowed(from: &str, to: &str) -> bool {
    if from == to {
        return true;
    }
    if let Some((_, may)) = BESIDE.iter().find(|(name, _)| *name == from) {
        return may.contains(&to);
    }
    let rank = |name: &str| LAYERS.iter().position(|layer| *layer == name);
    match (rank(from), rank(to)) {
        (Some(from), Some(to)) => to < from,
        _ => false,
    }
}

fn source_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            source_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let mut upward = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if ["lib", "main", "bin"].contains(&top.as_str()) {
            continue;
        }
        let source = std::fs::read_to_string(file).unwrap();
        for module in imported_modules(&source) {
            if !allowed(&top, &module) {
                upward.push(format!("{} imports crate::{module}", relative.display()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the layering:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_check_sees_an_upward_import() {
    let source = "use crate::server::run; // a comment naming crate::http is ignored\n";
    assert_eq!(imported_modules(source), ["server"]);
    assert!(!allowed("transport", "server"));
    assert!(!allowed("room", "session"));
    assert!(allowed("session", "room"));
    assert!(!allowed("bots", "server"));
}
