//! ARCHITECTURE.md stays true: every file or directory it names in backticks exists (under the
//! checkout or under one of the crates' `src/`), every library's `lib.rs` module map names
//! each module the crate declares, and its levels picture matches the manifests (each crate's
//! normal dependencies on lower lines, every workspace member in the picture).

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

/// The levels picture: each crate's directory (relative to the checkout) and its line number.
fn pictured_levels(text: &str) -> Vec<(String, u32)> {
    let start = text
        .find("The levels, as `cargo tree -e normal` has them")
        .expect("ARCHITECTURE.md has the levels picture");
    let block = &text[start..];
    let block = &block[block.find("```text").expect("the picture is a text block") + 7..];
    let block = &block[..block.find("```").expect("the text block ends")];
    let mut out = Vec::new();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let line = line.split('(').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let level: u32 = words
            .next()
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("a picture line starts with its level: {line:?}"));
        out.extend(words.map(|w| (w.to_string(), level)));
    }
    out
}

/// Every workspace member (its directory relative to the checkout) with the directories of its
/// normal (not dev, not build) path dependencies, from `cargo metadata`.
fn members_and_normal_deps(root: &Path) -> Vec<(String, Vec<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rel = |p: &str| {
        Path::new(p)
            .strip_prefix(root)
            .map(|r| r.to_string_lossy().into_owned())
            .unwrap_or_else(|_| p.to_string())
    };
    let mut members = Vec::new();
    for p in meta["packages"].as_array().unwrap() {
        let manifest = p["manifest_path"].as_str().unwrap();
        let dir = rel(Path::new(manifest).parent().unwrap().to_str().unwrap());
        if dir.starts_with("fuzz") {
            continue;
        }
        let deps = p["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["path"].as_str().map(rel))
            .collect();
        members.push((dir, deps));
    }
    members
}

#[test]
fn the_levels_picture_matches_the_manifests() {
    let root = root();
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let levels = pictured_levels(&text);
    let level_of = |dir: &str| levels.iter().find(|(d, _)| d == dir).map(|(_, l)| *l);
    assert_eq!(
        level_of("shared"),
        Some(1),
        "shared is the bottom daemon level"
    );
    let members = members_and_normal_deps(&root);
    assert!(members.len() >= 10, "{members:?}");
    let mut wrong = Vec::new();
    for (dir, deps) in &members {
        let Some(own) = level_of(dir) else {
            wrong.push(format!("{dir} is not in the picture"));
            continue;
        };
        for d in deps {
            match level_of(d) {
                Some(l) if l < own => {}
                Some(l) => wrong.push(format!("{dir} (level {own}) uses {d} (level {l})")),
                None => wrong.push(format!("{dir} uses {d}, which is not in the picture")),
            }
        }
    }
    for (d, _) in &levels {
        if !members.iter().any(|(m, _)| m == d) {
            wrong.push(format!(
                "the picture names {d}, which is no workspace member"
            ));
        }
    }
    assert!(wrong.is_empty(), "ARCHITECTURE.md's levels: {wrong:#?}");
}
