//! Each rule fires on its fault and only on it, against telegram-sim and a stand-in bot.

use crate::common;

use std::time::Duration;

use common::{HealthMode, World};
use telegram_sim::{ApiFault, Upd, WebhookFault};
use watchdog::RunSet;
use watchdog::incident;
use watchdog::{ActionKind, ActionResult, Level};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_system_gets_zero_actions_over_100_checks() {
    let w = World::start().await;
    let wd = w.watchdog().await;
    let set_before = w.calls_to("setWebhook");
    for i in 0..100 {
        if i % 10 == 0 {
            w.sim.inject(Upd::text(7, format!("hi {i}")));
        }
        let set = if i % 10 == 0 {
            RunSet::all()
        } else {
            RunSet {
                liveness: true,
                ..Default::default()
            }
        };
        let out = wd.run_once(set).await;
        assert!(
            out.report.actions.is_empty(),
            "run {i}: {:#?}",
            out.report.actions
        );
        assert_eq!(
            out.report.level(),
            Level::Ok,
            "run {i}: {:#?}",
            out.report.problems().collect::<Vec<_>>()
        );
        w.clock.advance(30);
    }
    assert_eq!(w.calls_to("setWebhook"), set_before);
    assert_eq!(w.calls_to("deleteWebhook"), 0);
    assert_eq!(w.calls_to("getUpdates"), 0);
    assert_eq!(w.platform.count(), 0);
    w.wait("the 10 replies", |s| s.sent_messages().len() == 10)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_url_is_fixed_without_touching_pending_updates() {
    let w = World::start().await;
    let wd = w.watchdog().await;
    w.sim
        .set_webhook_url_behind_back("http://127.0.0.1:9/elsewhere");
    for i in 0..3 {
        w.sim.inject(Upd::text(42, format!("m{i}")));
    }
    let out = wd.check().await;
    let a = &out.report.actions;
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(
        (a[0].kind, a[0].result),
        (ActionKind::SetWebhook, ActionResult::Succeeded)
    );
    assert_eq!(out.report.level(), Level::Warning);
    let f = out.report.finding(incident::WEBHOOK_WRONG_URL).unwrap();
    assert!(f.repaired && f.reason.contains("elsewhere"), "{f:?}");
    let set = w.sim.calls_to("setWebhook").pop().unwrap();
    assert_eq!(set.params["url"], format!("{}/webhook", w.bot.url));
    assert_eq!(set.params["secret_token"], common::SECRET);
    assert_eq!(set.params["max_connections"], 40);
    assert_ne!(set.params["drop_pending_updates"], true);
    assert_eq!(
        w.calls_to("deleteWebhook"),
        0,
        "pending updates must not be touched"
    );
    assert_eq!(w.calls_to("getUpdates"), 0);
    // The three waiting updates reach the bot through the repaired webhook.
    w.wait("3 replies", |s| s.sent_messages().len() == 3).await;
    assert!(w.sim.dropped_updates().is_empty());
}

/// The numbers the stand-in bot echoed to `chat`, in the order the sim received them.
fn echoed(w: &World, chat: i64) -> Vec<i64> {
    w.sim
        .sent_messages()
        .iter()
        .filter(|m| m.chat_id == chat)
        .map(|m| m.text.trim_start_matches("echo: ").parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_in_the_bots_answer_to_a_replayed_update_is_executed() {
    let w = World::start().await;
    w.bot.reply_in_answer();
    let wd = w.watchdog().await;
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..10 {
        w.sim.inject(Upd::text(200 + (i % 2), format!("{i}")));
    }
    w.wait("a delivery error", |s| {
        s.webhook_info()["last_error_message"].as_str().is_some()
    })
    .await;
    let out = wd.check().await;
    let a = &out.report.actions;
    assert_eq!(
        (a[0].kind, a[0].result),
        (ActionKind::LosslessRecovery, ActionResult::Succeeded),
        "{a:#?}"
    );
    assert_eq!(a[0].detail.replayed, Some(10));
    // As Telegram runs a webhook's answer: each reply reached the chat, in order.
    w.wait("10 replies", |s| s.sent_messages().len() == 10)
        .await;
    for chat in 200..202 {
        let texts = echoed(&w, chat);
        assert_eq!(texts.len(), 5);
        assert!(texts.is_sorted(), "chat {chat}: {texts:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_updates_stuck_behind_500_are_replayed_losslessly() {
    let w = World::start().await;
    let wd = w.watchdog().await;
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..50 {
        w.sim.inject(Upd::text(100 + (i % 5), format!("{i}")));
    }
    w.wait("a delivery error", |s| {
        s.webhook_info()["last_error_message"]
            .as_str()
            .is_some_and(|m| {
                m.contains("Wrong response from the webhook: 500 Internal Server Error")
            })
    })
    .await;
    let out = wd.check().await;
    let a = &out.report.actions;
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(
        (a[0].kind, a[0].result),
        (ActionKind::LosslessRecovery, ActionResult::Succeeded),
        "{a:#?}"
    );
    assert_eq!(a[0].detail.drained, Some(50), "{}", a[0].detail);
    assert_eq!(a[0].detail.replayed, Some(50));
    assert_eq!(a[0].detail.dropped, Some(0));
    assert_eq!(out.report.level(), Level::Warning);
    w.wait("50 replies", |s| s.sent_messages().len() == 50)
        .await;
    assert!(w.sim.dropped_updates().is_empty());
    assert_eq!(w.sim.pending_update_count(), 0);
    // delete (keeping updates) came before the final setWebhook, which points at the bot.
    let del = w.sim.calls_to("deleteWebhook");
    assert_eq!(del.len(), 1);
    assert_ne!(del[0].params["drop_pending_updates"], true);
    let set = w.sim.calls_to("setWebhook").pop().unwrap();
    assert!(set.at >= del[0].at);
    assert_eq!(
        w.sim.webhook_info()["url"],
        format!("{}/webhook", w.bot.url)
    );
    // Per chat, replies come in the order the messages were sent.
    for chat in 100..105 {
        let texts = echoed(&w, chat);
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(texts, sorted, "chat {chat}");
        assert_eq!(texts.len(), 10);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_down_restarts_once_per_cooldown_never_touches_the_webhook_and_caps_hold() {
    let w = World::start().await;
    let wd = w.watchdog().await;
    w.bot.set_health(HealthMode::Down);
    let (set0, del0) = (w.calls_to("setWebhook"), w.calls_to("deleteWebhook"));
    // Every 30 s for 10 minutes (the restart cooldown): one restart.
    for _ in 0..20 {
        let out = wd
            .run_once(RunSet {
                liveness: true,
                ..Default::default()
            })
            .await;
        assert_eq!(out.report.level(), Level::Critical);
        assert_eq!(
            out.report.finding(incident::BOT_DOWN).unwrap().level,
            Level::Critical
        );
        w.clock.advance(30);
    }
    assert_eq!(w.platform.count(), 1);
    assert_eq!(w.platform.restarts.lock().unwrap()[0], "srv-test");
    // Past the cooldown: the second restart of the hour.
    w.clock.advance(60);
    wd.run_once(RunSet::default()).await;
    assert_eq!(w.platform.count(), 2);
    // Past the cooldown again: the cap (2 per hour) holds and the incident is critical.
    w.clock.advance(11 * 60);
    let out = wd.run_once(RunSet::default()).await;
    assert_eq!(w.platform.count(), 2);
    assert_eq!(out.report.actions[0].result, ActionResult::SkippedCap);
    let f = out.report.finding(incident::BOT_DOWN).unwrap();
    assert!(
        f.level == Level::Critical && f.reason.contains("cap"),
        "{f:?}"
    );
    // No webhook method was called while the bot was down.
    assert_eq!(
        (
            w.calls_to("setWebhook"),
            w.calls_to("deleteWebhook"),
            w.calls_to("getUpdates")
        ),
        (set0, del0, 0)
    );
    // An hour later the cap has room again.
    w.clock.advance(3600);
    wd.run_once(RunSet::default()).await;
    assert_eq!(w.platform.count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_above_the_limit_restarts_the_bot() {
    let w = World::start().await;
    let wd = w.watchdog().await;
    w.bot.set_health(HealthMode::Rss(600 << 20));
    let out = wd.run_once(RunSet::default()).await;
    assert_eq!(
        out.report.finding(incident::BOT_MEMORY).unwrap().level,
        Level::Critical
    );
    assert_eq!(out.report.actions[0].kind, ActionKind::Restart);
    assert_eq!(w.platform.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_get_webhook_info_is_waited_out() {
    let w = World::start().await;
    let wd = w.watchdog().await;
    w.sim.fail_method(
        "getWebhookInfo",
        ApiFault::TooManyRequests { retry_after: 1 },
        1,
    );
    let before = w.calls_to("getWebhookInfo");
    let started = std::time::Instant::now();
    let out = wd.run_once(RunSet::default()).await;
    assert_eq!(
        out.report.level(),
        Level::Ok,
        "{:#?}",
        out.report.problems().collect::<Vec<_>>()
    );
    assert!(out.report.actions.is_empty());
    assert_eq!(w.calls_to("getWebhookInfo") - before, 2);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "retry_after was not waited out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_recovery_is_finished_on_the_next_start() {
    let w = World::start().await;
    w.interrupted_recovery(5, 10).await;
    assert_eq!(
        w.sim.webhook_info()["url"],
        "",
        "the webhook is deleted at the interruption"
    );
    // The next start finishes the job from the persisted phase.
    let wd2 = w.watchdog().await;
    let out = wd2.check().await;
    let f = out
        .report
        .finding(incident::RECOVERY_INTERRUPTED)
        .expect("a resumed recovery");
    assert!(f.repaired, "{f:?}");
    assert_eq!(
        w.sim.webhook_info()["url"],
        format!("{}/webhook", w.bot.url)
    );
    w.wait("10 replies", |s| s.sent_messages().len() == 10)
        .await;
    assert!(w.sim.dropped_updates().is_empty());
    // The resume also cleared the phase: a further run has nothing to finish.
    let again = wd2.run_once(RunSet::default()).await;
    assert!(
        again
            .report
            .finding(incident::RECOVERY_INTERRUPTED)
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_api_error_half_way_still_sets_the_webhook_again() {
    let w = World::start().await;
    let wd = w.watchdog().await;
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..8 {
        w.sim.inject(Upd::text(9, format!("{i}")));
    }
    w.sim.fail_method("getUpdates", ApiFault::Status500, 100);
    let out = wd.recover(false).await;
    assert_eq!(out.report.actions[0].result, ActionResult::Failed);
    assert_eq!(out.report.actions[0].detail.webhook_set, Some(true));
    assert_eq!(
        w.sim.webhook_info()["url"],
        format!("{}/webhook", w.bot.url)
    );
    assert!(w.sim.dropped_updates().is_empty());
    assert_eq!(
        w.sim.pending_update_count(),
        8,
        "nothing was confirmed, nothing lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_mode_reports_how_many_it_dropped() {
    let w = World::start().await;
    let wd = w.watchdog().await;
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..7 {
        w.sim.inject(Upd::text(3, format!("{i}")));
    }
    let out = wd.recover(true).await;
    let a = &out.report.actions[0];
    assert_eq!(
        (a.kind, a.result),
        (ActionKind::DropPending, ActionResult::Succeeded)
    );
    assert_eq!(a.detail.dropped, Some(7));
    assert_eq!(w.sim.pending_update_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_cap_escalates_to_critical() {
    let mut w = World::start().await;
    w.env.insert(
        "TELBOT__WATCHDOG__ACTIONS__RECOVERY__MAX_PER_HOUR".into(),
        "1".into(),
    );
    let wd = w.watchdog().await;
    w.sim.break_webhook(WebhookFault::Status(500));
    for round in 0..2 {
        for i in 0..6 {
            w.sim.inject(Upd::text(11, format!("{round}-{i}")));
        }
        w.wait("pending > 5 with an error", |s| {
            s.pending_update_count() > 5 && s.webhook_info()["last_error_message"].is_string()
        })
        .await;
        let out = wd.check().await;
        let a = &out.report.actions[0];
        if round == 0 {
            assert_eq!(a.result, ActionResult::Succeeded, "{a:#?}");
        } else {
            assert_eq!(a.result, ActionResult::SkippedCap, "{a:#?}");
            assert_eq!(out.report.level(), Level::Critical);
        }
        w.clock.advance(10 * 60);
    }
    assert_eq!(w.calls_to("deleteWebhook"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_critical_and_nothing_is_changed() {
    let mut w = World::start().await;
    w.env
        .insert("TELEGRAM_BOT_TOKEN".into(), "999:wrong-token".into());
    let wd = w.watchdog().await;
    let out = wd.check().await;
    assert_eq!(
        out.report.finding(incident::TOKEN_INVALID).unwrap().level,
        Level::Critical
    );
    assert!(out.report.actions.is_empty());
    let text = serde_json::to_string(&out).unwrap();
    assert!(!text.contains("wrong-token") && !text.contains(common::SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_recovery_sets_the_webhook_again_before_returning() {
    let w = World::start().await;
    let wd = std::sync::Arc::new(w.watchdog().await);
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..5 {
        w.sim.inject(Upd::text(8, format!("{i}")));
    }
    w.sim
        .fail_method("getUpdates", ApiFault::Slow(Duration::from_millis(500)), 1);
    let stop = wd.stop_token();
    let wd2 = wd.clone();
    let task = tokio::spawn(async move { wd2.recover(false).await });
    w.wait("deleteWebhook", |s| !s.calls_to("deleteWebhook").is_empty())
        .await;
    stop.cancel(); // SIGTERM
    let out = task.await.unwrap();
    let a = &out.report.actions[0];
    assert_eq!(a.detail.webhook_set, Some(true), "{a:#?}");
    assert_eq!(
        w.sim.webhook_info()["url"],
        format!("{}/webhook", w.bot.url)
    );
    assert!(
        wd.ctx().store.recovery().await.unwrap().is_none(),
        "phase cleared"
    );
    assert!(w.sim.dropped_updates().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_check_ends_at_its_timeout_as_critical() {
    let mut w = World::start().await;
    w.env
        .insert("TELBOT__WATCHDOG__CHECK_TIMEOUT".into(), "300ms".into());
    let wd = w.watchdog().await;
    w.sim
        .fail_method("getMe", ApiFault::Slow(Duration::from_secs(4)), 1);
    let started = std::time::Instant::now();
    let out = wd.run_once(RunSet::default()).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The check that ran out of time says so as its own finding (the bot answered: the
    // watchdog can see, so this is Telegram's side).
    let f = out.report.finding(incident::TELEGRAM_UNREACHABLE).unwrap();
    assert_eq!(f.level, Level::Critical);
    assert!(f.reason.contains("did not answer"), "{}", f.reason);
    assert_eq!(
        out.report.finding(incident::WATCHDOG_BLIND).unwrap().level,
        Level::Ok
    );
    assert!(out.report.actions.is_empty());
}
