//! Every 2 s: the store's health check, the count of open dialogues (`/health`'s
//! `pending_actions`), and now and then the pruning of old finished updates.

use std::sync::atomic::Ordering;

use tokio_util::sync::CancellationToken;

use crate::inbox;
use crate::state::AppState;

/// Runs until `stop`.
pub(crate) async fn run(app: AppState, stop: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        n += 1;
        let up = app.db.ping(app.cfg.store.acquire_timeout).await.is_ok();
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
        if n % 300 == 1 {
            let before = telbot_shared::unix_now() - app.cfg.inbox.keep_done.as_secs() as i64;
            match inbox::sql::prune_done(&app.db, before).await {
                Ok(0) | Err(_) => {}
                Ok(k) => tracing::info!(removed = k, "pruned old finished updates"),
            }
        }
    }
}
