//! ARCHITECTURE.md stays true: every file or directory it names in backticks exists (under the
//! checkout or under one of the crates' `src/`), and every library's `lib.rs` module map names
//! each module the crate declares.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Where a relative path in ARCHITECTURE.md may be relative to: the checkout, a crate, or a
/// crate's `src/` (the text names `inbox/claim.rs` under bot-server's paragraph).
fn bases(root: &Path) -> Vec<PathBuf> {
    let mut crates = vec![root.to_path_buf()];
    for group in ["", "crates", "tests"] {
        let Ok(dir) = std::fs::read_dir(root.join(group)) else {
            continue;
        };
        for e in dir.flatten() {
            if e.path().join("Cargo.toml").exists() {
                crates.push(e.path());
            }
        }
    }
    let mut out = Vec::new();
    for c in crates {
        out.push(c.join("src"));
        out.push(c);
    }
    out
}

/// The backticked tokens of `text` that look like paths: no spaces, ending in `.rs` or `/`.
fn named_paths(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| !t.contains(' ') && !t.starts_with('/') && !t.starts_with("../"))
        .filter(|t| t.ends_with(".rs") || (t.ends_with('/') && t.len() > 1))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_path_architecture_md_names_exists() {
    let root = root();
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let bases = bases(&root);
    let paths = named_paths(&text);
    assert!(
        paths.len() > 40,
        "the check found only {} paths",
        paths.len()
    );
    let missing: Vec<_> = paths
        .iter()
        .filter(|p| !bases.iter().any(|b| b.join(p.as_str()).exists()))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names {missing:?}, which do not exist"
    );
}

/// The modules `lib.rs` declares (`mod x;`, `pub mod x;`, `pub(crate) mod x;`).
fn declared_modules(lib: &str) -> Vec<String> {
    lib.lines()
        .map(str::trim)
        .filter_map(|l| {
            let l = l
                .strip_prefix("pub(crate) ")
                .or_else(|| l.strip_prefix("pub "))
                .unwrap_or(l);
            l.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn every_lib_rs_module_map_lists_every_module() {
    let root = root();
    let mut gaps = Vec::new();
    let mut checked = 0;
    for base in bases(&root) {
        let lib = base.join("lib.rs");
        let Ok(text) = std::fs::read_to_string(&lib) else {
            continue;
        };
        let doc: String = text
            .lines()
            .filter(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        checked += 1;
        for m in declared_modules(&text) {
            let named = [format!("[`{m}`]"), format!("`{m}`"), format!("`{m}/`")];
            if !named.iter().any(|n| doc.contains(n.as_str())) {
                gaps.push(format!(
                    "{}: {m}",
                    lib.strip_prefix(&root).unwrap().display()
                ));
            }
        }
    }
    assert!(checked >= 5, "only {checked} lib.rs files found");
    assert!(
        gaps.is_empty(),
        "modules missing from their crate's module map: {gaps:#?}"
    );
}

#[test]
fn the_path_finder_sees_paths_and_nothing_else() {
    let found = named_paths("`inbox/claim.rs` and `bench/` but not `/health`, `a b.rs`, `x`");
    assert_eq!(found, ["inbox/claim.rs", "bench/"]);
    assert_eq!(
        declared_modules("pub mod a;\nmod b;\npub(crate) mod c;\n// mod d;\nmod e {"),
        ["a", "b", "c"]
    );
}
