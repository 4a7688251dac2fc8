//! The watchdog's recovery under the one lock, restoring Telegram's own webhook settings, and
//! draining under steady traffic (issue 10, part 2); the bot's parked updates as a warning.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::{HealthMode, SECRET, World};
use serde_json::json;
use telbot_shared::lease;
use telbot_shared::lease::{LEASE_TTL, Lease};
use telbot_shared::recovery::{self, RecoveryState, WebhookSettings};
use telegram_sim::{Upd, WebhookFault};
use watchdog::incident;
use watchdog::{ActionResult, Level, Role};

async fn set_webhook(w: &World, max_connections: u32, allowed: &[&str]) {
    let r = w.sim
        .call_as_client("setWebhook", json!({"url": format!("{}/webhook", w.bot.url), "secret_token": SECRET, "max_connections": max_connections, "allowed_updates": allowed}))
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_recovery_runs_while_another_holds_the_lock() {
    let w = World::start().await;
    let wd = w.watchdog().await;
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..5 {
        w.sim.inject(Upd::text(3, format!("{i}")));
    }
    let db = wd.ctx().store.db().clone();
    let lease = Lease::acquire(&db, "bot-server on web-1 (pid 5)", LEASE_TTL)
        .await
        .unwrap();
    let out = wd.recover(false).await;
    let a = &out.report.actions[0];
    assert_eq!(a.result, ActionResult::SkippedCooldown, "{a:#?}");
    assert_eq!(
        a.detail.error.as_deref().unwrap(),
        "a recovery is already running (owner bot-server on web-1 (pid 5))"
    );
    assert!(
        w.sim.calls_to("deleteWebhook").is_empty(),
        "nothing changed"
    );
    // Not resumed either: a recorded phase belongs to the holder while it holds the lock.
    let st = RecoveryState {
        phase: telbot_shared::recovery::Phase::Draining,
        offset: None,
        drained: 0,
        replayed: 0,
        started_at: 0,
        action_id: None,
        by: telbot_shared::recovery::Runner::BotServer,
        settings: None,
        drain_limit: None,
        holder: None,
    };
    recovery::save_state(&db, &st).await.unwrap();
    // The holder has deleted the webhook to drain: a warning naming it, no action, no
    // CRITICAL for a repair in progress.
    w.sim.set_webhook_url_behind_back("");
    let out = wd.check().await;
    assert!(out.report.finding(incident::RECOVERY_INTERRUPTED).is_none());
    assert!(w.sim.calls_to("deleteWebhook").is_empty());
    let f = out.report.finding(incident::WEBHOOK_WRONG_URL).unwrap();
    assert_eq!(f.level, Level::Warning, "{f:?}");
    assert!(
        f.reason.contains("owner bot-server on web-1 (pid 5)"),
        "{}",
        f.reason
    );
    assert!(out.report.actions.is_empty(), "{:#?}", out.report.actions);
    common::register_webhook(&w.sim, &w.bot).await;
    recovery::clear_state(&db).await.unwrap();
    // Released: the watchdog's recovery runs.
    lease.release().await.unwrap();
    let out = wd.recover(false).await;
    assert_eq!(out.report.actions[0].result, ActionResult::Succeeded);
    assert!(
        lease::holder(&db).await.unwrap().is_none(),
        "released after"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_restores_the_settings_telegram_had_and_the_configured_secret() {
    let w = World::start().await;
    let wd = w.watchdog().await;
    // Not what the watchdog's config says (40 and four kinds).
    set_webhook(&w, 7, &["message", "callback_query"]).await;
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..5 {
        w.sim.inject(Upd::text(4, format!("{i}")));
    }
    let out = wd.recover(false).await;
    assert_eq!(out.report.actions[0].result, ActionResult::Succeeded);
    let set = w.sim.calls_to("setWebhook");
    let p = &set.last().unwrap().params;
    assert_eq!(p["max_connections"], 7, "{p}");
    assert_eq!(
        p["allowed_updates"],
        json!(["message", "callback_query"]),
        "{p}"
    );
    assert_eq!(p["secret_token"], SECRET);
    assert_eq!(p["url"], format!("{}/webhook", w.bot.url));
    // A resumed recovery restores what its record says.
    let st = RecoveryState {
        phase: telbot_shared::recovery::Phase::Setting,
        offset: None,
        drained: 0,
        replayed: 0,
        started_at: 0,
        action_id: None,
        by: telbot_shared::recovery::Runner::Watchdog,
        settings: Some(WebhookSettings {
            url: format!("{}/webhook", w.bot.url),
            max_connections: 9,
            allowed_updates: vec!["message".into()],
            ip_address: None,
        }),
        drain_limit: None,
        holder: None,
    };
    recovery::save_state(wd.ctx().store.db(), &st)
        .await
        .unwrap();
    let out = wd.check().await;
    assert!(
        out.report
            .finding(incident::RECOVERY_INTERRUPTED)
            .is_some_and(|f| f.repaired)
    );
    let set = w.sim.calls_to("setWebhook");
    let p = &set.last().unwrap().params;
    assert_eq!(
        (p["max_connections"].clone(), p["allowed_updates"].clone()),
        (json!(9), json!(["message"])),
        "{p}"
    );
    assert_eq!(p["secret_token"], SECRET);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_under_steady_traffic_finishes_with_what_was_pending() {
    let mut w = World::start().await;
    w.env.insert(
        "TELBOT__WATCHDOG__RECOVERY__MAX_DURATION".into(),
        "5s".into(),
    );
    w.env.insert(
        "TELBOT__WATCHDOG__RECOVERY__REPLAY_CONCURRENCY".into(),
        "1".into(),
    );
    let wd = w.watchdog().await;
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..50 {
        w.sim
            .inject(Upd::text(100 + i % 10, format!("pending {i}")));
    }
    // Users keep writing, faster than one replay at a time can drain, during the recovery.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(50));
    let injector = {
        let (sim, stop, sent) = (w.sim.clone(), stop.clone(), sent.clone());
        tokio::spawn(async move {
            let mut n = 0i64;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..5 {
                    sim.inject(Upd::text(200 + n % 100, format!("live {n}")));
                    n += 1;
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    w.sim.heal_webhook();
    let out = wd.recover(false).await;
    stop.store(true, Ordering::Relaxed);
    injector.await.unwrap();
    let a = &out.report.actions[0];
    assert_eq!(a.result, ActionResult::Succeeded, "{a:#?}");
    assert!(a.detail.drained.unwrap() >= 1, "{a:#?}");
    assert_eq!(a.detail.dropped, Some(0));
    // The newer updates come by the webhook: every one is answered.
    let total = sent.load(Ordering::Relaxed) as usize;
    assert!(
        w.sim
            .wait_for(Duration::from_secs(60), |_| w.bot.order().len() == total)
            .await,
        "{} of {total} reached the bot",
        w.bot.order().len()
    );
    assert!(w.sim.dropped_updates().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_updates_at_the_bot_are_a_warning() {
    let w = World::start().await;
    let wd = w.watchdog().await;
    w.bot.set_health(HealthMode::Parked(2));
    let out = wd.check().await;
    let f = out.report.finding(incident::BOT_PARKED).expect("a finding");
    assert_eq!(f.level, Level::Warning, "{f:?}");
    assert!(f.reason.contains("2 update(s) are parked"), "{}", f.reason);
    assert!(out.report.actions.is_empty(), "no action: a person decides");
    w.bot.set_health(HealthMode::Ok);
    let out = wd.check().await;
    assert_eq!(
        out.report.finding(incident::BOT_PARKED).unwrap().level,
        Level::Ok
    );
}

/// Several watchdogs on one store (issue 12, part 3): the one holding the leadership acts and
/// alerts; another checks, reports the action as left to the leader, and alerts on nothing.
/// When the leader steps down (a `watchdog check` ends, a daemon stops), the other leads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_watchdogs_on_one_store_one_acts_and_the_other_observes() {
    let w = World::start().await;
    let a = w.watchdog().await;
    let b = w.watchdog().await;
    assert_eq!(a.role().await, Role::Leader);
    let follower = b.role().await;
    assert!(
        matches!(&follower, Role::Follower(o) if o.starts_with("watchdog on ")),
        "{follower:?}"
    );
    w.sim
        .set_webhook_url_behind_back("http://127.0.0.1:9/someone-else");
    let sets = w.calls_to("setWebhook");
    let out_b = b.check().await;
    let f = out_b.report.finding(incident::WEBHOOK_WRONG_URL).unwrap();
    assert_eq!(f.level, Level::Critical, "{f:#?}");
    let act = &out_b.report.actions[0];
    assert_eq!(act.result, ActionResult::SkippedFollower, "{act:#?}");
    assert!(
        act.detail
            .why
            .as_deref()
            .unwrap()
            .starts_with("another watchdog acts: watchdog on "),
        "{act:#?}"
    );
    assert!(out_b.alerts.is_empty(), "{:#?}", out_b.alerts);
    assert_eq!(
        w.calls_to("setWebhook"),
        sets,
        "the follower touched nothing"
    );
    let out_a = a.check().await;
    let act = &out_a.report.actions[0];
    assert_eq!(act.result, ActionResult::Succeeded, "{act:#?}");
    assert_eq!(
        w.calls_to("setWebhook"),
        sets + 1,
        "one repair, by the leader"
    );
    a.step_down().await;
    assert_eq!(b.role().await, Role::Leader);
    assert!(matches!(a.role().await, Role::Follower(_)));
}

/// A recovery whose lease is taken from it mid-drain (it stalled past the ttl and another
/// took over) stops draining, sets the webhook again, and leaves the phase to the new holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_that_loses_its_lease_stops_draining_and_sets_the_webhook_again() {
    let w = World::start().await;
    let wd = Arc::new(w.watchdog().await);
    let db = wd.ctx().store.db().clone();
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..400 {
        w.sim.inject(Upd::text(40 + i % 4, format!("{i}")));
    }
    // Each batch of the drain takes a while.
    w.sim.fail_method(
        "getUpdates",
        telegram_sim::ApiFault::Slow(Duration::from_millis(400)),
        20,
    );
    let run = {
        let wd = wd.clone();
        tokio::spawn(async move { wd.recover(false).await })
    };
    let draining = telbot_testkit::wait_until_async(Duration::from_secs(5), || async {
        matches!(
            recovery::load_state(&db).await,
            Ok(Some(st)) if st.phase == telbot_shared::recovery::Phase::Draining
        )
    })
    .await;
    assert!(draining, "the recovery never reached the drain");
    // Another holder takes the lease over (as after an expiry).
    sqlx::query("UPDATE recovery_lock SET owner = 'thief', token = 'stolen' WHERE name = $1")
        .bind(lease::RECOVERY_LOCK)
        .execute(&db.pool)
        .await
        .unwrap();
    w.sim.heal_webhook();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap()
        .unwrap();
    let a = &out.report.actions[0];
    let error = a.detail.error.as_deref().unwrap_or_default();
    assert!(error.contains("lost the recovery lock"), "{a:#?}");
    assert_eq!(a.detail.webhook_set, Some(true), "{a:#?}");
    assert!(
        a.detail.drained.unwrap() < 400,
        "it stopped draining: {a:#?}"
    );
    assert_eq!(
        w.sim.webhook_info()["url"],
        format!("{}/webhook", w.bot.url),
        "the webhook is set again"
    );
    // Its last phase write and its clear were fenced out: the record is the new holder's.
    assert!(recovery::load_state(&db).await.unwrap().is_some());
}
