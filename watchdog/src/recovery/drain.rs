//! The drain of a lossless recovery: getUpdates in batches, each [`super::replay`]ed to the bot,
//! and confirmed at Telegram (the next offset) only after the bot took it, on every exit.

use std::time::Duration;

use telbot_shared::recovery::{Lease, Phase};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::replay;
use crate::checks::Ctx;
use crate::store::RecoveryState;

/// getUpdates until empty or until `drain_limit` updates are drained, replaying each batch
/// before confirming it. Bounded by `max_batches` and `max_duration`; stops early (losing
/// nothing) on `stop`. Every exit confirms what was replayed (a getUpdates with the offset
/// past it): left unconfirmed, Telegram would deliver it to the webhook again after
/// setWebhook, and the bot would answer each with its stored reply a second time.
pub(super) async fn drain(
    ctx: &Ctx,
    stop: &CancellationToken,
    st: &mut RecoveryState,
    lease: &Lease,
) -> Result<(), String> {
    st.phase = Phase::Draining;
    let _ = lease.save_state(st).await;
    // The offset Telegram was last given: everything below it is confirmed.
    let mut confirmed = None;
    let r = drain_batches(ctx, stop, st, lease, &mut confirmed).await;
    if st.offset.is_some()
        && st.offset != confirmed
        && let Err(e) = ctx.tg.get_updates(st.offset, 1, Duration::ZERO, None).await
    {
        tracing::warn!(error = %ctx.redact(&e.to_string()), offset = ?st.offset, "cannot confirm the replayed updates; Telegram delivers them to the webhook again (the bot dedups them; their replies are recorded as carried)");
    }
    r
}

async fn drain_batches(
    ctx: &Ctx,
    stop: &CancellationToken,
    st: &mut RecoveryState,
    lease: &Lease,
    confirmed: &mut Option<i64>,
) -> Result<(), String> {
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
        if let Err(e) = lease.renew().await {
            return Err(format!("lost the recovery lock: {e}"));
        }
        let batch = ctx
            .tg
            .get_updates(st.offset, 100, Duration::ZERO, None)
            .await;
        let batch = match batch {
            Ok(b) => {
                *confirmed = st.offset;
                b
            }
            Err(e) => return Err(format!("getUpdates: {}", ctx.redact(&e.to_string()))),
        };
        if batch.is_empty() {
            return Ok(());
        }
        // At least what the first look returns, even if getWebhookInfo said fewer.
        let limit = st
            .drain_limit
            .map(|l| l.max(st.drained + batch.len() as u64));
        st.drain_limit = limit;
        let out = replay::batch(ctx, &batch).await;
        st.drained += batch.len() as u64;
        st.replayed += out.replayed;
        let max_id = batch.iter().filter_map(replay::update_id).max();
        match out.first_unreplayed {
            None => st.offset = max_id.map(|m| m + 1),
            Some(id) => {
                // Confirm only what is below the first update the bot did not take (the
                // caller confirms); the replies of those above it are recorded as carried.
                st.offset = Some(id);
                let _ = lease.save_state(st).await;
                return Err(out
                    .error
                    .unwrap_or_else(|| "the bot did not take an update".into()));
            }
        }
        let _ = lease.save_state(st).await;
        if limit.is_some_and(|l| st.drained >= l) {
            // Everything pending when the drain began is handed over; newer updates are
            // delivered by the webhook. The caller confirms the last batch.
            tracing::info!(
                drained = st.drained,
                "recovery: drained what was pending when it began"
            );
            return Ok(());
        }
    }
    Err(format!(
        "drain stopped after {} batches; Telegram delivers the rest",
        rc.max_batches
    ))
}
