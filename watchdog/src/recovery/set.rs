//! Setting the webhook with the settings the user set, from one source of truth: what
//! bot-server registered (its record in the store, [`telbot_shared::webhook_settings`]),
//! else what Telegram showed before a delete, else the watchdog's own configuration. The
//! URL is always the one expected now (the primary's, or the backup's while failed over);
//! the secret and the certificate come from the configuration (Telegram shows neither).

use std::time::Duration;

use telbot_shared::telegram::{SetWebhook, TelegramError, WebhookInfo};
use telbot_shared::webhook_settings::{self, Registered};

use super::{lock, release};
use crate::context::Ctx;
use crate::store::WebhookSettings;

/// Attempts of the final setWebhook (each itself retried by the client on 5xx and 429).
const SET_ATTEMPTS: u32 = 3;

/// The settings to set `url` with. `info`: what getWebhookInfo showed (before a delete, or
/// now), when known. `max_connections` and `allowed_updates` come from bot-server's record,
/// else from `info` (a webhook set), else from the watchdog's configuration; a fixed IP
/// address from the watchdog's configuration, else the record, else one `info` shows as
/// fixed. A custom certificate at Telegram with no `webhook.certificate` here is warned of:
/// this setWebhook drops it.
pub(crate) async fn settings_for(
    ctx: &Ctx,
    url: String,
    info: Option<&WebhookInfo>,
) -> WebhookSettings {
    let w = &ctx.cfg.webhook;
    let registered = match webhook_settings::load(ctx.store.db()).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %ctx.redact(&e.to_string()), "cannot read the bot's registered webhook settings; restoring what Telegram showed");
            None
        }
    };
    let shown = info.filter(|i| !i.url.is_empty());
    let mut s = WebhookSettings {
        url,
        max_connections: w.max_connections,
        allowed_updates: w.allowed_updates.clone(),
        ip_address: None,
    };
    if let Some(Registered {
        max_connections,
        allowed_updates,
        ..
    }) = &registered
    {
        s.max_connections = *max_connections;
        s.allowed_updates = allowed_updates.clone();
    } else if let Some(i) = shown {
        if let Some(m) = i.max_connections {
            s.max_connections = m;
        }
        s.allowed_updates = i.allowed_updates.clone().unwrap_or_default();
    }
    s.ip_address = match (
        &w.ip_address,
        registered.as_ref().and_then(|r| r.ip_address.clone()),
    ) {
        (Some(ip), _) => Some(ip.clone()),
        (None, Some(ip)) => Some(ip),
        (None, None) => match shown {
            Some(i) => webhook_settings::fixed_ip_shown(i).await,
            None => None,
        },
    };
    if w.certificate.is_none()
        && (shown.is_some_and(|i| i.has_custom_certificate)
            || registered.as_ref().is_some_and(|r| r.certificate))
    {
        tracing::warn!(
            "the webhook uses a custom certificate but the watchdog's webhook.certificate is not set: setting the webhook drops it (give the watchdog the same PEM file as the bot)"
        );
    }
    s
}

/// The settings to restore after a delete, from `info` read before it.
pub(crate) async fn settings_to_restore(ctx: &Ctx, info: &WebhookInfo) -> WebhookSettings {
    settings_for(ctx, ctx.webhook_url_now().await, Some(info)).await
}

/// Why a locked setWebhook did not happen.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SetError {
    /// Somebody else holds the recovery lock (or it could not be taken).
    Busy(String),
    /// setWebhook failed (redacted text).
    Failed(String),
}

/// `setWebhook` as configured under the recovery lock (the wrong-URL repair); the URL set.
pub(crate) async fn set_webhook_locked(ctx: &Ctx) -> Result<String, SetError> {
    let lease = lock(ctx).await.map_err(SetError::Busy)?;
    let url = ctx.webhook_url_now().await;
    let info = ctx.tg.get_webhook_info().await.ok();
    let settings = settings_for(ctx, url.clone(), info.as_ref()).await;
    let r = set_webhook(ctx, &settings, false)
        .await
        .map(|()| url)
        .map_err(|e| SetError::Failed(ctx.redact(&e.to_string())));
    release(lease).await;
    r
}

/// `setWebhook` with `settings`, the configured secret and certificate; `drop` throws the
/// queue away (drop mode only).
pub(crate) async fn set_webhook(
    ctx: &Ctx,
    settings: &WebhookSettings,
    drop: bool,
) -> Result<(), TelegramError> {
    let params = SetWebhook::new(
        settings.url.clone(),
        ctx.webhook_secret().as_ref(),
        settings.max_connections,
        &settings.allowed_updates,
    )
    .with_ip_address(settings.ip_address.clone())
    .with_certificate(ctx.cfg.webhook.certificate.clone())
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
