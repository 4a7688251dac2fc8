//! The `[telegram]` section: the Bot API URL, the token, retries and send pacing.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::{ConfigError, EnvMap, load, looks_like_token, parse_http_url, section};

/// The `[telegram]` section as written.
#[derive(Debug, Clone, Deserialize)]
pub struct TelegramSection {
    /// Bot API base URL.
    pub api_url: String,
    /// The bot token.
    pub token: Option<SecretString>,
    /// Timeout of one call.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Attempts per call on retryable errors.
    pub max_attempts: u32,
    /// First back-off delay.
    #[serde(with = "humantime_serde")]
    pub backoff_base: Duration,
    /// Back-off cap.
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    /// Longest retry_after waited out.
    #[serde(with = "humantime_serde")]
    pub max_retry_after: Duration,
    /// Whether sends are paced to Telegram's limits.
    pub rate_limit: bool,
    /// Messages per second overall.
    pub global_per_sec: u32,
    /// Messages per second per chat.
    pub per_chat_per_sec: u32,
    /// Burst per chat.
    pub per_chat_burst: u32,
}

/// Validated Telegram settings, ready for the Bot API client (`TelegramClient::new`).
#[derive(Debug, Clone)]
pub struct TelegramConfig {
    /// Bot API base URL without a trailing slash.
    pub api_url: Url,
    /// The bot token; never printed.
    pub token: SecretString,
    /// Timeout of one call.
    pub request_timeout: Duration,
    /// Attempts per call on retryable errors.
    pub max_attempts: u32,
    /// First back-off delay.
    pub backoff_base: Duration,
    /// Back-off cap.
    pub backoff_max: Duration,
    /// Longest retry_after waited out.
    pub max_retry_after: Duration,
    /// Pacing of sends; `None` turns it off.
    pub rate: Option<RateLimits>,
}

/// Telegram's send limits as the client enforces them.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Messages per second overall.
    pub global_per_sec: u32,
    /// Messages per second per chat.
    pub per_chat_per_sec: u32,
    /// Burst per chat.
    pub per_chat_burst: u32,
}

impl TelegramConfig {
    /// Validates the `[telegram]` section.
    pub fn from_section(s: TelegramSection) -> Result<Self, ConfigError> {
        let token = s
            .token
            .filter(|t| !t.expose_secret().trim().is_empty())
            .ok_or_else(|| {
                ConfigError::invalid(
                    "telegram.token",
                    "is required (the bot token from @BotFather)",
                )
            })?;
        if !looks_like_token(token.expose_secret()) {
            return Err(ConfigError::invalid(
                "telegram.token",
                "is not a bot token (expected <digits>:<secret>, e.g. 123456:ABC-def)",
            ));
        }
        let api_url = parse_http_url(&s.api_url, "telegram.api_url")?;
        if s.max_attempts == 0 {
            return Err(ConfigError::invalid(
                "telegram.max_attempts",
                "must be at least 1",
            ));
        }
        if s.request_timeout.is_zero() {
            return Err(ConfigError::invalid(
                "telegram.request_timeout",
                "must be more than 0",
            ));
        }
        let rate = if s.rate_limit {
            if s.global_per_sec == 0 || s.per_chat_per_sec == 0 {
                return Err(ConfigError::invalid(
                    "telegram.global_per_sec",
                    "rates must be at least 1 (or set telegram.rate_limit = false)",
                ));
            }
            Some(RateLimits {
                global_per_sec: s.global_per_sec,
                per_chat_per_sec: s.per_chat_per_sec,
                per_chat_burst: s.per_chat_burst.max(1),
            })
        } else {
            None
        };
        Ok(TelegramConfig {
            api_url,
            token,
            request_timeout: s.request_timeout,
            max_attempts: s.max_attempts,
            backoff_base: s.backoff_base,
            backoff_max: s.backoff_max,
            max_retry_after: s.max_retry_after,
            rate,
        })
    }

    /// Settings for tests and tools: the given API URL and token, defaults otherwise.
    pub fn for_url(api_url: &str, token: &str) -> Result<Self, ConfigError> {
        let cfg = load(None, &EnvMap::new())?;
        let mut s: TelegramSection = section(&cfg, "telegram")?;
        s.api_url = api_url.to_string();
        s.token = Some(SecretString::from(token.to_string()));
        Self::from_section(s)
    }
}
