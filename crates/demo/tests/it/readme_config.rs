//! README.md's configuration reference against config/default.toml: every key of the file
//! (set or shown commented out) has a row, every row is a key of the file, each row shows
//! the file's default and the key's environment names.

use std::collections::BTreeMap;
use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(rel),
    )
    .unwrap()
}

/// `section.key` → its default as TOML would print it (`None` for a key shown only as a
/// commented-out example, e.g. a secret).
fn config_keys() -> BTreeMap<String, Option<String>> {
    let text = read("config/default.toml");
    let parsed: toml::Table = text.parse().unwrap();
    let mut keys = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        let bare = line.trim_start_matches('#').trim();
        if bare.starts_with('[') && bare.ends_with(']') && !bare.contains(' ') {
            section = bare.trim_matches(['[', ']']).to_string();
            continue;
        }
        let Some((name, _)) = bare.split_once(" = ") else {
            continue;
        };
        if section.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            continue;
        }
        let key = format!("{section}.{name}");
        let value = key
            .split('.')
            .try_fold(None::<&toml::Value>, |v, part| match v {
                None => parsed.get(part).map(Some),
                Some(toml::Value::Table(t)) => t.get(part).map(Some),
                _ => None,
            });
        let default = if line.starts_with('#') {
            None
        } else {
            value.flatten().map(render)
        };
        assert!(line.starts_with('#') || default.is_some(), "{key} parses");
        keys.insert(key, default);
    }
    keys
}

fn render(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("\"{s}\""),
        toml::Value::Float(f) if f.fract() == 0.0 => format!("{f:.1}"),
        toml::Value::Array(a) => {
            format!("[{}]", a.iter().map(render).collect::<Vec<_>>().join(", "))
        }
        other => other.to_string(),
    }
}

/// `section.key` → its row's cells, from the marked part of README.md.
fn readme_rows() -> BTreeMap<String, Vec<String>> {
    let text = read("README.md");
    let start = text
        .find("<!-- config-reference:start -->")
        .expect("start marker");
    let end = text
        .find("<!-- config-reference:end -->")
        .expect("end marker");
    let mut rows = BTreeMap::new();
    for line in text[start..end].lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<String> = line
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect();
        let key = cells[0].trim_matches('`').to_string();
        assert!(
            rows.insert(key.clone(), cells).is_none(),
            "{key} has one row"
        );
    }
    rows
}

#[test]
fn every_config_key_has_a_row_and_every_row_is_a_config_key() {
    let keys = config_keys();
    let rows = readme_rows();
    assert!(keys.len() > 100, "the file was read: {}", keys.len());
    let missing: Vec<_> = keys.keys().filter(|k| !rows.contains_key(*k)).collect();
    let stale: Vec<_> = rows.keys().filter(|k| !keys.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "not in README: {missing:?}\nnot in config/default.toml: {stale:?}"
    );
}

#[test]
fn each_row_shows_the_default_and_the_environment_names() {
    let keys = config_keys();
    for (key, cells) in readme_rows() {
        assert_eq!(
            cells.len(),
            4,
            "{key}: key | default | environment | what it does"
        );
        match keys.get(&key).cloned().flatten() {
            Some(default) => assert_eq!(cells[1], format!("`{default}`"), "{key}'s default"),
            None => assert_eq!(cells[1], "unset", "{key} has no default"),
        }
        assert!(!cells[3].is_empty(), "{key} says what it does");
        if key.starts_with("alerts.maintenance.") {
            continue;
        }
        let prefixed = format!("`TELBOT__{}`", key.replace('.', "__").to_uppercase());
        assert!(cells[2].contains(&prefixed), "{key}: {prefixed}");
    }
    let rows = readme_rows();
    let well_known = telbot_shared::config::WELL_KNOWN.iter().copied();
    let alert_env = telbot_alerts::ALERT_ENV.iter().map(|(n, k)| (*n, k));
    let alert_keys: Vec<(&str, String)> =
        alert_env.map(|(n, k)| (n, format!("alerts.{k}"))).collect();
    for (name, key) in well_known
        .map(|(n, k)| (n, k.to_string()))
        .chain(alert_keys)
    {
        let row = rows
            .get(&key)
            .unwrap_or_else(|| panic!("{key} ({name}) has a row"));
        assert!(
            row[2].contains(&format!("`{name}`")),
            "{key}'s row names {name}"
        );
    }
}
