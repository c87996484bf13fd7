//! House rules that are cheap to check by reading the source (ARCHITECTURE.md, "Invariants").
//!
//! - **rustfmt formats every line of `crates/`.** rustfmt gives up silently on an expression
//!   that holds a line it cannot fit (a long SQL string, say) and leaves it as written, so
//!   `cargo fmt --check` passes without looking at it. This test strips the indentation of each
//!   file and asks rustfmt to put it back: where rustfmt gave up, it cannot.
//! - **Domain crates never read environment variables.** Only the server's configuration
//!   loader does; everything else gets checked settings.
//! - **Queries live in stores.** SQL is written only in a domain's store modules (a `store/`
//!   folder or a `store.rs`), as named functions that services and handlers call; the one
//!   exception is `platform/src/db.rs`, which defines the database macros themselves.
//!   Functions that only push a fragment onto a caller's builder may live beside their rule.
//! - **Crates depend only downwards**: platform at the bottom, catalog and media beside each
//!   other, live-session above media, evaluation above those three, server over all.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod lexer;
mod modules;

/// The checkout to read: this one, or `PARENTSCHOOL_HOUSE_ROOT` (to try the rules on another).
fn workspace() -> PathBuf {
    if let Some(root) = std::env::var_os("PARENTSCHOOL_HOUSE_ROOT") {
        return PathBuf::from(root);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn rustfmt(input: &str) -> String {
    let root = workspace();
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout", "-q", "--config-path"])
        .arg(root.join("rustfmt.toml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("rustfmt could not start (it comes with the Rust toolchain): {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin.write_all(input.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    }
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn rustfmt_formats_every_line_of_the_crates() {
    let mut trouble = Vec::new();
    for file in rust_files(&workspace().join("crates")) {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let flat = lexer::strip_indentation(&text);
        let back = rustfmt(&flat);
        if back != text {
            let first = text
                .lines()
                .zip(back.lines())
                .position(|(a, b)| a != b)
                .map_or(text.lines().count().min(back.lines().count()), |i| i);
            let line = text.lines().nth(first).unwrap_or("");
            trouble.push(format!("{}:{}: {}", file.display(), first + 1, line.trim()));
        }
    }
    assert!(
        trouble.is_empty(),
        "rustfmt cannot format these places (a line too wide for it, usually a string: split it with a \\-newline \
         continuation):\n{}",
        trouble.join("\n")
    );
}

#[test]
fn domain_crates_never_read_environment_variables() {
    let mut found = Vec::new();
    for krate in CRATES.iter().filter(|k| **k != "server") {
        for file in rust_files(&workspace().join("crates").join(krate).join("src")) {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let code = lexer::code_only(&text);
            for (i, line) in code.lines().enumerate() {
                if ["env::var", "var_os", "Env::", "figment", "dotenv"]
                    .iter()
                    .any(|p| line.contains(p))
                {
                    found.push(format!("{}:{}", file.display(), i + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "environment read outside the server's configuration loader: {found:?}"
    );
}

/// The most lines a source file of `crates/` may have: past it, split the module by concern.
const MAX_LINES: usize = 600;

#[test]
fn no_source_file_is_over_600_lines() {
    let long: Vec<String> = rust_files(&workspace().join("crates"))
        .into_iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(&f).unwrap_or_default().lines().count();
            (n > MAX_LINES).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these by concern (a folder module): {long:?}");
}

#[test]
fn no_crate_imports_its_modules_in_a_circle() {
    let mut found = Vec::new();
    for krate in CRATES {
        let graph = modules::graph(&workspace().join("crates").join(krate).join("src"));
        for cycle in modules::cycles(&graph) {
            found.push(format!("{krate}: {}", cycle.join(" ↔ ")));
        }
    }
    assert!(
        found.is_empty(),
        "modules that import each other (move what they share to a lower module): {found:?}"
    );
}

/// The workspace crates a crate's manifest names in `[dependencies]` (dev-dependencies aside).
fn workspace_dependencies(krate: &str) -> Vec<String> {
    let manifest = workspace().join("crates").join(krate).join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or("");
        if in_deps && CRATES.contains(&name) {
            out.push(name.to_owned());
        }
    }
    out.sort();
    out
}

/// Every crate of the workspace under `crates/`, the lowest first.
const CRATES: [&str; 6] = ["platform", "catalog", "media", "live-session", "evaluation", "server"];

#[test]
fn crates_depend_only_downwards() {
    // platform at the bottom; catalog and media beside each other (a lesson names an asset by
    // id); live-session may use media (recording into it); evaluation reads all three (who
    // studied what); only server composes them all.
    let allowed: [(&str, &[&str]); 6] = [
        ("platform", &[]),
        ("catalog", &["platform"]),
        ("media", &["platform"]),
        ("live-session", &["media", "platform"]),
        ("evaluation", &["catalog", "live-session", "media", "platform"]),
        (
            "server",
            &["catalog", "evaluation", "live-session", "media", "platform"],
        ),
    ];
    let mut wrong = Vec::new();
    for (krate, may) in allowed {
        for dep in workspace_dependencies(krate) {
            if !may.contains(&dep.as_str()) {
                wrong.push(format!("{krate} → {dep}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies against the layering (ARCHITECTURE.md, invariant 2): {wrong:?}"
    );
}

/// Where SQL may be written: a store module, or the database layer itself.
fn is_store(file: &Path) -> bool {
    let p = file.to_string_lossy().replace('\\', "/");
    p.contains("/store/") || p.ends_with("/store.rs") || p.ends_with("platform/src/db.rs")
}

#[test]
fn queries_live_only_in_stores() {
    let mut found = Vec::new();
    for krate in CRATES {
        for file in rust_files(&workspace().join("crates").join(krate).join("src")) {
            if is_store(&file) {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            let code = lexer::code_only(&text);
            // Unit tests may build fragments to check them; functions that push SQL fragments
            // onto a caller's builder (a scope's visibility test) are not queries.
            for (i, line) in code.lines().take_while(|l| !l.contains("#[cfg(test)]")).enumerate() {
                if [
                    "with_db!",
                    "db_execute!",
                    "sqlx::query",
                    "QueryBuilder::new",
                    "QueryBuilder::<",
                ]
                .iter()
                .any(|p| line.contains(p))
                {
                    found.push(format!("{}:{}", file.display(), i + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "SQL outside a store (move it into a named function of the domain's store): {found:?}"
    );
}
