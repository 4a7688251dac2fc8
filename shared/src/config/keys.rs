//! Which keys exist, and what a config file's problem may say about itself.
//!
//! - Known keys are the ones `config/default.toml` documents: every key it sets, plus the
//!   optional ones it shows commented out (`# token = ""` under `[telegram]`). A key in a file
//!   or a `TELBOT__…` variable that is not among them is a typo until proven otherwise, and
//!   loading fails naming it and the closest known key.
//! - A TOML syntax error is described by line and column only: the parser's own message quotes
//!   the offending line, which may hold a token (`token = 123456:SECRET` unquoted).

use std::collections::BTreeSet;

use super::DEFAULT_TOML;

/// Dotted keys of `config/default.toml`, set or shown commented out. A key ending in `.*`
/// (from a commented `[[array.of.tables]]`) accepts anything below it.
pub fn known_keys() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    if let Ok(table) = DEFAULT_TOML.parse::<toml::Table>() {
        collect(&table, "", &mut keys);
    }
    let mut section = String::new();
    for line in DEFAULT_TOML.lines() {
        let line = line.trim();
        if let Some(h) = header(line) {
            section = h.to_string();
            continue;
        }
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let rest = rest.trim();
        if let Some(h) = rest
            .strip_prefix("[[")
            .and_then(|r| r.strip_suffix("]]"))
            .filter(|h| is_key(h))
        {
            // A commented array of tables: its entries are free-form below the name.
            keys.insert(format!("{h}.*"));
            section = format!("#{h}");
            continue;
        }
        if section.starts_with('#') {
            continue;
        }
        if let Some((k, _)) = rest.split_once('=') {
            let k = k.trim();
            if is_key(k) && !k.contains('.') {
                keys.insert(join(&section, k));
            }
        }
    }
    keys
}

fn header(line: &str) -> Option<&str> {
    let inner = line.strip_prefix('[')?.strip_suffix(']')?;
    let inner = inner
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(inner);
    is_key(inner).then_some(inner)
}

fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
}

fn join(prefix: &str, k: &str) -> String {
    if prefix.is_empty() {
        k.to_string()
    } else {
        format!("{prefix}.{k}")
    }
}

fn collect(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (k, v) in table {
        let key = join(prefix, k);
        match v {
            toml::Value::Table(t) => collect(t, &key, out),
            _ => {
                out.insert(key);
            }
        }
    }
}

/// The leaf keys a parsed file sets (tables inside arrays are not descended into).
pub(super) fn file_keys(table: &toml::Table) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    collect(table, "", &mut keys);
    keys
}

/// `Ok` when `key` is known (or lies under a free-form `name.*`); otherwise the closest known
/// key, for the error message.
pub(super) fn check(key: &str, known: &BTreeSet<String>) -> Result<(), Option<String>> {
    if known.contains(key) {
        return Ok(());
    }
    // A section name on its own (e.g. an empty `[server]` table) is fine when keys live below it.
    let as_prefix = format!("{key}.");
    if known.iter().any(|k| k.starts_with(&as_prefix)) {
        return Ok(());
    }
    if known.iter().any(|k| {
        k.strip_suffix('*')
            .is_some_and(|free| key.starts_with(free) || format!("{key}.") == free)
    }) {
        return Ok(());
    }
    let closest = known
        .iter()
        .filter(|k| !k.ends_with('*'))
        .map(|k| (strsim::levenshtein(key, k), k))
        .min_by_key(|(d, _)| *d)
        .filter(|(d, _)| *d <= key.len().max(3) / 2)
        .map(|(_, k)| k.clone());
    Err(closest)
}

/// A TOML syntax error as "line L, column C: <what>", never quoting the file: the parser's
/// message shows the offending line, and that line may hold a secret.
pub(super) fn describe_syntax_error(text: &str, e: &toml::de::Error) -> String {
    let position = e.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        (line, column)
    });
    let what = e.message().lines().next().unwrap_or("invalid TOML").trim();
    // The message is generic ("expected newline", "invalid string"); if it ever quotes a piece
    // of the file, leave it out rather than risk a secret.
    let quotes_the_file = text
        .lines()
        .filter_map(|l| l.split_once('=').map(|(_, v)| v.trim()))
        .filter(|v| v.len() >= 3)
        .any(|v| {
            what.contains(v)
                || v.split_whitespace()
                    .any(|w| w.len() >= 3 && what.contains(w))
        });
    let what = if quotes_the_file {
        "invalid TOML"
    } else {
        what
    };
    match position {
        Some((line, column)) => format!(
            "TOML syntax error at line {line}, column {column}: {what} (strings must be quoted, e.g. token = \"…\")"
        ),
        None => format!("TOML syntax error: {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_and_commented_keys_are_known() {
        let k = known_keys();
        for key in [
            "server.port",
            "telegram.token",
            "webhook.secret",
            "alerts.smtp_url",
            "watchdog.schedule.liveness",
        ] {
            assert!(check(key, &k).is_ok(), "{key} should be known");
        }
        assert!(check("alerts.maintenance", &k).is_ok());
    }

    #[test]
    fn a_typo_names_the_closest_key() {
        let k = known_keys();
        assert_eq!(check("server.portt", &k), Err(Some("server.port".into())));
        assert!(check("servr.port", &k).is_err());
        assert_eq!(check("zzz.qqq", &k), Err(None));
    }

    #[test]
    fn a_syntax_error_never_quotes_the_line() {
        let text = "[telegram]\ntoken = 123456:SECRETSECRET\n";
        let Err(e) = text.parse::<toml::Table>() else {
            panic!("must not parse");
        };
        let msg = describe_syntax_error(text, &e);
        assert!(!msg.contains("SECRET"), "{msg}");
        assert!(!msg.contains("123456"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
    }
}
