//! The recovery sequence, written once for both daemons. The caller holds the recovery lock
//! ([`crate::lease::RECOVERY_LOCK`]); a [`Drain`] says where drained updates go (bot-server:
//! into its inbox; the watchdog: replayed to the bot's webhook) and how the webhook is set
//! again. The contract, whoever runs it:
//!
//! 1. getWebhookInfo: the pending count (how many to drain at most: newer updates are
//!    delivered by the webhook once it is back) and the settings to restore.
//! 2. The phase is recorded before anything changes; without that record an interruption
//!    could leave the webhook deleted, so the recovery refuses to start.
//! 3. deleteWebhook keeping the updates.
//! 4. getUpdates in batches; each batch handed to the drain, and confirmed at Telegram (the
//!    next offset) only once taken — up to the first update that was not. Every exit confirms
//!    what was taken, so Telegram does not deliver it again after setWebhook.
//! 5. setWebhook again, always, even after an error half way; then the phase is cleared.
//!
//! A process killed in between leaves the phase in the store; [`resume`] finishes the job.

use std::future::Future;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Phase, RecoveryReport, RecoveryState, Runner, WebhookSettings};
use crate::lease::Lease;
use crate::telegram::{TelegramClient, WebhookInfo};

/// Updates per getUpdates call (Telegram's maximum).
const BATCH: u32 = 100;

/// What handing one batch over achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Taken {
    /// Updates taken (stored new in the inbox, or answered 200 by the bot).
    pub taken: u64,
    /// Updates the inbox already had (bot-server's drain; they count as handed over).
    pub duplicates: u64,
    /// The lowest update_id not taken: it and everything after it stay at Telegram.
    pub first_untaken: Option<i64>,
    /// Why it was not taken.
    pub error: Option<String>,
}

/// What a daemon brings to a recovery.
pub trait Drain: Sync {
    /// Who runs it (stored with the phase).
    fn runner(&self) -> Runner;
    /// Unix seconds now (the daemon's clock).
    fn now(&self) -> i64;
    /// The settings to restore, read before deleteWebhook from what Telegram showed (`None`:
    /// the daemon's own registration at setWebhook time).
    fn settings_to_restore(
        &self,
        info: &WebhookInfo,
    ) -> impl Future<Output = Option<WebhookSettings>> + Send;
    /// Hands over one batch, in getUpdates order.
    fn take(&self, batch: &[Value]) -> impl Future<Output = Taken> + Send;
    /// Sets the webhook again (with `settings` when the phase recorded them); the error in
    /// words, saying what happens next.
    fn set_webhook(
        &self,
        settings: Option<&WebhookSettings>,
    ) -> impl Future<Output = Result<(), String>> + Send;
    /// `text` with every secret masked (Bot API errors may quote a URL).
    fn redact(&self, text: &str) -> String;
}

/// How long a drain may go on; it stops early (losing nothing: Telegram keeps the rest and
/// delivers it to the webhook) at either bound or at `stop`.
#[derive(Debug, Clone)]
pub struct Bounds {
    /// getUpdates calls at most.
    pub max_batches: usize,
    /// Wall time at most.
    pub max_duration: Duration,
    /// A shutdown.
    pub stop: CancellationToken,
}

/// A lossless recovery by the holder of `lease`; `action_id` is kept with the phase (the
/// watchdog's `wd_actions` row).
pub async fn lossless<D: Drain>(
    api: &TelegramClient,
    lease: &Lease,
    d: &D,
    bounds: &Bounds,
    action_id: Option<i64>,
) -> RecoveryReport {
    let info = match api.get_webhook_info().await {
        Ok(i) => i,
        Err(e) => {
            let why = format!("not started: getWebhookInfo: {}", d.redact(&e.to_string()));
            return refused(why, None);
        }
    };
    let pending = info.pending_update_count;
    let st = RecoveryState {
        phase: Phase::Deleting,
        offset: None,
        drained: 0,
        replayed: 0,
        started_at: d.now(),
        action_id,
        by: d.runner(),
        settings: d.settings_to_restore(&info).await,
        drain_limit: Some(pending),
        holder: None,
    };
    match lease.save_state(&st).await {
        Ok(true) => {}
        Ok(false) => return refused("not started: lost the recovery lock".into(), Some(pending)),
        Err(e) => {
            let why = format!("not started: cannot record the recovery phase: {e}");
            return refused(why, Some(pending));
        }
    }
    tracing::info!(
        pending,
        by = d.runner().as_str(),
        "recovery: deleteWebhook (keeping pending updates)"
    );
    let mut r = delete_drain_set(api, lease, d, bounds, st, false).await;
    r.pending_before = Some(pending);
    r
}

/// Finishes `st`, a recovery an interrupted process left in the store, under `lease`: from
/// deleteWebhook again (idempotent: it may not have gone through) unless it was setting.
pub async fn resume<D: Drain>(
    api: &TelegramClient,
    lease: &Lease,
    d: &D,
    bounds: &Bounds,
    st: RecoveryState,
) -> RecoveryReport {
    tracing::warn!(phase = %st.phase, offset = ?st.offset, by = st.by.as_str(), "finishing a recovery left half done");
    delete_drain_set(api, lease, d, bounds, st, true).await
}

async fn delete_drain_set<D: Drain>(
    api: &TelegramClient,
    lease: &Lease,
    d: &D,
    bounds: &Bounds,
    mut st: RecoveryState,
    resumed: bool,
) -> RecoveryReport {
    let mut duplicates = 0;
    let mut error = None;
    if st.phase != Phase::Setting {
        error = match api.delete_webhook(false).await {
            Err(e) => Some(format!("deleteWebhook: {}", d.redact(&e.to_string()))),
            Ok(_) => drain(api, lease, d, bounds, &mut st, &mut duplicates)
                .await
                .err(),
        };
    }
    let mut r = finish(lease, d, st, error, resumed).await;
    r.duplicates = duplicates;
    r
}

fn refused(why: String, pending_before: Option<u64>) -> RecoveryReport {
    RecoveryReport {
        errors: vec![why],
        pending_before,
        ..Default::default()
    }
}

/// getUpdates until empty, or until `drain_limit` updates are drained, handing each batch
/// over before confirming it; then confirms what was taken, on every exit.
async fn drain<D: Drain>(
    api: &TelegramClient,
    lease: &Lease,
    d: &D,
    bounds: &Bounds,
    st: &mut RecoveryState,
    duplicates: &mut u64,
) -> Result<(), String> {
    st.phase = Phase::Draining;
    let _ = lease.save_state(st).await;
    // The offset Telegram was last given: everything below it is confirmed.
    let mut confirmed = None;
    let r = batches(api, lease, d, bounds, st, duplicates, &mut confirmed).await;
    if st.offset.is_some()
        && st.offset != confirmed
        && let Err(e) = api.get_updates(st.offset, 1, Duration::ZERO, None).await
    {
        tracing::warn!(error = %d.redact(&e.to_string()), offset = ?st.offset, "cannot confirm the updates taken; Telegram delivers them to the webhook again (the bot dedups them; their replies are recorded as carried)");
    }
    r
}

async fn batches<D: Drain>(
    api: &TelegramClient,
    lease: &Lease,
    d: &D,
    bounds: &Bounds,
    st: &mut RecoveryState,
    duplicates: &mut u64,
    confirmed: &mut Option<i64>,
) -> Result<(), String> {
    let deadline = Instant::now() + bounds.max_duration;
    for _ in 0..bounds.max_batches {
        if bounds.stop.is_cancelled() {
            return Err(
                "stopped (shutdown) before the queue was empty; Telegram delivers the rest".into(),
            );
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "drain stopped after {:?}; Telegram delivers the rest",
                bounds.max_duration
            ));
        }
        if let Err(e) = lease.renew().await {
            return Err(format!("lost the recovery lock: {e}"));
        }
        let batch = match api
            .get_updates(st.offset, BATCH, Duration::ZERO, None)
            .await
        {
            Ok(b) => {
                *confirmed = st.offset;
                b
            }
            Err(e) => return Err(format!("getUpdates: {}", d.redact(&e.to_string()))),
        };
        if batch.is_empty() {
            return Ok(());
        }
        // At least what the first look returns, even if getWebhookInfo said fewer.
        let limit = st
            .drain_limit
            .map(|l| l.max(st.drained + batch.len() as u64));
        st.drain_limit = limit;
        let out = d.take(&batch).await;
        st.drained += batch.len() as u64;
        st.replayed += out.taken;
        *duplicates += out.duplicates;
        if let Some(id) = out.first_untaken {
            // Confirm only what is below the first update not taken (the caller confirms).
            st.offset = Some(id);
            let _ = lease.save_state(st).await;
            return Err(out
                .error
                .unwrap_or_else(|| "an update was not taken".into()));
        }
        st.offset = batch.iter().filter_map(update_id).max().map(|m| m + 1);
        let _ = lease.save_state(st).await;
        if limit.is_some_and(|l| st.drained >= l) {
            // Everything pending when the drain began is handed over; newer updates are
            // delivered by the webhook.
            tracing::info!(
                drained = st.drained,
                "recovery: drained what was pending when it began"
            );
            return Ok(());
        }
    }
    Err(format!(
        "drain stopped after {} batches; Telegram delivers the rest",
        bounds.max_batches
    ))
}

/// Sets the webhook again, clears the phase on success, and reports.
async fn finish<D: Drain>(
    lease: &Lease,
    d: &D,
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
    let set = d.set_webhook(st.settings.as_ref()).await;
    let webhook_restored = set.is_ok();
    let mut errors: Vec<String> = error.into_iter().collect();
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
        Err(e) => errors.push(format!("setWebhook: {e}")),
    }
    RecoveryReport {
        drained: st.drained,
        replayed: st.replayed,
        webhook_restored,
        resumed,
        errors,
        ..Default::default()
    }
}

/// An update's id, if it has one.
pub fn update_id(update: &Value) -> Option<i64> {
    update.get("update_id").and_then(Value::as_i64)
}
