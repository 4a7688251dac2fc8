//! How updates arrive: registering the webhook at every start (with back-off and jitter),
//! long polling into the same inbox, and the fallback between them — when setWebhook keeps
//! failing the bot polls, and keeps trying to restore its webhook in the background.

use std::time::Duration;

use secrecy::ExposeSecret;
use telbot_shared::telegram::{SetWebhook, TelegramClient, TelegramError, backoff_delay};
use tokio_util::sync::CancellationToken;

use crate::config::{BotConfig, Mode};
use crate::inbox::{NewUpdate, key};
use crate::state::AppState;

/// The setWebhook parameters this bot always sends — even when the URL looks unchanged,
/// since getWebhookInfo cannot show the secret and a stale secret rejects every update.
pub fn set_webhook_params(cfg: &BotConfig) -> Option<SetWebhook> {
    let url = cfg.webhook_url.as_ref()?;
    Some(SetWebhook {
        url: url.to_string(),
        secret_token: cfg
            .webhook_secret
            .as_ref()
            .map(|s| s.expose_secret().to_string()),
        max_connections: cfg.max_connections,
        allowed_updates: Some(cfg.allowed_updates.clone()),
        drop_pending_updates: false,
    })
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

/// Decides the live mode at start and runs whatever it needs until `stop`.
pub async fn run(app: AppState, stop: CancellationToken) {
    if app.cfg.mode == Mode::Polling {
        app.mode.set(Mode::Polling);
        poll(app, stop).await;
        return;
    }
    app.mode.set(Mode::Webhook);
    if register_webhook(&app.api, &app.cfg).await.is_ok() {
        return;
    }
    tracing::error!(
        "cannot set the webhook; falling back to polling and retrying the webhook in the background"
    );
    app.mode.set(Mode::Polling);
    app.webhook_health.invalidate();
    let polling = stop.child_token();
    let poller = tokio::spawn(poll(app.clone(), polling.clone()));
    let mut tick = tokio::time::interval(app.cfg.restore_interval);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        // setWebhook makes Telegram end a waiting getUpdates; unconfirmed updates are then
        // delivered to the webhook and recognised by update_id.
        if register_webhook(&app.api, &app.cfg).await.is_ok() {
            polling.cancel();
            app.mode.set(Mode::Webhook);
            app.webhook_health.invalidate();
            tracing::info!("webhook restored; polling stopped");
            break;
        }
    }
    polling.cancel();
    let _ = poller.await;
}

/// Long-polls getUpdates into the inbox; an offset is confirmed only after its updates are stored.
pub async fn poll(app: AppState, stop: CancellationToken) {
    let mut offset: Option<i64> = None;
    let mut failures = 0u32;
    let allowed = app.cfg.allowed_updates.clone();
    loop {
        let call = app.api.get_updates(
            offset,
            app.cfg.polling.limit,
            app.cfg.polling.timeout,
            Some(&allowed),
        );
        let result = tokio::select! {
            r = call => r,
            _ = stop.cancelled() => return,
        };
        let updates = match result {
            Ok(u) => {
                failures = 0;
                u
            }
            Err(TelegramError::Api {
                code: 409,
                description,
                ..
            }) if description.contains("webhook is active") => {
                if stop.is_cancelled() {
                    return;
                }
                tracing::info!("a webhook is set; deleting it (pending updates kept) to poll");
                if let Err(e) = app.api.delete_webhook(false).await {
                    tracing::warn!(error = %e, "deleteWebhook failed");
                }
                continue;
            }
            Err(e) => {
                failures += 1;
                let d = backoff_delay(
                    Duration::from_millis(500),
                    Duration::from_secs(30),
                    failures,
                );
                tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "getUpdates failed");
                tokio::select! {
                    _ = tokio::time::sleep(d) => continue,
                    _ = stop.cancelled() => return,
                }
            }
        };
        let mut next = offset;
        let mut stored_all = true;
        for u in updates {
            let Some(id) = u.get("update_id").and_then(serde_json::Value::as_i64) else {
                continue;
            };
            let (kind, key) = key::classify(&u);
            let r = app
                .writer
                .insert(NewUpdate {
                    update_id: id,
                    kind,
                    key,
                    payload: u.to_string(),
                })
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "cannot store a polled update; it stays unconfirmed at Telegram");
                stored_all = false;
                break;
            }
            next = Some(id + 1);
        }
        offset = next;
        if !stored_all {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.cancelled() => return,
            }
        }
    }
}
