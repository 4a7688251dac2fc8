//! Lossless webhook recovery, in-process (`POST /webhook/recover`): deleteWebhook without
//! dropping → getUpdates until empty, each update stored in the inbox (dedup by update_id)
//! before its offset is confirmed → setWebhook again, always, even after an error half way.

use std::time::Duration;

use serde::Serialize;

use crate::config::Mode;
use crate::inbox::{NewUpdate, Stored, key};
use crate::mode::register_webhook;
use crate::state::AppState;

/// Rounds of getUpdates at most (100 updates each), so a recovery always ends.
const MAX_ROUNDS: usize = 1000;

/// What a recovery did.
#[derive(Debug, Default, Serialize)]
pub struct RecoveryReport {
    /// Updates fetched from Telegram.
    pub drained: u64,
    /// Of those, new to the inbox (will be handled).
    pub replayed: u64,
    /// Of those, already in the inbox.
    pub duplicates: u64,
    /// Thrown away: always 0 in lossless mode.
    pub dropped: u64,
    /// Whether the webhook was set again.
    pub webhook_restored: bool,
    /// Pending count Telegram reported before.
    pub pending_before: Option<u64>,
    /// Problems met, in order.
    pub errors: Vec<String>,
}

/// Runs a recovery. The caller holds the recovery lock.
pub async fn recover(app: &AppState) -> RecoveryReport {
    let mut report = RecoveryReport::default();
    if let Ok(info) = app.api.get_webhook_info().await {
        report.pending_before = Some(info.pending_update_count);
    }
    match app.api.delete_webhook(false).await {
        Ok(_) => drain(app, &mut report).await,
        Err(e) => report.errors.push(format!("deleteWebhook: {e}")),
    }
    match register_webhook(&app.api, &app.cfg).await {
        Ok(()) => {
            report.webhook_restored = true;
            app.mode.set(Mode::Webhook);
        }
        Err(e) => report.errors.push(format!("setWebhook: {e}")),
    }
    app.webhook_health.invalidate();
    tracing::info!(
        drained = report.drained,
        replayed = report.replayed,
        duplicates = report.duplicates,
        restored = report.webhook_restored,
        "recovery finished"
    );
    report
}

async fn drain(app: &AppState, report: &mut RecoveryReport) {
    let mut offset: Option<i64> = None;
    for _ in 0..MAX_ROUNDS {
        let batch = match app.api.get_updates(offset, 100, Duration::ZERO, None).await {
            Ok(b) => b,
            Err(e) => {
                report.errors.push(format!("getUpdates: {e}"));
                return;
            }
        };
        if batch.is_empty() {
            // Confirm the last stored batch so Telegram forgets it.
            if offset.is_some()
                && let Err(e) = app.api.get_updates(offset, 1, Duration::ZERO, None).await
            {
                report.errors.push(format!("getUpdates (confirm): {e}"));
            }
            return;
        }
        for u in batch {
            let Some(id) = u.get("update_id").and_then(serde_json::Value::as_i64) else {
                continue;
            };
            let (kind, key) = key::classify(&u);
            match app
                .writer
                .insert(NewUpdate {
                    update_id: id,
                    kind,
                    key,
                    payload: u.to_string(),
                })
                .await
            {
                Ok(Stored::New) => report.replayed += 1,
                Ok(Stored::Duplicate) => report.duplicates += 1,
                Err(e) => {
                    // Not confirmed: Telegram keeps it and delivers it to the webhook later.
                    report.errors.push(format!("store: {e}"));
                    return;
                }
            }
            report.drained += 1;
            offset = Some(id + 1);
        }
    }
}
