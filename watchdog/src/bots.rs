//! A fleet: several bots watched by one watchdog process (`[[bots]]` in the config file).
//!
//! Each entry becomes a whole configuration of its own: the shared layers (defaults → file →
//! environment) with the entry laid over them — its name (`bot.name`, `alerts.bot_name`), token,
//! public URL, bot URL, webhook secret, store, and any `[bots.watchdog]`, `[bots.alerts]`,
//! `[bots.webhook]` or `[bots.telegram]` keys (schedules, thresholds, recipients, …). Every
//! bot then gets its own [`crate::Watchdog`] and alert pipeline, validated exactly like a
//! single bot's. Incidents, cooldowns, caps, silences, acknowledgements and the recovery and
//! leader leases live in the bot's own store (the one its bot-server uses), so nothing crosses
//! between bots; two bots on one store are refused. Secrets come from the entry, from an
//! environment variable (`*_env`) or from a file (`*_file`). Without `[[bots]]` the single-bot
//! configuration works as before.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use telbot_shared::config::{ConfigError, EnvMap, known_keys};

/// One `[[bots]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BotEntry {
    /// The bot's name: in every subject, metric label and CLI line; `--bot NAME` selects it.
    pub name: String,
    /// The bot token (prefer `token_env` or `token_file`).
    pub token: Option<SecretString>,
    /// The environment variable holding the token.
    pub token_env: Option<String>,
    /// A file holding the token (e.g. a mounted secret).
    pub token_file: Option<PathBuf>,
    /// The bot's public base URL (the webhook is this + `webhook.path`).
    pub public_url: Option<String>,
    /// Where the watchdog reaches the bot (`/health`, replays); default `public_url`.
    pub bot_url: Option<String>,
    /// The bot's webhook secret, or from `webhook_secret_env` / `webhook_secret_file`.
    pub webhook_secret: Option<SecretString>,
    /// The environment variable holding the webhook secret.
    pub webhook_secret_env: Option<String>,
    /// A file holding the webhook secret.
    pub webhook_secret_file: Option<PathBuf>,
    /// The bot's store (the one its bot-server uses), or from `database_url_env` / `_file`.
    pub database_url: Option<SecretString>,
    /// The environment variable holding the store URL.
    pub database_url_env: Option<String>,
    /// A file holding the store URL.
    pub database_url_file: Option<PathBuf>,
    /// Overrides of `[watchdog]` for this bot.
    pub watchdog: Option<serde_json::Value>,
    /// Overrides of `[alerts]` for this bot.
    pub alerts: Option<serde_json::Value>,
    /// Overrides of `[webhook]` for this bot.
    pub webhook: Option<serde_json::Value>,
    /// Overrides of `[telegram]` for this bot (e.g. `api_url`).
    pub telegram: Option<serde_json::Value>,
}

/// The `[[bots]]` entries of a loaded config (empty: a single bot).
pub(crate) fn entries(cfg: &config::Config) -> Result<Vec<BotEntry>, ConfigError> {
    match cfg.get::<Vec<BotEntry>>("bots") {
        Ok(v) => Ok(v),
        Err(config::ConfigError::NotFound(_)) => Ok(Vec::new()),
        Err(e) => Err(ConfigError::invalid("bots", e.to_string())),
    }
}

fn key(name: &str, k: &str) -> String {
    format!("bots[{name}].{k}")
}

/// A secret from the entry itself, its `_env` variable or its `_file`; `None` when none is set.
fn secret(
    name: &str,
    field: &str,
    value: Option<&SecretString>,
    env_name: Option<&String>,
    file: Option<&PathBuf>,
    env: &EnvMap,
) -> Result<Option<String>, ConfigError> {
    if let Some(v) = value.map(|v| v.expose_secret().trim().to_string())
        && !v.is_empty()
    {
        return Ok(Some(v));
    }
    if let Some(var) = env_name.filter(|v| !v.trim().is_empty()) {
        return match env
            .get(var.trim())
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        {
            Some(v) => Ok(Some(v.to_string())),
            None => Err(ConfigError::invalid(
                &key(name, &format!("{field}_env")),
                format!("the environment variable {var} is not set"),
            )),
        };
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::invalid(
                &key(name, &format!("{field}_file")),
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let v = text.lines().next().unwrap_or_default().trim().to_string();
        if v.is_empty() {
            return Err(ConfigError::invalid(
                &key(name, &format!("{field}_file")),
                format!("{} is empty", path.display()),
            ));
        }
        return Ok(Some(v));
    }
    Ok(None)
}

/// `[bots.<section>]` values as dotted overrides, each checked against the known keys.
fn overrides(
    name: &str,
    section: &str,
    v: Option<&serde_json::Value>,
    out: &mut Vec<(String, config::Value)>,
) -> Result<(), ConfigError> {
    fn walk(
        prefix: &str,
        v: &serde_json::Value,
        out: &mut Vec<(String, config::Value)>,
    ) -> Result<(), String> {
        let leaf: config::Value = match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    walk(&format!("{prefix}.{k}"), v, out)?;
                }
                return Ok(());
            }
            serde_json::Value::String(s) => s.clone().into(),
            serde_json::Value::Bool(b) => (*b).into(),
            serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => i.into(),
                (None, Some(f)) => f.into(),
                _ => return Err(format!("{prefix}: not a number this build reads")),
            },
            serde_json::Value::Array(a) => a
                .iter()
                .map(|x| match x {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<String>>()
                .into(),
            serde_json::Value::Null => return Ok(()),
        };
        out.push((prefix.to_string(), leaf));
        Ok(())
    }
    let Some(v) = v else {
        return Ok(());
    };
    let mut found = Vec::new();
    walk(section, v, &mut found).map_err(|p| ConfigError::invalid(&key(name, section), p))?;
    let known = known_keys();
    for (k, _) in &found {
        if !known.contains(k) {
            return Err(ConfigError::invalid(
                &key(name, k),
                "is not a configuration key (see config/default.toml)",
            ));
        }
    }
    out.extend(found);
    Ok(())
}

/// The whole configuration of one bot of the fleet: `base` with `e` laid over it. Every
/// problem of the entry is reported at once (after its name, which the others are named by).
pub(crate) fn bot_config(
    base: &config::Config,
    e: &BotEntry,
    env: &EnvMap,
) -> Result<config::Config, ConfigError> {
    let name = e.name.trim();
    let ok_name = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok_name {
        return Err(ConfigError::invalid(
            "bots.name",
            format!("{name:?} must be 1-64 of A-Z a-z 0-9 - _"),
        ));
    }
    let mut errs = Vec::new();
    let mut set = entry_values(name, e, env, &mut errs);
    for (section, v) in [
        ("watchdog", &e.watchdog),
        ("alerts", &e.alerts),
        ("webhook", &e.webhook),
        ("telegram", &e.telegram),
    ] {
        let r = overrides(name, section, v.as_ref(), &mut set);
        keep(&mut errs, r);
    }
    ConfigError::all(errs)?;
    let mut b = config::Config::builder().add_source(base.clone());
    for (k, v) in set {
        b = b
            .set_override(k.as_str(), v)
            .map_err(|e| ConfigError::invalid(&key(name, &k), e.to_string()))?;
    }
    b.build()
        .map_err(|err| ConfigError::invalid(&key(name, ""), err.to_string()))
}

/// The settings an entry itself gives (name, token, URLs, webhook secret, store); a missing
/// or unreadable one goes to `errs`.
fn entry_values(
    name: &str,
    e: &BotEntry,
    env: &EnvMap,
    errs: &mut Vec<ConfigError>,
) -> Vec<(String, config::Value)> {
    let mut set: Vec<(String, config::Value)> = vec![
        ("bot.name".into(), name.into()),
        ("alerts.bot_name".into(), name.into()),
    ];
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            set.push((k.into(), v.into()));
        }
    };
    let token = secret(
        name,
        "token",
        e.token.as_ref(),
        e.token_env.as_ref(),
        e.token_file.as_ref(),
        env,
    );
    put(
        "telegram.token",
        required(
            token,
            &key(name, "token"),
            "is required (token, token_env or token_file)",
            errs,
        ),
    );
    let public = e
        .public_url
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if public.is_none() {
        errs.push(ConfigError::invalid(
            &key(name, "public_url"),
            "is required",
        ));
    }
    put("webhook.public_url", public.map(String::from));
    let bot_url = e
        .bot_url
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .or(public);
    put("watchdog.bot_url", bot_url.map(String::from));
    let hook_secret = secret(
        name,
        "webhook_secret",
        e.webhook_secret.as_ref(),
        e.webhook_secret_env.as_ref(),
        e.webhook_secret_file.as_ref(),
        env,
    );
    put("webhook.secret", keep(errs, hook_secret).flatten());
    let db = secret(
        name,
        "database_url",
        e.database_url.as_ref(),
        e.database_url_env.as_ref(),
        e.database_url_file.as_ref(),
        env,
    );
    put(
        "store.database_url",
        required(
            db,
            &key(name, "database_url"),
            "is required: each bot's own store, the one its bot-server uses (database_url, database_url_env or database_url_file)",
            errs,
        ),
    );
    set
}

/// `r`'s value, or `None` with its error kept in `errs`.
fn keep<T>(errs: &mut Vec<ConfigError>, r: Result<T, ConfigError>) -> Option<T> {
    r.map_err(|e| errs.push(e)).ok()
}

/// A secret that must be set: its value, or `None` with `problem` (or its read error) in
/// `errs`.
fn required(
    r: Result<Option<String>, ConfigError>,
    key: &str,
    problem: &str,
    errs: &mut Vec<ConfigError>,
) -> Option<String> {
    let v = keep(errs, r)?;
    if v.is_none() {
        errs.push(ConfigError::invalid(key, problem));
    }
    v
}

/// Names must be unique and stores distinct (one store per bot keeps their state apart).
pub(crate) fn check_distinct(names_and_stores: &[(String, String)]) -> Result<(), ConfigError> {
    for (i, (n, s)) in names_and_stores.iter().enumerate() {
        for (m, t) in &names_and_stores[..i] {
            if n == m {
                return Err(ConfigError::invalid(
                    &key(n, "name"),
                    "is used by two [[bots]] entries",
                ));
            }
            if s == t {
                return Err(ConfigError::invalid(
                    &key(n, "database_url"),
                    format!("is also {m}'s store: each bot needs its own (value not shown)"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(json: serde_json::Value) -> BotEntry {
        match serde_json::from_value(json) {
            Ok(e) => e,
            Err(e) => panic!("a test entry that does not parse: {e}"),
        }
    }

    #[test]
    fn every_missing_key_of_an_entry_is_named_at_once() {
        let base = config::Config::default();
        let e = entry(serde_json::json!({ "name": "shop", "token_env": "SHOP_TOKEN" }));
        let msg = match bot_config(&base, &e, &EnvMap::new()) {
            Ok(_) => panic!("an entry without a token, URL or store was taken"),
            Err(e) => e.to_string(),
        };
        for key in [
            "bots[shop].token_env",
            "bots[shop].public_url",
            "bots[shop].database_url",
        ] {
            assert!(msg.contains(key), "{key} missing from: {msg}");
        }
        let mut env = EnvMap::new();
        env.insert("SHOP_TOKEN".into(), "123:abc".into());
        let e = entry(serde_json::json!({
            "name": "shop", "token_env": "SHOP_TOKEN",
            "public_url": "https://shop.example.com", "database_url": "sqlite:///tmp/shop.db",
        }));
        let cfg = bot_config(&base, &e, &env).map_err(|e| e.to_string());
        assert_eq!(
            cfg.and_then(|c| c.get_string("watchdog.bot_url").map_err(|e| e.to_string())),
            Ok("https://shop.example.com".to_string()),
            "BOT_URL defaults to the public URL"
        );
    }
}
