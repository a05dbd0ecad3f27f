//! Tidy checks on the source, as rust-analyzer keeps them: each outside library is imported
//! by the one module ARCHITECTURE.md names for it, and every file opens with the `//!` line
//! saying what it owns. The table below is the one place that says which module owns which
//! library; ARCHITECTURE.md's code map describes the same rooms in words.

use std::fs;
use std::path::{Path, PathBuf};

/// (library, as Rust code names it; the module that owns it, as a path under `src/`; modules
/// allowed for now, with the issue that ends each).
const OWNERS: &[(&str, &str, &[&str])] = &[
    ("rusqlite", "store", &[]),
    ("tonic", "server/grpc", &[]),
    ("tonic_prost", "server/grpc", &[]),
    ("ureq", "remote", &[]),
    ("notify", "watch", &[]),
    ("yaml_serde", "yaml", &[]),
    ("saphyr_parser", "yaml", &[]),
    ("rustls", "server/tls", &[]),
    ("rustls_pki_types", "server/tls", &[]),
    ("tokio_rustls", "server/tls", &[]),
    ("imagesize", "export/size", &[]),
    ("tar", "export/output", &[]),
];

/// Every `.rs` file under `dir`, as paths relative to `src/` (`server/tls.rs`).
fn sources(src: &Path, dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(src, &path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path.strip_prefix(src).unwrap().to_owned());
        }
    }
}

fn all_sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    sources(&src, &src, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(src.join(&p)).unwrap();
            (p.to_str().unwrap().to_owned(), text)
        })
        .collect()
}

/// Whether a file at `path` (under `src/`) lies in `module`: `store` holds `store.rs` and
/// everything under `store/`.
fn within(path: &str, module: &str) -> bool {
    let path = path.strip_suffix(".rs").unwrap_or(path);
    path == module || path.starts_with(&format!("{module}/"))
}

/// Whether Rust code (comments left out) names `library` as the root of a path: `rusqlite::`
/// or `use rusqlite`, not `my_rusqlite::` nor `crate::rusqlite`.
fn names(text: &str, library: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text.lines()
        .map(|line| line.find("//").map_or(line, |at| &line[..at]))
        .any(|code| {
            code.match_indices(library).any(|(at, _)| {
                let before = code[..at].chars().next_back();
                let after = &code[at + library.len()..];
                let rooted = before.is_none_or(|c| !ident(c) && c != ':');
                let used = after.starts_with("::")
                    || (code[..at].trim_end().ends_with("use")
                        && after.starts_with([';', ' ', ':']));
                rooted && used
            })
        })
}

#[test]
fn outside_libraries_stay_in_their_modules() {
    let mut strays = Vec::new();
    for (path, text) in all_sources() {
        for (library, owner, allowed) in OWNERS {
            let mine = within(&path, owner) || allowed.iter().any(|m| within(&path, m));
            if !mine && names(&text, library) {
                strays.push(format!(
                    "src/{path} uses `{library}`, which only `{owner}` may"
                ));
            }
        }
    }
    assert!(strays.is_empty(), "{}", strays.join("\n"));
}

#[test]
fn every_allowance_is_still_needed() {
    let sources = all_sources();
    for (library, _, allowed) in OWNERS {
        for module in *allowed {
            assert!(
                sources
                    .iter()
                    .any(|(path, text)| within(path, module) && names(text, library)),
                "src/{module} no longer uses `{library}`: remove its allowance"
            );
        }
    }
}

#[test]
fn every_file_says_what_it_owns() {
    let bare: Vec<String> = all_sources()
        .into_iter()
        .filter(|(_, text)| !text.starts_with("//!"))
        .map(|(path, _)| format!("src/{path}"))
        .collect();
    assert!(
        bare.is_empty(),
        "these files do not open with a `//!` line: {bare:?}"
    );
}

/// The checks can fail: a line each that they must catch, and ones they must let through.
#[test]
fn the_checks_see_what_they_should() {
    for (text, library, expected) in [
        ("use rusqlite::Connection;", "rusqlite", true),
        ("use rusqlite;", "rusqlite", true),
        (
            "    let c = rusqlite::Connection::open(p)?;",
            "rusqlite",
            true,
        ),
        ("use {rusqlite::Connection, x};", "rusqlite", true),
        (
            "// rusqlite::Connection is only in store",
            "rusqlite",
            false,
        ),
        ("use crate::store::rusqlite_like;", "rusqlite", false),
        ("use my_rusqlite::X;", "rusqlite", false),
        ("use tokio_rustls::TlsAcceptor;", "rustls", false),
        ("use tokio_rustls::TlsAcceptor;", "tokio_rustls", true),
    ] {
        assert_eq!(names(text, library), expected, "{text}");
    }
    for (path, module, expected) in [
        ("store.rs", "store", true),
        ("store/work.rs", "store", true),
        ("storefront.rs", "store", false),
        ("server/grpc/mod.rs", "server/grpc", true),
        ("server/mod.rs", "server/grpc", false),
    ] {
        assert_eq!(within(path, module), expected, "{path} in {module}");
    }
}
