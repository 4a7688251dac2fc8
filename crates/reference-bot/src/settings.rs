//! The reference bot's own settings, read from the same layered sources as bot-server's
//! (`config/default.toml` → `--config`/`TELBOT_CONFIG` → `TELBOT__SECTION__KEY`): `[ai]` and
//! `bot.admin_chat_ids`. The core knows neither; it only checks its own keys.

use std::path::Path;
use std::time::Duration;

use bot_server::BotConfig;
use secrecy::SecretString;
use serde::Deserialize;
use telbot_shared::config::{self as shared, ConfigError, EnvMap};

/// `[ai]`: the OpenAI-compatible endpoint behind /ask.
#[derive(Debug, Clone, Deserialize)]
pub struct AiConfig {
    /// Empty: /ask answers the fallback text.
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// API key (never printed).
    pub api_key: Option<SecretString>,
    /// Per-call timeout.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per question.
    pub max_attempts: u32,
    /// Failures that open the circuit.
    pub breaker_failures: u32,
    /// How long the circuit stays open.
    #[serde(with = "humantime_serde")]
    pub breaker_open_for: Duration,
    /// The answer when the endpoint is down.
    pub fallback_text: String,
}

impl AiConfig {
    /// Whether an endpoint is configured.
    pub fn enabled(&self) -> bool {
        !self.base_url.trim().is_empty()
    }

    /// The longest one /ask may take: every attempt runs to its timeout.
    pub fn worst_case(&self) -> Duration {
        if self.enabled() {
            self.timeout.saturating_mul(self.max_attempts.max(1))
        } else {
            Duration::ZERO
        }
    }
}

/// The reference bot's keys of `[bot]` (the core reads the others).
#[derive(Debug, Clone, Deserialize)]
struct BotKeys {
    admin_chat_ids: Vec<i64>,
}

/// Everything the reference bot reads beyond bot-server's settings, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Chats allowed to use /status (`bot.admin_chat_ids`, `TELBOT__BOT__ADMIN_CHAT_IDS=1,2`).
    pub admin_chat_ids: Vec<i64>,
    /// The /ask endpoint.
    pub ai: AiConfig,
}

impl Settings {
    /// Loads and validates the reference bot's keys from the layered sources (`file` is
    /// `--config`); each error names its key.
    pub fn load(file: Option<&Path>, env: &EnvMap) -> Result<Self, ConfigError> {
        let cfg = shared::load(file, env)?;
        let bot: BotKeys = shared::section(&cfg, "bot")?;
        let ai: AiConfig = shared::section(&cfg, "ai")?;
        if ai.enabled() {
            shared::parse_http_url(&ai.base_url, "ai.base_url")?;
        }
        if ai.timeout.is_zero() {
            return Err(ConfigError::invalid("ai.timeout", "must be more than 0"));
        }
        Ok(Settings {
            admin_chat_ids: bot.admin_chat_ids,
            ai,
        })
    }

    /// The check the core makes for one Bot API call, with /ask's worst case added: a handler
    /// deadline shorter than both together could cancel an /ask that is only slow.
    pub fn check_against(&self, cfg: &BotConfig) -> Result<(), ConfigError> {
        let worst = cfg.handler_worst_case() + self.ai.worst_case();
        if cfg.inbox.handler_timeout <= worst {
            return Err(ConfigError::invalid(
                "inbox.handler_timeout",
                format!(
                    "must be longer than one Bot API call's worst case plus /ask's ({} s: \
                     telegram.max_attempts x request_timeout, the waits between them up to \
                     max(max_retry_after, backoff_max), and ai.max_attempts x ai.timeout), \
                     or a handler that already sent could be cancelled and run again",
                    worst.as_secs()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvMap {
        let mut e: EnvMap = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        e.entry("TELEGRAM_BOT_TOKEN".into())
            .or_insert_with(|| "123:abc".into());
        e
    }

    fn check(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let e = env(pairs);
        let s = Settings::load(None, &e)?;
        s.check_against(&BotConfig::load(None, &e)?)?;
        Ok(s)
    }

    #[test]
    fn the_keys_keep_their_environment_names() -> Result<(), ConfigError> {
        let s = check(&[
            ("TELBOT__BOT__ADMIN_CHAT_IDS", "601,-100200"),
            ("TELBOT__AI__BASE_URL", "http://127.0.0.1:9/v1"),
            ("TELBOT__AI__MAX_ATTEMPTS", "3"),
        ])?;
        assert_eq!(s.admin_chat_ids, vec![601, -100200]);
        assert_eq!(s.ai.max_attempts, 3);
        let s = check(&[])?;
        assert!(s.admin_chat_ids.is_empty() && !s.ai.enabled());
        assert!(s.ai.fallback_text.contains("unavailable"));
        Ok(())
    }

    #[test]
    fn each_bad_value_names_its_key() {
        let e = |pairs: &[(&str, &str)]| match check(pairs) {
            Ok(_) => panic!("expected a config error for {pairs:?}"),
            Err(e) => e.to_string(),
        };
        assert!(e(&[("TELBOT__AI__BASE_URL", "ftp://x")]).contains("ai.base_url"));
        assert!(e(&[("TELBOT__AI__TIMEOUT", "soon")]).contains("timeout"));
        assert!(e(&[("TELBOT__BOT__ADMIN_CHAT_IDS", "me")]).contains("admin_chat_ids"));
    }

    #[test]
    fn the_handler_deadline_must_outlast_a_bot_api_call_plus_ask() -> Result<(), ConfigError> {
        // Defaults: 150 s for the Bot API call; with /ask off, 170 s is enough...
        check(&[("TELBOT__INBOX__HANDLER_TIMEOUT", "170s")])?;
        // ...and with /ask's 2 x 15 s on top of it, it is not.
        let Err(e) = check(&[
            ("TELBOT__AI__BASE_URL", "http://127.0.0.1:9/v1"),
            ("TELBOT__INBOX__HANDLER_TIMEOUT", "170s"),
        ]) else {
            panic!("expected inbox.handler_timeout to be refused");
        };
        let e = e.to_string();
        assert!(
            e.contains("inbox.handler_timeout") && e.contains("180 s") && e.contains("/ask"),
            "{e}"
        );
        check(&[
            ("TELBOT__AI__BASE_URL", "http://127.0.0.1:9/v1"),
            ("TELBOT__INBOX__HANDLER_TIMEOUT", "181s"),
        ])?;
        Ok(())
    }
}
