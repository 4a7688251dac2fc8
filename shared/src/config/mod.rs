//! Layered configuration: compiled-in `config/default.toml` → a file (`--config` or
//! `TELBOT_CONFIG`) → `TELBOT__SECTION__KEY` variables → the well-known names of DESIGN.md.
//!
//! Loading yields a [`config::Config`] that each daemon deserializes into its own raw structs;
//! the sections both daemons use are parsed and validated here into typed values. Every
//! problem is reported as one [`ConfigError`] naming the key (and its environment name).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// The documented defaults, embedded so a binary starts with no file present.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

pub mod export;
mod keys;
mod store;
mod telegram;
pub mod webhook;

pub use keys::known_keys;
pub use store::{Backend, StoreConfig, StoreSection};
pub use telegram::{RateLimits, TelegramConfig, TelegramSection};

/// Well-known environment names and the keys they set. They win over every other layer.
pub const WELL_KNOWN: &[(&str, &str)] = &[
    ("TELEGRAM_BOT_TOKEN", "telegram.token"),
    ("TELEGRAM_API_URL", "telegram.api_url"),
    ("RENDER_EXTERNAL_URL", "webhook.public_url"),
    ("PUBLIC_URL", "webhook.public_url"),
    ("WEBHOOK_SECRET", "webhook.secret"),
    ("PORT", "server.port"),
    ("DATABASE_URL", "store.database_url"),
    ("DATABASE_MIGRATE_URL", "store.migrate_url"),
    ("DATABASE_READ_URL", "store.read_url"),
    ("DATA_DIR", "store.data_dir"),
    ("ADMIN_TOKEN", "server.admin_token"),
    ("BOT_MODE", "server.mode"),
    ("METRICS_PUBLIC", "server.metrics_public"),
    ("BOT_URL", "watchdog.bot_url"),
    ("SMTP_URL", "alerts.smtp_url"),
    ("ALERT_EMAIL_FROM", "alerts.email_from"),
    ("ALERT_EMAIL_TO", "alerts.email_to"),
    ("RENDER_API_KEY", "watchdog.restart.render_api_key"),
    ("RENDER_SERVICE_ID", "watchdog.restart.render_service_id"),
];

/// Keys whose `TELBOT__…` variable is a comma-separated list.
pub const LIST_KEYS: &[&str] = &[
    "bot.admin_chat_ids",
    "webhook.allowed_updates",
    "webhook.backup_urls",
];

/// A configuration problem, always naming the key it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value is missing or wrong.
    #[error("config: {key}: {problem}")]
    Invalid {
        /// The key, with its environment name where it has one, e.g. `TELEGRAM_BOT_TOKEN (telegram.token)`.
        key: String,
        /// What is wrong, for a person.
        problem: String,
    },
    /// The config file could not be read or parsed.
    #[error("config file {path}: {problem}")]
    File {
        /// The file named by `--config` or `TELBOT_CONFIG`.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// A layer could not be merged or deserialized (the message names the key).
    #[error("config: {0}")]
    Parse(String),
    /// Several problems, each on its own line (see [`ConfigError::all`]).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ConfigError>),
}

impl ConfigError {
    /// `errs` as one error (the only one, or [`ConfigError::Several`]); `Ok` when empty.
    pub fn all(mut errs: Vec<ConfigError>) -> Result<(), ConfigError> {
        match errs.len() {
            0 => Ok(()),
            1 => Err(errs.remove(0)),
            _ => Err(ConfigError::Several(errs)),
        }
    }

    /// A problem with `key` (a dotted config key); the environment name is added when there is one.
    pub fn invalid(key: &str, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: display_key(key),
            problem: problem.into(),
        }
    }
}

/// `telegram.token` → `TELEGRAM_BOT_TOKEN (telegram.token)`; keys without a well-known name
/// get their `TELBOT__…` spelling.
pub fn display_key(key: &str) -> String {
    let env = WELL_KNOWN
        .iter()
        .rev()
        .find(|(_, k)| *k == key)
        .map(|(e, _)| (*e).to_string())
        .unwrap_or_else(|| format!("TELBOT__{}", key.replace('.', "__").to_uppercase()));
    format!("{env} ({key})")
}

/// The environment a loader reads, injectable so tests need not touch the process environment.
pub type EnvMap = HashMap<String, String>;

/// Reads the process environment into an [`EnvMap`].
pub fn process_env() -> EnvMap {
    std::env::vars().collect()
}

/// Builds the layered config. `file` is `--config`; when `None`, `TELBOT_CONFIG` is used.
pub fn load(file: Option<&Path>, env: &EnvMap) -> Result<config::Config, ConfigError> {
    let known_keys = keys::known_keys();
    let mut builder = config::Config::builder().add_source(config::File::from_str(
        DEFAULT_TOML,
        config::FileFormat::Toml,
    ));
    let file = file.map(Path::to_path_buf).or_else(|| {
        env.get("TELBOT_CONFIG")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    });
    if let Some(path) = file {
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
            path: path.clone(),
            problem: e.to_string(),
        })?;
        // Parse once on its own so a syntax error names the file (and only its line and column:
        // the parser's own message quotes the line, which may hold a token).
        let table = text.parse::<toml::Table>().map_err(|e| ConfigError::File {
            path: path.clone(),
            problem: keys::describe_syntax_error(&text, &e),
        })?;
        for key in keys::file_keys(&table) {
            known(&key, &known_keys, &format!("{}", path.display()))?;
        }
        builder = builder.add_source(config::File::from_str(&text, config::FileFormat::Toml));
    }
    // List keys are split here: config only splits lists together with `try_parsing`, which
    // would also turn a secret like "00123" into the number 123.
    let env_key = |k: &str| {
        k.trim_start_matches("TELBOT__")
            .replace("__", ".")
            .to_lowercase()
    };
    for k in env.keys().filter(|k| k.starts_with("TELBOT__")) {
        known(&env_key(k), &known_keys, k)?;
    }
    let prefixed: config::Map<String, String> = env
        .iter()
        .filter(|(k, _)| k.starts_with("TELBOT__") && !LIST_KEYS.contains(&env_key(k).as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    builder = builder.add_source(
        config::Environment::with_prefix("TELBOT")
            .separator("__")
            .source(Some(prefixed)),
    );
    for (k, v) in env.iter().filter(|(k, _)| k.starts_with("TELBOT__")) {
        let key = env_key(k);
        if LIST_KEYS.contains(&key.as_str()) {
            let items: Vec<String> = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            builder = builder
                .set_override(key, items)
                .map_err(|e| ConfigError::Parse(e.to_string()))?;
        }
    }
    for (name, key) in WELL_KNOWN {
        if let Some(v) = env.get(*name).filter(|v| !v.is_empty()) {
            builder = builder
                .set_override(*key, v.as_str())
                .map_err(|e| ConfigError::Parse(e.to_string()))?;
        }
    }
    builder
        .build()
        .map_err(|e| ConfigError::Parse(e.to_string()))
}

/// A key that `config/default.toml` does not know is an error naming where it came from and
/// the closest known key: a typo in a production setting must not be ignored silently.
fn known(
    key: &str,
    known: &std::collections::BTreeSet<String>,
    source: &str,
) -> Result<(), ConfigError> {
    keys::check(key, known).map_err(|closest| {
        let hint = closest
            .map(|c| format!("; did you mean {c}?"))
            .unwrap_or_default();
        ConfigError::Parse(format!("unknown key {key} (in {source}){hint}"))
    })
}

/// Deserializes one section of a loaded config. It is read from the root, so a type error
/// names the whole key (`telegram.max_attempts`), not just the section.
pub fn section<T: for<'de> Deserialize<'de>>(
    cfg: &config::Config,
    name: &str,
) -> Result<T, ConfigError> {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Pick<'a, T>(&'a str, std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Pick<'_, T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a table with a [{}] section", self.0)
        }
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Option<T>, M::Error> {
            let mut out = None;
            while let Some(k) = map.next_key::<String>()? {
                if k == self.0 {
                    out = Some(map.next_value::<T>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(out)
        }
    }
    impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Pick<'_, T> {
        type Value = Option<T>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
            d.deserialize_map(self)
        }
    }
    let picked = Pick::<T>(name, std::marker::PhantomData)
        .deserialize(cfg.clone())
        .map_err(|e| {
            ConfigError::Parse(
                e.to_string()
                    .replace(" in the environment", " (from the environment)"),
            )
        })?;
    picked.ok_or_else(|| ConfigError::invalid(name, "section is missing"))
}

/// `<digits>:<non-empty>` with no slash or whitespace (Telegram answers 401 to anything else).
pub fn looks_like_token(t: &str) -> bool {
    match t.split_once(':') {
        Some((id, secret)) => {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && !secret.is_empty()
                && !secret.contains(['/', ' ', '\n', '\t'])
        }
        None => false,
    }
}

/// Parses an http(s) URL, naming `key` on failure; a trailing slash is removed. The error never
/// shows a user name or password the value may hold.
pub fn parse_http_url(raw: &str, key: &str) -> Result<Url, ConfigError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let url = Url::parse(trimmed).map_err(|e| {
        ConfigError::invalid(
            key,
            format!("is not a URL ({e}): {:?}", redact_userinfo(trimmed)),
        )
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(ConfigError::invalid(
            key,
            format!("must be http:// or https://, got {}://", url.scheme()),
        ));
    }
    if url.host_str().is_none() {
        return Err(ConfigError::invalid(key, "has no host"));
    }
    Ok(url)
}

/// The bot's public base URL (`PUBLIC_URL`): http(s), a host, and nothing Telegram or the route
/// would get wrong — no user name or password (it would be printed and sent to Telegram), no
/// query or fragment (`…/?a=b` would become `…/?a=b/webhook`), no path (Telegram would post to
/// `<path>/webhook` while bot-server serves `webhook.path`; set that key instead).
pub fn parse_public_url(raw: &str, key: &str) -> Result<Url, ConfigError> {
    let url = parse_http_url(raw, key)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::invalid(
            key,
            "must not contain a user name or password",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::invalid(
            key,
            "must not have a query (?…) or fragment (#…): it is the base the webhook path is appended to",
        ));
    }
    let path = url.path().trim_end_matches('/');
    if !path.is_empty() {
        return Err(ConfigError::invalid(
            key,
            format!(
                "must be the base URL without a path (got path {path:?}); to receive the webhook at \
                 {path}/webhook set TELBOT__WEBHOOK__PATH={path}/webhook instead"
            ),
        ));
    }
    Ok(url)
}

/// `scheme://user:pw@host/…` → `scheme://***@host/…`, for messages about a URL.
pub fn redact_userinfo(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => raw.to_string(),
    }
}

/// Optional secret from config: empty strings count as unset.
pub fn non_empty_secret(s: Option<SecretString>) -> Option<SecretString> {
    s.filter(|v| !v.expose_secret().trim().is_empty())
}

#[cfg(test)]
mod tests;
