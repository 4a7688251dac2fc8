//! Webhook repairs, losing nothing. Each takes the one recovery lock in the store first
//! (`telbot_shared::recovery::Lease`, shared with bot-server's `POST /webhook/recover`); the
//! loser reports "a recovery is already running (owner …)" and changes nothing.
//!
//! - [`set_webhook`]: the expected URL, secret, allowed_updates and max_connections.
//! - [`lossless`]: read the webhook's settings and pending count (getWebhookInfo) → persist
//!   them with the phase → `deleteWebhook` (keeping updates) → `getUpdates` until empty or
//!   until as many updates as were pending are drained (newer ones are delivered by the
//!   webhook), each batch [`replay`]ed to the bot and confirmed (next offset) only after the
//!   bot answered 200 → `setWebhook` again with the settings read before (the secret from the
//!   config) → clear the phase. Whatever happens in between (a Bot API error, the bot
//!   refusing, the deadline, SIGTERM) the webhook is set again; a hard kill leaves the phase
//!   in the store and [`resume`] finishes the job on the next start/run.
//! - [`drop_pending`]: the explicit drop mode, reporting how many updates it threw away.

mod drain;
pub mod replay;
mod set;

use drain::drain;

pub use set::{SetError, set_webhook, set_webhook_locked, settings_for, settings_to_restore};

pub use telbot_shared::recovery::RecoveryReport;
use telbot_shared::recovery::{LEASE_TTL, Lease, LockError, Phase, Runner, owner_name};
use tokio_util::sync::CancellationToken;

use crate::checks::Ctx;
use crate::store::RecoveryState;

/// Takes the one recovery lock, or says who holds it.
pub async fn lock(ctx: &Ctx) -> Result<Lease, String> {
    match Lease::acquire(ctx.store.db(), &owner_name("watchdog"), LEASE_TTL).await {
        Ok(l) => Ok(l),
        Err(e @ LockError::Held { .. }) => Err(e.to_string()),
        Err(LockError::Store(e)) => Err(format!("cannot take the recovery lock: {e}")),
    }
}

fn busy(error: String) -> RecoveryReport {
    tracing::warn!(reason = %error, "recovery not run");
    RecoveryReport {
        errors: vec![error],
        busy: true,
        ..Default::default()
    }
}

pub(crate) async fn release(lease: Lease) {
    if let Err(e) = lease.release().await {
        tracing::warn!(error = %e, "cannot release the recovery lock; it expires by itself");
    }
}

/// Lossless recovery. `action_id` is the `wd_actions` row, kept with the phase.
pub async fn lossless(
    ctx: &Ctx,
    stop: &CancellationToken,
    action_id: Option<i64>,
) -> RecoveryReport {
    let lease = match lock(ctx).await {
        Ok(l) => l,
        Err(e) => return busy(e),
    };
    let r = lossless_locked(ctx, stop, action_id, &lease).await;
    release(lease).await;
    r
}

async fn lossless_locked(
    ctx: &Ctx,
    stop: &CancellationToken,
    action_id: Option<i64>,
    lease: &Lease,
) -> RecoveryReport {
    // What to restore, and how many to drain, before anything changes.
    let info = match ctx.tg.get_webhook_info().await {
        Ok(i) => i,
        Err(e) => {
            return RecoveryReport {
                errors: vec![format!(
                    "not started: getWebhookInfo: {}",
                    ctx.redact(&e.to_string())
                )],
                ..Default::default()
            };
        }
    };
    let mut st = RecoveryState {
        phase: Phase::Deleting,
        offset: None,
        drained: 0,
        replayed: 0,
        started_at: ctx.clock.now(),
        action_id,
        by: Runner::Watchdog,
        settings: Some(settings_to_restore(ctx, &info).await),
        drain_limit: Some(info.pending_update_count),
        holder: None,
    };
    // Without a record of the phase, an interruption could leave the webhook deleted: refuse.
    let refused = match lease.save_state(&st).await {
        Ok(true) => None,
        Ok(false) => Some("not started: lost the recovery lock".to_string()),
        Err(e) => Some(format!(
            "not started: cannot record the recovery phase: {e}"
        )),
    };
    if let Some(error) = refused {
        return RecoveryReport {
            errors: vec![error],
            ..Default::default()
        };
    }
    tracing::info!(
        pending = info.pending_update_count,
        "recovery: deleteWebhook (keeping pending updates)"
    );
    let mut error = ctx
        .tg
        .delete_webhook(false)
        .await
        .err()
        .map(|e| format!("deleteWebhook: {}", ctx.redact(&e.to_string())));
    if error.is_none() {
        error = drain(ctx, stop, &mut st, lease).await.err();
    }
    finish(ctx, lease, st, error, false).await
}

/// Finishes a recovery left in the store by an interrupted watchdog (or bot-server); `None`
/// when there is none, or when somebody else holds the lock (then it is theirs to finish).
pub async fn resume(ctx: &Ctx, stop: &CancellationToken) -> Option<RecoveryReport> {
    ctx.store.recovery().await.ok().flatten()?;
    let lease = match lock(ctx).await {
        Ok(l) => l,
        Err(e) => {
            tracing::info!(reason = %e, "a recovery is recorded in the store; not finishing it now");
            return None;
        }
    };
    // Read again under the lock: the holder may just have finished.
    let Some(mut st) = ctx.store.recovery().await.ok().flatten() else {
        release(lease).await;
        return None;
    };
    // Healed meanwhile (the bot's fallback polled what was pending and set its webhook again):
    // a fresh delete → drain → set on a healthy webhook would only disturb it. What the
    // interrupted drain took and did not confirm came back to the bot, which dedups.
    // (A record in the setting phase only sets the webhook with its settings: harmless.)
    if st.phase != Phase::Setting
        && let Ok(info) = ctx.tg.get_webhook_info().await
        && info.url == ctx.webhook_url_now().await
        && info.pending_update_count == 0
    {
        tracing::info!(phase = %st.phase, "a recovery left half done was healed meanwhile (the webhook is set, nothing is pending); clearing its record");
        if let Err(e) = lease.clear_state().await {
            tracing::warn!(error = %e, "cannot clear the finished recovery record");
        }
        release(lease).await;
        return Some(RecoveryReport {
            drained: st.drained,
            replayed: st.replayed,
            webhook_restored: true,
            pending_before: Some(0),
            resumed: true,
            ..Default::default()
        });
    }
    tracing::warn!(phase = %st.phase, offset = ?st.offset, by = st.by.as_str(), "finishing a recovery left half done");
    let mut error = None;
    if st.phase != Phase::Setting {
        // deleteWebhook may not have gone through before the interruption: do it (idempotent).
        error = ctx
            .tg
            .delete_webhook(false)
            .await
            .err()
            .map(|e| format!("deleteWebhook: {}", ctx.redact(&e.to_string())));
        if error.is_none() {
            error = drain(ctx, stop, &mut st, &lease).await.err();
        }
    }
    let r = finish(ctx, &lease, st, error, true).await;
    release(lease).await;
    Some(r)
}

/// Sets the webhook again, clears the phase on success, and reports.
async fn finish(
    ctx: &Ctx,
    lease: &Lease,
    mut st: RecoveryState,
    error: Option<String>,
    resumed: bool,
) -> RecoveryReport {
    st.phase = Phase::Setting;
    let _ = lease.save_state(&st).await;
    tracing::info!(
        drained = st.drained,
        replayed = st.replayed,
        "recovery: setWebhook again"
    );
    let settings = match st.settings.clone() {
        Some(s) => s,
        None => set::settings_for(ctx, ctx.webhook_url_now().await, None).await,
    };
    let set = set_webhook(ctx, &settings, false).await;
    let webhook_set = set.is_ok();
    let mut error = error;
    match set {
        Ok(()) => match lease.clear_state().await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "webhook set; the recovery lock was lost meanwhile, so its phase is left to its holder"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "webhook set, but the recovery phase could not be cleared")
            }
        },
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
        webhook_restored: webhook_set,
        resumed,
        errors: error.into_iter().collect(),
        ..Default::default()
    }
}

/// Drop mode: reads how many are pending and the settings, then sets the webhook again with
/// drop_pending_updates.
pub async fn drop_pending(ctx: &Ctx) -> RecoveryReport {
    let lease = match lock(ctx).await {
        Ok(l) => l,
        Err(e) => return busy(e),
    };
    let r = drop_locked(ctx).await;
    release(lease).await;
    r
}

async fn drop_locked(ctx: &Ctx) -> RecoveryReport {
    let info = match ctx.tg.get_webhook_info().await {
        Ok(i) => i,
        Err(e) => {
            return RecoveryReport {
                errors: vec![format!("getWebhookInfo: {}", ctx.redact(&e.to_string()))],
                ..Default::default()
            };
        }
    };
    let pending = info.pending_update_count;
    match set_webhook(ctx, &settings_to_restore(ctx, &info).await, true).await {
        Ok(()) => {
            tracing::warn!(dropped = pending, "drop mode: pending updates thrown away");
            RecoveryReport {
                dropped: pending,
                webhook_restored: true,
                ..Default::default()
            }
        }
        // Telegram's server clears the queue *before* it validates the URL: a refused
        // setWebhook(drop_pending_updates) may still have dropped them. What is gone is what
        // getWebhookInfo no longer shows; when it does not answer, say how many may be.
        Err(e) => {
            let error = format!("setWebhook: {}", ctx.redact(&e.to_string()));
            match ctx.tg.get_webhook_info().await {
                Ok(after) => {
                    let dropped = pending.saturating_sub(after.pending_update_count);
                    if dropped > 0 {
                        tracing::warn!(
                            dropped,
                            "drop mode: setWebhook failed, but Telegram threw the pending updates away first"
                        );
                    }
                    RecoveryReport {
                        dropped,
                        errors: vec![error],
                        ..Default::default()
                    }
                }
                Err(_) => RecoveryReport {
                    errors: vec![format!(
                        "{error}; up to {pending} pending update(s) may have been dropped (getWebhookInfo does not answer to tell)"
                    )],
                    ..Default::default()
                },
            }
        }
    }
}
