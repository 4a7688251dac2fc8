//! Lossless webhook recovery, in-process (`POST /webhook/recover`, the dashboard's Emergency
//! recovery button): take the one recovery lock in the store (shared with the watchdog) →
//! record the phase → deleteWebhook without dropping → getUpdates until empty (or until as
//! many updates as were pending are stored: newer ones come by the webhook), each update
//! stored in the inbox (dedup by update_id; a duplicate's stored reply that no answer carried
//! is sent, see `crate::inbox::reply::carry_stored`) before its offset is confirmed → setWebhook
//! again, always, even after an error half way → clear the phase and release the lock.
//!
//! It runs in a spawned task ([`start`]), so a dropped request cannot cancel it half way; the
//! route waits for it a bounded time. A shutdown stops the drain and waits (within the grace
//! period) for the webhook to be set again. If the final setWebhook fails, the phase stays in the
//! store and the bot's webhook watch (see [`crate::mode`]) polls until the webhook is back.

use std::time::Duration;

use telbot_shared::recovery::{
    LEASE_TTL, Lease, LockError, Phase, RecoveryReport, RecoveryState, Runner, owner_name,
};
use tokio::task::JoinHandle;

use crate::config::Mode;
use crate::inbox::reply::carry_stored;
use crate::inbox::{NewUpdate, Stored, key};
use crate::registration::register_webhook;
use crate::state::AppState;

/// Rounds of getUpdates at most (100 updates each), so a recovery always ends.
const MAX_ROUNDS: usize = 1000;

/// How long `POST /webhook/recover` waits for the report before answering 202 (the recovery
/// goes on in the background either way).
pub const REQUEST_WAIT: Duration = Duration::from_secs(60);

/// Takes the recovery lock and runs a recovery in its own task; `Err` says who holds the lock.
pub async fn start(app: &AppState) -> Result<JoinHandle<RecoveryReport>, LockError> {
    let lease = Lease::acquire(&app.db, &owner_name(Runner::BotServer.as_str()), LEASE_TTL).await?;
    let app = app.clone();
    let tracker = app.recoveries.clone();
    Ok(tracker.spawn(async move {
        let report = recover(&app, &lease).await;
        if let Err(e) = lease.release().await {
            tracing::warn!(error = %e, "cannot release the recovery lock; it expires by itself");
        }
        report
    }))
}

/// Runs a recovery. The caller holds `lease`.
pub async fn recover(app: &AppState, lease: &Lease) -> RecoveryReport {
    let mut report = RecoveryReport::default();
    match app.api.get_webhook_info().await {
        Ok(info) => report.pending_before = Some(info.pending_update_count),
        Err(e) => {
            report
                .errors
                .push(format!("not started: getWebhookInfo: {e}"));
            return report;
        }
    }
    let mut st = RecoveryState {
        phase: Phase::Deleting,
        offset: None,
        drained: 0,
        replayed: 0,
        started_at: telbot_shared::unix_now(),
        action_id: None,
        by: Runner::BotServer,
        settings: None,
        drain_limit: report.pending_before,
        holder: None,
    };
    // Without a record of the phase, an interruption could leave the webhook deleted: refuse.
    match lease.save_state(&st).await {
        Ok(true) => {}
        Ok(false) => {
            report
                .errors
                .push("not started: lost the recovery lock".to_string());
            return report;
        }
        Err(e) => {
            report.errors.push(format!(
                "not started: cannot record the recovery phase: {e}"
            ));
            return report;
        }
    }
    match app.api.delete_webhook(false).await {
        Ok(_) => {
            st.phase = Phase::Draining;
            let _ = lease.save_state(&st).await;
            drain(app, lease, &mut st, &mut report).await;
        }
        Err(e) => report.errors.push(format!("deleteWebhook: {e}")),
    }
    st.phase = Phase::Setting;
    let _ = lease.save_state(&st).await;
    match register_webhook(app).await {
        Ok(()) => {
            report.webhook_restored = true;
            app.mode.set(Mode::Webhook);
            match lease.clear_state().await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    "webhook set; the recovery lock was lost meanwhile, so its phase is left to its holder"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "webhook set, but the recovery phase could not be cleared")
                }
            }
        }
        Err(e) => report.errors.push(format!(
            "setWebhook: {e} (the bot polls until the webhook is back)"
        )),
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

async fn drain(app: &AppState, lease: &Lease, st: &mut RecoveryState, report: &mut RecoveryReport) {
    let mut offset: Option<i64> = None;
    for _ in 0..MAX_ROUNDS {
        if app.shutdown.is_cancelled() {
            report.errors.push(
                "stopped draining for a shutdown; Telegram delivers the rest to the webhook".into(),
            );
            confirm(app, offset, report).await;
            return;
        }
        if let Err(e) = lease.renew().await {
            report.errors.push(format!("lost the recovery lock: {e}"));
            return;
        }
        let batch = match app.api.get_updates(offset, 100, Duration::ZERO, None).await {
            Ok(b) => b,
            Err(e) => {
                report.errors.push(format!("getUpdates: {e}"));
                return;
            }
        };
        let limit = st
            .drain_limit
            .map(|l| l.max(report.drained + batch.len() as u64));
        st.drain_limit = limit;
        if batch.is_empty() {
            confirm(app, offset, report).await;
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
                Ok(Stored::Duplicate) => {
                    report.duplicates += 1;
                    // Its stored reply, if no answer carried it, goes out once as a request.
                    if let Err(e) = carry_stored(&app.db, &app.api, id).await {
                        // Not confirmed: the webhook's redelivery answers the stored reply.
                        report.errors.push(format!("update {id}: {e}"));
                        confirm(app, offset, report).await;
                        return;
                    }
                }
                Err(e) => {
                    // Not confirmed: Telegram keeps it and delivers it to the webhook later.
                    report.errors.push(format!("store: {e}"));
                    confirm(app, offset, report).await;
                    return;
                }
            }
            report.drained += 1;
            offset = Some(id + 1);
        }
        st.offset = offset;
        st.drained = report.drained;
        st.replayed = report.replayed;
        let _ = lease.save_state(st).await;
        if limit.is_some_and(|l| report.drained >= l) {
            // Everything pending when the drain began is stored; the webhook delivers the rest.
            confirm(app, offset, report).await;
            return;
        }
    }
}

/// Confirms everything below `offset` (stored) so Telegram forgets it.
async fn confirm(app: &AppState, offset: Option<i64>, report: &mut RecoveryReport) {
    if offset.is_some()
        && let Err(e) = app.api.get_updates(offset, 1, Duration::ZERO, None).await
    {
        report.errors.push(format!("getUpdates (confirm): {e}"));
    }
}
