//! Failover where users deploy: `BOT_URL` unset (it is `PUBLIC_URL`, Render's blueprint sets no
//! other), the primary's front answering 502 while a backup is healthy: the webhook moves to
//! the backup instead of a restart, the primary is not restarted while failed over, and the
//! webhook moves back after `failback_after` of the primary answering through its front.

use crate::common;

use common::{HealthMode, World};
use watchdog::RunSet;
use watchdog::incident;
use watchdog::{ActionKind, ActionResult, Level};

fn liveness() -> RunSet {
    RunSet {
        liveness: true,
        ..RunSet::default()
    }
}

async fn with_backup(w: &mut World) -> common::Bot {
    let backup = common::start_bot(&w.sim).await;
    w.env
        .insert("TELBOT__WEBHOOK__BACKUP_URLS".into(), backup.url.clone());
    w.env
        .insert("TELBOT__WEBHOOK__FAILBACK_AFTER".into(), "60s".into());
    backup
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_front_down_fails_over_instead_of_restarting_and_fails_back() {
    let mut w = World::start().await;
    let backup = with_backup(&mut w).await;
    let wd = w.watchdog().await;
    w.bot.set_health(HealthMode::BadGateway);
    let out = wd.run_once(liveness()).await;
    let a = &out.report.actions;
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(
        (a[0].kind, a[0].result, a[0].incident),
        (
            ActionKind::Failover,
            ActionResult::Succeeded,
            incident::BOT_DOWN
        )
    );
    assert_eq!(
        w.sim.webhook_info()["url"],
        format!("{}/webhook", backup.url)
    );
    assert_eq!(
        out.report
            .finding(incident::WEBHOOK_FAILOVER)
            .unwrap()
            .level,
        Level::Critical
    );
    // Failed over: the primary behind its broken front is not restarted, and bot-down is
    // not a second page.
    for _ in 0..5 {
        w.clock.advance(30);
        let out = wd.run_once(liveness()).await;
        assert!(out.report.actions.is_empty(), "{:#?}", out.report.actions);
        let f = out.report.finding(incident::BOT_DOWN).unwrap();
        assert_eq!(f.level, Level::Warning, "{f:?}");
    }
    assert_eq!(w.platform.count(), 0, "restarted behind a failover");
    // The front heals: after failback_after of answering, the webhook moves back.
    w.bot.set_health(HealthMode::Ok);
    wd.run_once(liveness()).await;
    w.clock.advance(61);
    let out = wd.run_once(liveness()).await;
    assert!(
        out.report
            .actions
            .iter()
            .any(|a| a.kind == ActionKind::Failback && a.result == ActionResult::Succeeded),
        "{:#?}",
        out.report.actions
    );
    assert_eq!(
        w.sim.webhook_info()["url"],
        format!("{}/webhook", w.bot.url)
    );
    assert!(w.sim.dropped_updates().is_empty());
    assert_eq!(w.platform.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_url_that_bypasses_the_front_restarts_a_process_that_is_down() {
    let mut w = World::start().await;
    let _backup = with_backup(&mut w).await;
    // The same bot through another origin: the watchdog reaches the process, not the front.
    w.env.insert(
        "BOT_URL".into(),
        w.bot.url.replace("127.0.0.1", "localhost"),
    );
    let wd = w.watchdog().await;
    w.bot.set_health(HealthMode::Down);
    let out = wd.run_once(liveness()).await;
    let kinds: Vec<_> = out.report.actions.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [ActionKind::Restart]);
    assert_eq!(w.platform.count(), 1);
    assert_eq!(
        w.sim.webhook_info()["url"],
        format!("{}/webhook", w.bot.url),
        "the webhook stays with the primary"
    );
}
