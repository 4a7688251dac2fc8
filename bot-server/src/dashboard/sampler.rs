//! The dashboard's sampler task: one [`Sample`] of the live state per
//! `dashboard.history_interval` into the one-hour ring the charts are drawn from.

use std::sync::atomic::Ordering;

use tokio_util::sync::CancellationToken;

use crate::recent::history::{Sample, now_unix};
use crate::state::AppState;

/// Takes one sample from the live state.
pub(crate) async fn sample(app: &AppState) -> Sample {
    let c = &app.counters;
    let (p50, p99) = app
        .acks
        .percentiles()
        .map_or((None, None), |(a, b)| (Some(a), Some(b)));
    let telegram_pending = if app.cfg.server.admin_token.is_some() {
        let exp = crate::health::expectation(app);
        let (v, _) = app
            .webhook_health
            .get(&app.api, &exp, app.cfg.webhook.health_cache)
            .await;
        v["webhook_info"]["pending_update_count"]
            .as_u64()
            .map(|n| n as f64)
    } else {
        None
    };
    Sample {
        at: now_unix(),
        ack_p50_ms: p50,
        ack_p99_ms: p99,
        success_percent: None,
        telegram_pending,
        inbox_depth: c.depth.load(Ordering::Relaxed) as f64,
        acks_total: app.acks.total(),
        processed: c.processed.load(Ordering::Relaxed),
        failed: c.failed.load(Ordering::Relaxed),
    }
}

/// The sampler: one sample per interval until `stop`. The first one is taken after one
/// interval, so a short-lived process asks Telegram nothing on its behalf. Without an admin
/// token nobody can see the dashboard, so Telegram is not asked at all then.
pub(crate) async fn run(app: AppState, stop: CancellationToken) {
    let every = app.cfg.dashboard.history_interval;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let s = tokio::select! {
            s = sample(&app) => s,
            _ = stop.cancelled() => return,
        };
        app.history.push(s);
    }
}
