//! Registering this bot's webhook: the setWebhook parameters it always sends, and the call
//! with back-off. Used at start and by the polling fallback (module `mode`) and at the end of
//! an in-process recovery (module `recovery`).

use std::time::Duration;

use telbot_shared::backoff::jittered as backoff_delay;
use telbot_shared::telegram::{SetWebhook, TelegramClient, TelegramError};

use crate::config::BotConfig;

/// The setWebhook parameters this bot always sends — even when the URL looks unchanged,
/// since getWebhookInfo cannot show the secret and a stale secret rejects every update.
pub fn set_webhook_params(cfg: &BotConfig) -> Option<SetWebhook> {
    let url = cfg.webhook_url.as_ref()?;
    Some(SetWebhook::new(
        url.to_string(),
        cfg.webhook_secret.as_ref(),
        cfg.max_connections,
        &cfg.allowed_updates,
    ))
}

/// `set_attempts` single calls of setWebhook with jittered exponential back-off between them.
pub async fn register_webhook(api: &TelegramClient, cfg: &BotConfig) -> Result<(), TelegramError> {
    let Some(params) = set_webhook_params(cfg) else {
        return Err(TelegramError::InvalidResponse {
            method: "setWebhook".into(),
            message: "no PUBLIC_URL".into(),
        });
    };
    let api = api.single_attempt();
    let mut last = None;
    for attempt in 1..=cfg.set_attempts {
        match api.set_webhook(&params).await {
            Ok(_) => {
                tracing::info!(url = %params.url, attempt, "webhook set");
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(attempt, of = cfg.set_attempts, error = %e, "setWebhook failed");
                let fatal =
                    matches!(&e, TelegramError::Api { code, .. } if *code < 500 && *code != 429);
                last = Some(e);
                if fatal || attempt == cfg.set_attempts {
                    break;
                }
                tokio::time::sleep(backoff_delay(
                    Duration::from_millis(500),
                    Duration::from_secs(10),
                    attempt,
                ))
                .await;
            }
        }
    }
    Err(last.unwrap_or(TelegramError::Timeout {
        method: "setWebhook".into(),
    }))
}
