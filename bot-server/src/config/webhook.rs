//! `[webhook]` as bot-server uses it: the keys both daemons read (validated once in
//! `telbot_shared::config::webhook`) and bot-server's own — setWebhook retries, the body limit,
//! `/webhook/health`'s limits, the reply in Telegram's answer — and whether a secret must be
//! generated.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use telbot_shared::config::{ConfigError, webhook::WebhookConfig};
use url::Url;

use super::Mode;

/// bot-server's own `[webhook]` keys as the file and environment give them.
#[derive(Debug, Deserialize)]
pub(super) struct WebhookSection {
    set_attempts: u32,
    #[serde(with = "humantime_serde")]
    restore_interval: Duration,
    pub(super) max_body_bytes: usize,
    max_pending: u64,
    #[serde(with = "humantime_serde")]
    error_window: Duration,
    #[serde(with = "humantime_serde")]
    health_cache: Duration,
    reply_in_answer: bool,
    #[serde(with = "humantime_serde")]
    reply_wait: Duration,
}

/// `[webhook]`, validated.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `public_url + path`, when a public URL is set.
    pub url: Option<Url>,
    /// Route the webhook is served on.
    pub path: String,
    /// Required `X-Telegram-Bot-Api-Secret-Token`.
    pub secret: Option<SecretString>,
    /// No `WEBHOOK_SECRET` in webhook mode on a public URL: the secret is generated and kept
    /// in the store at start ([`telbot_shared::webhook_secret`]), then set here.
    pub generate_secret: bool,
    /// `webhook.certificate`: uploaded with every setWebhook.
    pub certificate: Option<telbot_shared::telegram::Certificate>,
    /// `webhook.ip_address`: sent with every setWebhook.
    pub ip_address: Option<String>,
    /// setWebhook's max_connections.
    pub max_connections: u32,
    /// setWebhook's allowed_updates.
    pub allowed_updates: Vec<String>,
    /// setWebhook attempts before falling back to polling.
    pub set_attempts: u32,
    /// How often the webhook is retried while polling as a fallback.
    pub restore_interval: Duration,
    /// Largest webhook body.
    pub max_body_bytes: usize,
    /// `/webhook/health` pending limit.
    pub max_pending: u64,
    /// `/webhook/health` recent-error window.
    pub error_window: Duration,
    /// `/webhook/health` cache age.
    pub health_cache: Duration,
    /// Answer Telegram's POST with the handler's only Bot API call (stored with the update
    /// first), instead of sending it; see `inbox::reply`.
    pub reply_in_answer: bool,
    /// With `reply_in_answer`: how long the webhook answer waits for the handler.
    pub reply_wait: Duration,
}

impl WebhookSettings {
    /// Checks bot-server's keys and decides on the secret for `mode`; problems go to `errs`,
    /// advice to `warnings`.
    pub(super) fn from_sections(
        hook: WebhookConfig,
        own: WebhookSection,
        mode: Mode,
        errs: &mut Vec<ConfigError>,
        warnings: &mut Vec<String>,
    ) -> Self {
        let url = hook.url();
        if let Some(base) = &hook.public_url
            && base.scheme() != "https"
            && !is_loopback(base)
        {
            warnings.push(format!(
                "PUBLIC_URL is not https:// ({}); Telegram only delivers to https webhooks",
                base.as_str()
            ));
        }
        let mut generate_secret = false;
        if hook.secret.is_none() && mode == Mode::Webhook {
            if url.as_ref().is_some_and(is_loopback) {
                warnings.push(
                    "WEBHOOK_SECRET is not set: anyone who can reach the (loopback) URL can post updates"
                        .into(),
                );
            } else {
                // On the public internet anyone who guesses PUBLIC_URL/webhook could post forged
                // updates (text to any chat, update_ids that make real ones look like
                // duplicates, replies coming back to them in reply mode): never without a
                // secret. One is generated and kept in the store at start.
                generate_secret = true;
                warnings.push(
                    "WEBHOOK_SECRET is not set: a secret is generated and kept in the store (the watchdog, on the same store, reads it there); set WEBHOOK_SECRET to choose your own".into(),
                );
            }
        }
        if own.set_attempts == 0 {
            errs.push(ConfigError::invalid(
                "webhook.set_attempts",
                "must be at least 1",
            ));
        }
        if own.max_body_bytes < 1024 {
            errs.push(ConfigError::invalid(
                "webhook.max_body_bytes",
                "must be at least 1024",
            ));
        }
        // Telegram waits 60 s for an answer, then closes the connection and redelivers.
        if own.reply_wait.is_zero() || own.reply_wait > Duration::from_secs(50) {
            errs.push(ConfigError::invalid(
                "webhook.reply_wait",
                "must be more than 0 and at most 50s (Telegram waits 60 s for an answer)",
            ));
        }
        WebhookSettings {
            url,
            path: hook.path,
            secret: hook.secret,
            generate_secret,
            certificate: hook.certificate,
            ip_address: hook.ip_address,
            max_connections: hook.max_connections,
            allowed_updates: hook.allowed_updates,
            set_attempts: own.set_attempts,
            restore_interval: own.restore_interval,
            max_body_bytes: own.max_body_bytes,
            max_pending: own.max_pending,
            error_window: own.error_window,
            health_cache: own.health_cache,
            reply_in_answer: own.reply_in_answer,
            reply_wait: own.reply_wait,
        }
    }
}

fn is_loopback(u: &Url) -> bool {
    u.host_str()
        .is_some_and(|h| h == "127.0.0.1" || h == "localhost" || h == "[::1]")
}
