//! The daemon's own post-deploy verification (`watchdog.deploy.verify`): a fake bot whose
//! `/health` start time and version change as a deploy changes them. The watchdog verifies
//! the new process once (one `/webhook/health` probe a run until healthy, not on every run
//! after), keeps the result in the store for the dashboard, and pages a deploy that stays
//! unhealthy once through the alert pipeline — resolved when it turns healthy.

use std::sync::Arc;

use telbot_shared::deploy_verification::{self, VerifyStatus};
use watchdog::WatchdogConfig;
use watchdog::{Clock, ManualClock};
use watchdog::{Level, incident};
use watchdog::{RunKind, RunSet};
use watchdog::{RunOutcome, Watchdog};

use crate::alerting::Subjects;
use crate::common;
use crate::fake_bot::FakeWorld;

fn liveness() -> RunSet {
    let mut s = RunSet::default();
    s.add(RunKind::Liveness);
    s
}

fn verdict(out: &RunOutcome) -> Option<Level> {
    out.report.finding(incident::DEPLOY_VERIFY).map(|f| f.level)
}

/// 30 s of the bot's and the watchdog's time.
fn tick(w: &FakeWorld, clock: &ManualClock) {
    clock.advance(30);
    w.bot.set(|a| a.health.uptime_s += 30);
}

fn deploy(w: &FakeWorld, version: &str) {
    w.bot.set(|a| {
        a.health.uptime_s = 3;
        a.health.version = version.into();
    });
}

fn probes(w: &FakeWorld) -> usize {
    w.bot.get(|a| a.webhook_health_requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_bot_process_is_verified_once_and_the_result_kept() {
    let w = FakeWorld::start().await;
    w.bot.set(|a| {
        a.health.uptime_s = 86_400;
        a.health.version = "1.0".into();
    });
    let clock = ManualClock::at(telbot_shared::unix_now());
    let wd = common::watchdog(&w.env, Arc::new(clock.clone())).await;
    let db = wd.ctx().store.db().clone();
    // A bot running for a day when the watchdog first looks is not a deploy it watched.
    assert_eq!(verdict(&wd.run_once(liveness()).await), None);
    tick(&w, &clock);
    assert_eq!(verdict(&wd.run_once(liveness()).await), None);
    assert_eq!(probes(&w), 0, "the same process is not verified");
    let rec = deploy_verification::load(&db).await.unwrap().unwrap();
    assert_eq!(rec.status, VerifyStatus::Unverified);
    // The deploy: a new process, a new version.
    tick(&w, &clock);
    deploy(&w, "1.1");
    let out = wd.run_once(liveness()).await;
    assert_eq!(verdict(&out), Some(Level::Ok), "{:#?}", out.report.findings);
    assert_eq!(probes(&w), 1);
    let rec = deploy_verification::load(&db).await.unwrap().unwrap();
    assert_eq!(
        (rec.status, rec.version.as_str(), rec.finished_at),
        (VerifyStatus::Ok, "1.1", Some(clock.now()))
    );
    // Later runs see the same process: no new verification.
    for _ in 0..4 {
        tick(&w, &clock);
        assert_eq!(verdict(&wd.run_once(liveness()).await), Some(Level::Ok));
    }
    assert_eq!(probes(&w), 1, "verified once, not on every run");
    assert_eq!(deploy_verification::load(&db).await.unwrap(), Some(rec));
    // With watchdog.deploy.verify off nothing is verified.
    let mut env = w.env.clone();
    env.insert("TELBOT__WATCHDOG__DEPLOY__VERIFY".into(), "false".into());
    let off = common::watchdog(&env, Arc::new(clock.clone())).await;
    tick(&w, &clock);
    deploy(&w, "1.2");
    assert_eq!(verdict(&off.run_once(liveness()).await), None);
    assert_eq!(probes(&w), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_that_stays_unhealthy_is_paged_once_and_resolved_when_healthy() {
    let w = FakeWorld::start().await;
    w.bot.set(|a| a.health.uptime_s = 86_400);
    let clock = ManualClock::at(telbot_shared::unix_now());
    let raw = telbot_shared::config::load(None, &w.env).unwrap();
    let cfg = WatchdogConfig::from_config(&raw).unwrap();
    let db = telbot_shared::store::connect(&cfg.store).await.unwrap();
    let seen = Arc::new(Subjects::default());
    let pipeline = telbot_alerts::AlertPipeline::with_notifiers(
        telbot_alerts::AlertsConfig::load(&raw, &w.env).unwrap(),
        db.clone(),
        vec![seen.clone() as Arc<dyn telbot_alerts::Notifier>],
        Vec::<secrecy::SecretString>::new(),
    );
    let sink = watchdog::PipelineSink::new(pipeline, None);
    let wd = Watchdog::build_on(cfg, db.clone(), Arc::new(clock.clone()), Arc::new(sink)).unwrap();
    wd.run_once(liveness()).await;
    // The new deploy's webhook is broken.
    tick(&w, &clock);
    deploy(&w, "2.0");
    w.bot.set(|a| a.webhook_healthy = false);
    assert_eq!(
        verdict(&wd.run_once(liveness()).await),
        None,
        "still within verify_timeout"
    );
    clock.advance(60);
    w.bot.set(|a| a.health.uptime_s += 60);
    assert_eq!(verdict(&wd.run_once(liveness()).await), None);
    clock.advance(70);
    w.bot.set(|a| a.health.uptime_s += 70);
    let out = wd.run_once(liveness()).await;
    assert_eq!(verdict(&out), Some(Level::Critical));
    let reason = &out.report.finding(incident::DEPLOY_VERIFY).unwrap().reason;
    assert!(
        reason.contains("version 2.0") && reason.contains("last delivery failed"),
        "{reason}"
    );
    for _ in 0..4 {
        tick(&w, &clock);
        assert_eq!(
            verdict(&wd.run_once(liveness()).await),
            Some(Level::Critical)
        );
    }
    let rec = deploy_verification::load(&db).await.unwrap().unwrap();
    assert_eq!(rec.status, VerifyStatus::Failed);
    // It comes good: resolved.
    w.bot.set(|a| a.webhook_healthy = true);
    for _ in 0..3 {
        tick(&w, &clock);
        assert_eq!(verdict(&wd.run_once(liveness()).await), Some(Level::Ok));
    }
    let subjects = seen.0.lock().unwrap().clone();
    let count = |tag: &str| {
        subjects
            .iter()
            .filter(|s| s.starts_with(tag) && s.contains("deploy"))
            .count()
    };
    assert_eq!(
        (count("[CRITICAL]"), count("[RESOLVED]")),
        (1, 1),
        "{subjects:?}"
    );
    let rec = deploy_verification::load(&db).await.unwrap().unwrap();
    assert!(rec.healed_at.is_some(), "{rec:?}");
    assert_eq!(
        rec.status,
        VerifyStatus::Failed,
        "the verification itself failed"
    );
}
