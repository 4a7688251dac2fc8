//! Webhook repairs, losing nothing. Each takes the one recovery lock in the store first
//! (`telbot_shared::lease::Lease`, shared with bot-server's `POST /webhook/recover`); the
//! loser reports "a recovery is already running (owner …)" and changes nothing.
//!
//! - [`set_webhook`]: the expected URL, secret, allowed_updates and max_connections.
//! - [`lossless`]: the sequence both daemons share ([`telbot_shared::recovery::run`]) with the
//!   watchdog's drain: each batch [`replay`]ed to the bot and confirmed only after the bot
//!   answered 200, and the webhook set again with the settings Telegram showed before (the
//!   secret from the config). Whatever happens in between (a Bot API error, the bot refusing,
//!   the deadline, SIGTERM) the webhook is set again; a hard kill leaves the phase in the
//!   store and [`resume`] finishes the job on the next start/run.
//! - [`drop_pending`]: the explicit drop mode, reporting how many updates it threw away.

pub(crate) mod replay;
mod set;

pub(crate) use set::{
    SetError, set_webhook, set_webhook_locked, settings_for, settings_to_restore,
};

use serde_json::Value;
use telbot_shared::lease::{LEASE_TTL, Lease, LockError, owner_name};
pub(crate) use telbot_shared::recovery::RecoveryReport;
use telbot_shared::recovery::run::{self, Bounds, Drain, Taken};
use telbot_shared::recovery::{Phase, Runner, WebhookSettings};
use telbot_shared::telegram::WebhookInfo;
use tokio_util::sync::CancellationToken;

use crate::context::Ctx;

/// Takes the one recovery lock, or says who holds it.
pub(crate) async fn lock(ctx: &Ctx) -> Result<Lease, String> {
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
pub(crate) async fn lossless(
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
    run::lossless(
        &ctx.tg,
        lease,
        &ToBot { ctx },
        &bounds(ctx, stop),
        action_id,
    )
    .await
}

fn bounds(ctx: &Ctx, stop: &CancellationToken) -> Bounds {
    Bounds {
        max_batches: ctx.cfg.recovery.max_batches as usize,
        max_duration: ctx.cfg.recovery.max_duration,
        stop: stop.clone(),
    }
}

/// The watchdog's drain: each batch replayed to the bot's webhook ([`replay`]).
struct ToBot<'a> {
    ctx: &'a Ctx,
}

impl Drain for ToBot<'_> {
    fn runner(&self) -> Runner {
        Runner::Watchdog
    }

    fn now(&self) -> i64 {
        self.ctx.clock.now()
    }

    async fn settings_to_restore(&self, info: &WebhookInfo) -> Option<WebhookSettings> {
        Some(settings_to_restore(self.ctx, info).await)
    }

    async fn take(&self, batch: &[Value]) -> Taken {
        let out = replay::batch(self.ctx, batch).await;
        Taken {
            taken: out.replayed,
            duplicates: 0,
            first_untaken: out.first_unreplayed,
            error: out.error,
        }
    }

    async fn set_webhook(&self, settings: Option<&WebhookSettings>) -> Result<(), String> {
        let ctx = self.ctx;
        let settings = match settings {
            Some(s) => s.clone(),
            // Records written by older builds carry no settings: the config's then.
            None => set::settings_for(ctx, ctx.webhook_url_now().await, None).await,
        };
        set_webhook(ctx, &settings, false)
            .await
            .map_err(|e| format!("{} (the next run tries again)", ctx.redact(&e.to_string())))
    }

    fn redact(&self, text: &str) -> String {
        self.ctx.redact(text)
    }
}

/// Finishes a recovery left in the store by an interrupted watchdog (or bot-server); `None`
/// when there is none, or when somebody else holds the lock (then it is theirs to finish).
pub(crate) async fn resume(ctx: &Ctx, stop: &CancellationToken) -> Option<RecoveryReport> {
    ctx.store.recovery().await.ok().flatten()?;
    let lease = match lock(ctx).await {
        Ok(l) => l,
        Err(e) => {
            tracing::info!(reason = %e, "a recovery is recorded in the store; not finishing it now");
            return None;
        }
    };
    // Read again under the lock: the holder may just have finished.
    let Some(st) = ctx.store.recovery().await.ok().flatten() else {
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
    let r = run::resume(&ctx.tg, &lease, &ToBot { ctx }, &bounds(ctx, stop), st).await;
    release(lease).await;
    Some(r)
}

/// Drop mode: reads how many are pending and the settings, then sets the webhook again with
/// drop_pending_updates.
pub(crate) async fn drop_pending(ctx: &Ctx) -> RecoveryReport {
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
