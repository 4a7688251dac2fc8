//! The run context: what every check, rule action, report and manual command reaches the world
//! through (configuration, the Bot API client, HTTP, the store, the clock), all injected.

use std::sync::Arc;

use telbot_shared::telegram::TelegramClient;

use crate::clock::Clock;
use crate::config::WatchdogConfig;
use crate::store::WdStore;

/// What every check and action reaches the world through (all injected).
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The validated configuration.
    pub cfg: Arc<WatchdogConfig>,
    /// The Bot API client (retries, 429 handling, redaction).
    pub tg: TelegramClient,
    /// HTTP to the bot and the restart hooks; every request sets its own timeout.
    pub http: reqwest::Client,
    /// The shared store.
    pub store: WdStore,
    /// Wall-clock time.
    pub clock: Arc<dyn Clock>,
    /// The secret bot-server generated and keeps in the store when no `WEBHOOK_SECRET` is
    /// configured ([`telbot_shared::webhook_secret`]); read again at every run.
    pub generated_secret: Arc<std::sync::RwLock<Option<secrecy::SecretString>>>,
}

impl Ctx {
    /// The webhook URL Telegram should have now: the backup's while the webhook is failed
    /// over (`webhook.backup_urls`), else the configured one.
    pub async fn webhook_url_now(&self) -> String {
        match self.store.failover().await {
            Ok(Some(f)) => f.url,
            _ => self.cfg.webhook.expected_url.clone(),
        }
    }

    /// `bot_url` + `path`.
    pub fn bot_endpoint(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.cfg.bot_url.as_str().trim_end_matches('/'),
            path
        )
    }

    /// The webhook secret: the configured one, else the one bot-server generated.
    pub fn webhook_secret(&self) -> Option<secrecy::SecretString> {
        self.cfg
            .webhook
            .secret
            .clone()
            .or_else(|| self.generated_secret.read().ok().and_then(|g| g.clone()))
    }

    /// With no configured secret: reads the generated one from the store (bot-server may
    /// have made it after this watchdog started).
    pub async fn refresh_secret(&self) {
        if self.cfg.webhook.secret.is_some() {
            return;
        }
        if let Ok(Some(s)) = telbot_shared::webhook_secret::load(self.store.db()).await
            && let Ok(mut g) = self.generated_secret.write()
        {
            *g = Some(s);
        }
    }

    /// Removes the token and webhook secret from text shown to people.
    pub fn redact(&self, text: &str) -> String {
        let mut out = self.tg.redactor().redact(text);
        if let Some(s) = &self.webhook_secret() {
            use secrecy::ExposeSecret;
            if s.expose_secret().len() >= 4 {
                out = out.replace(s.expose_secret(), telbot_shared::redact::MASK);
            }
        }
        out
    }
}
