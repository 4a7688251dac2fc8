//! Edges of the recovery and of the check deadline: a refused drop still reports what
//! Telegram dropped, a half-done recovery healed meanwhile is cleared rather than run again,
//! a hung integration probe ends at the run's deadline.

use crate::common;

use std::time::Duration;

use common::World;
use telegram_sim::{Upd, WebhookFault};
use watchdog::RunSet;
use watchdog::incident;
use watchdog::{ActionKind, ActionResult, Level};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_drop_still_reports_what_telegram_dropped_before_refusing() {
    let mut w = World::start().await;
    // A URL Telegram refuses (port 1234): it clears the queue first, then refuses the URL.
    w.env
        .insert("PUBLIC_URL".into(), "https://bot.example:1234".into());
    w.env.insert("BOT_URL".into(), w.bot.url.clone());
    let wd = w.watchdog().await;
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..4 {
        w.sim.inject(Upd::text(3, format!("{i}")));
    }
    let out = wd.recover(true).await;
    let a = &out.report.actions[0];
    assert_eq!(
        (a.kind, a.result),
        (ActionKind::DropPending, ActionResult::Failed),
        "{a:#?}"
    );
    assert_eq!(w.sim.pending_update_count(), 0, "the sim dropped them");
    assert_eq!(a.detail.dropped, Some(4), "{}", a.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_recovery_healed_meanwhile_is_cleared_not_run_again() {
    let w = World::start().await;
    w.interrupted_recovery(6, 4).await;
    // The bot's own fallback heals it: its webhook is set again and everything delivered.
    w.sim.heal_webhook();
    common::register_webhook(&w.sim, &w.bot).await;
    w.wait("nothing pending", |s| s.pending_update_count() == 0)
        .await;
    let deletes = w.calls_to("deleteWebhook");
    let sets = w.calls_to("setWebhook");
    let db = w.watchdog().await.ctx().store.db().clone();
    let wd2 = w.watchdog().await;
    let out = wd2.check().await;
    let f = out
        .report
        .finding(incident::RECOVERY_INTERRUPTED)
        .expect("the record is dealt with");
    assert!(f.repaired, "{f:?}");
    assert_eq!(
        (w.calls_to("deleteWebhook"), w.calls_to("setWebhook")),
        (deletes, sets),
        "a healed webhook was deleted and set again"
    );
    assert!(
        telbot_shared::recovery::load_state(&db)
            .await
            .unwrap()
            .is_none()
    );
    assert!(w.sim.dropped_updates().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_integration_probe_ends_at_the_timeout_as_a_critical_check_timeout() {
    let mut w = World::start().await;
    w.env
        .insert("TELBOT__WATCHDOG__CHECK_TIMEOUT".into(), "1s".into());
    w.env
        .insert("TELBOT__WATCHDOG__HTTP_TIMEOUT".into(), "5s".into());
    w.bot.set_webhook_delay(Duration::from_secs(4));
    let wd = w.watchdog().await;
    let out = wd.run_once(RunSet::all()).await;
    let f = out.report.finding(incident::CHECK_TIMEOUT).unwrap();
    assert_eq!(f.level, Level::Critical, "{f:?}");
    assert!(f.reason.contains("the integration probes"), "{}", f.reason);
}
