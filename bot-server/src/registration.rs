//! Registering this bot's webhook: the setWebhook parameters it always sends, and the call
//! with back-off. Used at start and by the polling fallback and the watch loop (module
//! `mode`) and at the end of an in-process recovery (module `recovery`).
//!
//! Every setting the user set goes with every call — the secret, `max_connections`,
//! `allowed_updates`, a fixed `ip_address` and a self-signed `webhook.certificate` — and a
//! fixed address Telegram already has that the configuration does not name is kept, not
//! silently dropped. What was registered is written to the store
//! ([`telbot_shared::webhook_settings`]): the watchdog restores exactly that.

use std::time::Duration;

use telbot_shared::backoff::jittered as backoff_delay;
use telbot_shared::telegram::{SetWebhook, TelegramError, WebhookInfo};
use telbot_shared::webhook_settings::{self, Registered};

use crate::config::BotConfig;
use crate::state::AppState;

/// The setWebhook parameters this bot always sends — even when the URL looks unchanged,
/// since getWebhookInfo cannot show the secret and a stale secret rejects every update.
pub(crate) fn set_webhook_params(cfg: &BotConfig) -> Option<SetWebhook> {
    let url = cfg.webhook.url.as_ref()?;
    Some(
        SetWebhook::new(
            url.to_string(),
            cfg.webhook.secret.as_ref(),
            cfg.webhook.max_connections,
            &cfg.webhook.allowed_updates,
        )
        .with_ip_address(cfg.webhook.ip_address.clone())
        .with_certificate(cfg.webhook.certificate.clone()),
    )
}

/// The parameters for this call: as configured, plus a fixed address Telegram shows for this
/// URL that the configuration does not name (kept, with a warning to make it explicit).
/// Warns when Telegram holds a custom certificate this bot has no file for.
pub(crate) async fn params_now(cfg: &BotConfig, info: Option<&WebhookInfo>) -> Option<SetWebhook> {
    let mut params = set_webhook_params(cfg)?;
    let Some(info) = info.filter(|i| i.url == params.url) else {
        return Some(params);
    };
    if info.has_custom_certificate && params.certificate.is_none() {
        tracing::warn!(
            "Telegram reports a custom certificate for this webhook but webhook.certificate is not set: setting the webhook drops it (set webhook.certificate to the PEM file if the bot uses a self-signed certificate)"
        );
    }
    if params.ip_address.is_none()
        && let Some(ip) = webhook_settings::fixed_ip_shown(info).await
    {
        tracing::warn!(
            ip_address = %ip,
            "Telegram delivers this webhook to a fixed IP address that webhook.ip_address does not set; keeping it (set webhook.ip_address to make it explicit)"
        );
        params.ip_address = Some(ip);
    }
    Some(params)
}

/// `set_attempts` single calls of setWebhook with jittered exponential back-off between them;
/// on success the settings are recorded in the store for the watchdog.
pub(crate) async fn register_webhook(app: &AppState) -> Result<(), TelegramError> {
    let cfg = &app.cfg;
    let info = tokio::time::timeout(cfg.telegram.request_timeout, app.api.get_webhook_info())
        .await
        .ok()
        .and_then(Result::ok);
    let Some(params) = params_now(cfg, info.as_ref()).await else {
        return Err(TelegramError::InvalidResponse {
            method: "setWebhook".into(),
            message: "no PUBLIC_URL".into(),
        });
    };
    let api = app.api.single_attempt();
    let mut last = None;
    for attempt in 1..=cfg.webhook.set_attempts {
        match api.set_webhook(&params).await {
            Ok(_) => {
                tracing::info!(url = %params.url, attempt, "webhook set");
                if let Err(e) = webhook_settings::record(&app.db, &Registered::of(&params)).await {
                    tracing::warn!(error = %e, "cannot record the registered webhook settings; the watchdog restores what getWebhookInfo shows");
                }
                return Ok(());
            }
            Err(e) => {
                tracing::warn!(attempt, of = cfg.webhook.set_attempts, error = %e, "setWebhook failed");
                let fatal =
                    matches!(&e, TelegramError::Api { code, .. } if *code < 500 && *code != 429);
                last = Some(e);
                if fatal || attempt == cfg.webhook.set_attempts {
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
