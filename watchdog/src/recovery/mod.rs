//! Webhook repairs, losing nothing:
//!
//! - [`set_webhook`]: the expected URL, secret, allowed_updates and max_connections.
//! - [`lossless`]: persist the phase → `deleteWebhook` (keeping updates) → `getUpdates` until
//!   empty, each batch [`replay`]ed to the bot and confirmed (next offset) only after the bot
//!   answered 200 → `setWebhook` again → clear the phase. Whatever happens in between (a Bot API
//!   error, the bot refusing, the deadline, SIGTERM) the webhook is set again; a hard kill
//!   leaves the phase in the store and [`resume`] finishes the job on the next start/run.
//! - [`drop_pending`]: the explicit drop mode, reporting how many updates it threw away.

pub mod replay;

use std::time::Duration;

use secrecy::ExposeSecret;
use serde::Serialize;
use telbot_shared::telegram::{SetWebhook, TelegramError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::checks::Ctx;
use crate::store::RecoveryState;

/// How a recovery ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RecoveryReport {
    /// Updates taken from Telegram with getUpdates.
    pub drained: u64,
    /// Updates the bot answered 200 to.
    pub replayed: u64,
    /// Updates thrown away (drop mode only; lossless always 0).
    pub dropped: u64,
    /// Whether the webhook is set again at the end.
    pub webhook_set: bool,
    /// Whether this finished a recovery an earlier watchdog left half done.
    pub resumed: bool,
    /// What went wrong, if anything (the webhook is set again regardless).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RecoveryReport {
    /// Webhook set and nothing failed.
    pub fn ok(&self) -> bool {
        self.webhook_set && self.error.is_none()
    }
}

/// Attempts of the final setWebhook (each itself retried by the client on 5xx and 429).
const SET_ATTEMPTS: u32 = 3;

/// `setWebhook` as configured; `drop` throws the queue away (drop mode only).
pub async fn set_webhook(ctx: &Ctx, drop: bool) -> Result<(), TelegramError> {
    let w = &ctx.cfg.webhook;
    let params = SetWebhook {
        url: w.expected_url.clone(),
        secret_token: w.secret.as_ref().map(|s| s.expose_secret().to_string()),
        max_connections: w.max_connections,
        allowed_updates: Some(w.allowed_updates.clone()),
        drop_pending_updates: drop,
    };
    let mut attempt = 1;
    loop {
        match ctx.tg.set_webhook(&params).await {
            Ok(_) => return Ok(()),
            Err(e)
                if attempt < SET_ATTEMPTS
                    && (e.is_retryable() || e.code() == Some(429) || e.code() == Some(409)) =>
            {
                tracing::warn!(error = %e, attempt, "setWebhook failed; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Lossless recovery. `action_id` is the `wd_actions` row, kept with the phase.
pub async fn lossless(
    ctx: &Ctx,
    stop: &CancellationToken,
    action_id: Option<i64>,
) -> RecoveryReport {
    let mut st = RecoveryState {
        phase: "deleting".into(),
        offset: None,
        drained: 0,
        replayed: 0,
        started_at: ctx.clock.now(),
        action_id,
    };
    // Without a record of the phase, an interruption could leave the webhook deleted: refuse.
    if let Err(e) = ctx.store.set_recovery(&st).await {
        return RecoveryReport {
            error: Some(format!(
                "not started: cannot record the recovery phase: {e}"
            )),
            ..Default::default()
        };
    }
    tracing::info!("recovery: deleteWebhook (keeping pending updates)");
    let mut error = ctx
        .tg
        .delete_webhook(false)
        .await
        .err()
        .map(|e| format!("deleteWebhook: {}", ctx.redact(&e.to_string())));
    if error.is_none() {
        error = drain(ctx, stop, &mut st).await.err();
    }
    finish(ctx, st, error, false).await
}

/// Finishes a recovery left in the store by an interrupted watchdog; `None` when there is none.
pub async fn resume(ctx: &Ctx, stop: &CancellationToken) -> Option<RecoveryReport> {
    let mut st = ctx.store.recovery().await.ok().flatten()?;
    tracing::warn!(phase = %st.phase, offset = ?st.offset, "finishing a recovery an earlier watchdog left half done");
    let mut error = None;
    if st.phase != "setting" {
        // deleteWebhook may not have gone through before the interruption: do it (idempotent).
        error = ctx
            .tg
            .delete_webhook(false)
            .await
            .err()
            .map(|e| format!("deleteWebhook: {}", ctx.redact(&e.to_string())));
        if error.is_none() {
            error = drain(ctx, stop, &mut st).await.err();
        }
    }
    Some(finish(ctx, st, error, true).await)
}

/// Sets the webhook again, clears the phase on success, and reports.
async fn finish(
    ctx: &Ctx,
    mut st: RecoveryState,
    error: Option<String>,
    resumed: bool,
) -> RecoveryReport {
    st.phase = "setting".into();
    let _ = ctx.store.set_recovery(&st).await;
    tracing::info!(
        drained = st.drained,
        replayed = st.replayed,
        "recovery: setWebhook again"
    );
    let set = set_webhook(ctx, false).await;
    let webhook_set = set.is_ok();
    let mut error = error;
    match set {
        Ok(()) => {
            if let Err(e) = ctx.store.clear_recovery().await {
                tracing::warn!(error = %e, "webhook set, but the recovery phase could not be cleared");
            }
        }
        Err(e) => {
            let msg = format!(
                "setWebhook: {} (the next run tries again)",
                ctx.redact(&e.to_string())
            );
            error = Some(match error {
                Some(prev) => format!("{prev}; {msg}"),
                None => msg,
            });
        }
    }
    RecoveryReport {
        drained: st.drained,
        replayed: st.replayed,
        dropped: 0,
        webhook_set,
        resumed,
        error,
    }
}

/// getUpdates until empty, replaying each batch before confirming it. Bounded by
/// `max_batches` and `max_duration`; stops early (losing nothing) on `stop`.
async fn drain(ctx: &Ctx, stop: &CancellationToken, st: &mut RecoveryState) -> Result<(), String> {
    st.phase = "draining".into();
    let _ = ctx.store.set_recovery(st).await;
    let rc = &ctx.cfg.recovery;
    let deadline = Instant::now() + rc.max_duration;
    for _ in 0..rc.max_batches {
        if stop.is_cancelled() {
            return Err(
                "stopped (shutdown) before the queue was empty; Telegram delivers the rest".into(),
            );
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "drain stopped after {:?}; Telegram delivers the rest",
                rc.max_duration
            ));
        }
        let batch = match ctx
            .tg
            .get_updates(st.offset, 100, Duration::ZERO, None)
            .await
        {
            Ok(b) => b,
            Err(e) => return Err(format!("getUpdates: {}", ctx.redact(&e.to_string()))),
        };
        if batch.is_empty() {
            return Ok(());
        }
        let out = replay::batch(ctx, &batch).await;
        st.drained += batch.len() as u64;
        st.replayed += out.replayed;
        let max_id = batch.iter().filter_map(replay::update_id).max();
        match out.first_unreplayed {
            None => st.offset = max_id.map(|m| m + 1),
            Some(id) => {
                // Confirm only what is below the first update the bot did not take.
                st.offset = Some(id);
                let _ = ctx.store.set_recovery(st).await;
                let _ = ctx.tg.get_updates(Some(id), 1, Duration::ZERO, None).await;
                return Err(out
                    .error
                    .unwrap_or_else(|| "the bot did not take an update".into()));
            }
        }
        let _ = ctx.store.set_recovery(st).await;
    }
    Err(format!(
        "drain stopped after {} batches; Telegram delivers the rest",
        rc.max_batches
    ))
}

/// Drop mode: reads how many are pending, then sets the webhook with drop_pending_updates.
pub async fn drop_pending(ctx: &Ctx) -> RecoveryReport {
    let pending = match ctx.tg.get_webhook_info().await {
        Ok(i) => i.pending_update_count,
        Err(e) => {
            return RecoveryReport {
                error: Some(format!("getWebhookInfo: {}", ctx.redact(&e.to_string()))),
                ..Default::default()
            };
        }
    };
    match set_webhook(ctx, true).await {
        Ok(()) => {
            tracing::warn!(dropped = pending, "drop mode: pending updates thrown away");
            RecoveryReport {
                dropped: pending,
                webhook_set: true,
                ..Default::default()
            }
        }
        Err(e) => RecoveryReport {
            error: Some(format!("setWebhook: {}", ctx.redact(&e.to_string()))),
            ..Default::default()
        },
    }
}
