//! Every 2 s: the store's health check, the count of open dialogues (`/health`'s
//! `pending_actions`), and every 10 min the pruning of old finished updates; each recorded
//! in the jobs' ledger ([`crate::jobs`]).

use std::sync::atomic::Ordering;

use tokio_util::sync::CancellationToken;

use crate::state::AppState;
use crate::{inbox, jobs};

/// The housekeeping tick.
const TICK: std::time::Duration = std::time::Duration::from_secs(2);
/// The prune runs every this many ticks (10 min).
const PRUNE_EVERY: u64 = 300;

/// Runs until `stop`.
pub(crate) async fn run(app: AppState, stop: CancellationToken) {
    app.jobs.register(jobs::STORE_PING, TICK);
    app.jobs.register(
        jobs::INBOX_PRUNE,
        TICK * u32::try_from(PRUNE_EVERY).unwrap_or(300),
    );
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        n += 1;
        let ping = app.db.ping(app.cfg.store.acquire_timeout).await;
        let up = ping.is_ok();
        match ping {
            Ok(()) => app.jobs.ran(jobs::STORE_PING, telbot_shared::unix_now(), 0),
            Err(e) => app.jobs.failed(jobs::STORE_PING, e.to_string()),
        }
        if up != app.store_up.swap(up, Ordering::Relaxed) {
            if up {
                tracing::info!("store is back");
            } else {
                tracing::error!("store does not answer; webhook calls get 503 until it is back");
            }
        }
        if let Ok(c) = app.dialogues.count().await {
            app.open_dialogues.store(c, Ordering::Relaxed);
        }
        if n % PRUNE_EVERY == 1 {
            let now = telbot_shared::unix_now();
            let before = now - app.cfg.inbox.keep_done.as_secs() as i64;
            match inbox::sql::prune_done(&app.db, before).await {
                Ok(k) => {
                    if k > 0 {
                        tracing::info!(removed = k, "pruned old finished updates");
                    }
                    app.jobs.ran(jobs::INBOX_PRUNE, now, k);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot prune old finished updates");
                    app.jobs.failed(jobs::INBOX_PRUNE, e.to_string());
                }
            }
        }
    }
}
