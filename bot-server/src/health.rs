//! The bot's health figures, read by `GET /health`, `GET /webhook/health` and the dashboard:
//! the `/health` document ([`snapshot`]) and what the bot expects of its webhook now
//! ([`expectation`]).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use telbot_shared::health::{CheckStatus, Health, ProcessStats, Status, SystemStats};
use tokio::time::Instant;

use crate::config::Mode;
use crate::state::AppState;
use crate::webhook_health::Expectation;

/// The `/health` document now.
pub(crate) async fn snapshot(app: &AppState) -> Health {
    let now = telbot_shared::unix_now();
    let mut checks = BTreeMap::new();
    let store_up = app.store_up.load(Ordering::Relaxed);
    // A store that answers its ping can still refuse every write (a full disk): the inbox
    // writer's commits count too.
    let (store_status, store_detail) = if store_up {
        app.counters.commits.status(Instant::now())
    } else {
        (
            Status::Down,
            Some("the store does not answer; webhook calls get 503".to_string()),
        )
    };
    checks.insert(
        "store".to_string(),
        CheckStatus {
            status: store_status,
            detail: store_detail,
            circuit: None,
        },
    );
    // The program's own checks (e.g. the reference bot's `openai`); a check answering `None`
    // is left out (a service that is not configured).
    for (name, check) in &app.health_checks {
        if let Some(c) = check() {
            checks.insert(name.clone(), c);
        }
    }
    let live = app.mode.get();
    let fell_back = app.cfg.mode == Mode::Webhook && live == Mode::Polling;
    checks.insert(
        "webhook".to_string(),
        CheckStatus {
            status: if fell_back {
                Status::Degraded
            } else {
                Status::Ok
            },
            detail: fell_back
                .then(|| "setWebhook failed; polling until the webhook can be restored".into()),
            circuit: None,
        },
    );
    let f = &app.figures;
    let over = f.over_limit.load(Ordering::Relaxed);
    let status = if store_status == Status::Down || over {
        Status::Down
    } else if checks.values().any(|c| c.status != Status::Ok) {
        Status::Degraded
    } else {
        Status::Ok
    };
    Health {
        status,
        version: telbot_shared::VERSION.to_string(),
        uptime_s: app.started.elapsed().as_secs(),
        mode: live.as_str().to_string(),
        checks,
        process: ProcessStats {
            rss_bytes: f.rss_bytes.load(Ordering::Relaxed),
            cpu_percent: f.cpu_percent(),
            rss_limit_bytes: app.cfg.limits.rss_limit_mb * 1024 * 1024,
        },
        system: SystemStats {
            memory_percent: f.memory_percent(),
            disk_percent: f.disk_percent(),
            warnings: f.warnings(),
        },
        updates: app.counters.snapshot(),
        pending_actions: app.open_dialogues.load(Ordering::Relaxed),
        jobs: app.jobs.snapshot(now),
        hour: app.counters.hour.figures(now),
    }
}

/// What this bot expects of its webhook now.
pub(crate) fn expectation(app: &AppState) -> Expectation {
    Expectation {
        url: app.cfg.webhook.url.as_ref().map(|u| u.to_string()),
        mode: app.mode.get(),
        max_pending: app.cfg.webhook.max_pending,
        error_window: app.cfg.webhook.error_window,
    }
}
