//! Setting the webhook: with the configured settings (the wrong-URL repair, under the
//! recovery lock), or with the settings a recovery read from Telegram before it deleted the
//! webhook (the secret always from the config: Telegram does not show it).

use std::time::Duration;

use telbot_shared::telegram::{SetWebhook, TelegramError, WebhookInfo};

use super::{lock, release};
use crate::checks::Ctx;
use crate::store::WebhookSettings;

/// Attempts of the final setWebhook (each itself retried by the client on 5xx and 429).
const SET_ATTEMPTS: u32 = 3;

/// The settings as configured (what a wrong URL is set back to), with `url`: the configured
/// one, or the backup's while failed over ([`Ctx::webhook_url_now`]).
pub(crate) fn configured(ctx: &Ctx, url: String) -> WebhookSettings {
    let w = &ctx.cfg.webhook;
    WebhookSettings {
        url,
        max_connections: w.max_connections,
        allowed_updates: w.allowed_updates.clone(),
    }
}

/// The settings to restore after a delete: the expected URL with the `max_connections` and
/// `allowed_updates` Telegram had (no webhook set: the configured ones).
pub async fn settings_to_restore(ctx: &Ctx, info: &WebhookInfo) -> WebhookSettings {
    let mut s = configured(ctx, ctx.webhook_url_now().await);
    if !info.url.is_empty() {
        if let Some(m) = info.max_connections {
            s.max_connections = m;
        }
        s.allowed_updates = info.allowed_updates.clone().unwrap_or_default();
    }
    s
}

/// Why a locked setWebhook did not happen.
#[derive(Debug, Clone, PartialEq)]
pub enum SetError {
    /// Somebody else holds the recovery lock (or it could not be taken).
    Busy(String),
    /// setWebhook failed (redacted text).
    Failed(String),
}

/// `setWebhook` as configured under the recovery lock (the wrong-URL repair); the URL set.
pub async fn set_webhook_locked(ctx: &Ctx) -> Result<String, SetError> {
    let lease = lock(ctx).await.map_err(SetError::Busy)?;
    let url = ctx.webhook_url_now().await;
    let r = set_webhook(ctx, &configured(ctx, url.clone()), false)
        .await
        .map(|()| url)
        .map_err(|e| SetError::Failed(ctx.redact(&e.to_string())));
    release(lease).await;
    r
}

/// `setWebhook` with `settings` and the configured secret; `drop` throws the queue away
/// (drop mode only).
pub async fn set_webhook(
    ctx: &Ctx,
    settings: &WebhookSettings,
    drop: bool,
) -> Result<(), TelegramError> {
    let params = SetWebhook::new(
        settings.url.clone(),
        ctx.cfg.webhook.secret.as_ref(),
        settings.max_connections,
        &settings.allowed_updates,
    )
    .dropping_pending(drop);
    let mut attempt = 1;
    loop {
        match ctx.tg.set_webhook(&params).await {
            Ok(_) => return Ok(()),
            Err(e) if attempt < SET_ATTEMPTS && (e.is_transient() || e.code() == Some(409)) => {
                tracing::warn!(error = %e, attempt, "setWebhook failed; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}
