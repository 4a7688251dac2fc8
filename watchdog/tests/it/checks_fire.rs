//! Each check that no other test made fire, made to fire against a fake bot: a slow `/health`
//! (`bot-slow`), a webhook that takes a POST without the secret (`webhook-auth`, critical),
//! `/webhook/health` reporting problems (`webhook-health`), the watchdog's own store not
//! answering (`watchdog-store`) and handler failures between two performance runs, measured
//! through the counter samples kept in the store (`bot-success-rate`).

use std::sync::Arc;
use std::time::Duration;

use telbot_shared::health::Health;
use watchdog::ManualClock;
use watchdog::{Finding, Incident, Level, incident};
use watchdog::{RunOutcome, Watchdog};

use crate::common;
use crate::fake_bot::{self, FakeWorld};

fn finding(out: &RunOutcome, key: Incident) -> &Finding {
    out.report
        .finding(key)
        .unwrap_or_else(|| panic!("no {key} finding in {:#?}", out.report.findings))
}

async fn watchdog_for(w: &FakeWorld) -> Watchdog {
    common::watchdog(&w.env, Arc::new(ManualClock::at(telbot_shared::unix_now()))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_slower_than_the_threshold_is_bot_slow() {
    let mut w = FakeWorld::start().await;
    w.env.insert(
        "TELBOT__WATCHDOG__RESPONSE_TIME_WARN".into(),
        "100ms".into(),
    );
    w.bot.set(|a| a.health_delay = Duration::from_millis(600));
    let out = watchdog_for(&w).await.check().await;
    let f = finding(&out, incident::BOT_SLOW);
    assert_eq!(f.level, Level::Warning, "{f:#?}");
    assert!(f.reason.contains("threshold 100 ms"), "{}", f.reason);
    // Slow, not down.
    assert_eq!(finding(&out, incident::BOT_DOWN).level, Level::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_accepts_a_post_without_the_secret_is_critical() {
    let w = FakeWorld::start().await;
    let wd = watchdog_for(&w).await;
    let out = wd.check().await;
    assert_eq!(finding(&out, incident::WEBHOOK_AUTH).level, Level::Ok);
    w.bot.set(|a| a.accept_anyone = true);
    let out = wd.check().await;
    let f = finding(&out, incident::WEBHOOK_AUTH);
    assert_eq!(f.level, Level::Critical, "{f:#?}");
    assert!(f.reason.contains("answered 200"), "{}", f.reason);
    assert_eq!(out.report.level(), Level::Critical);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_health_reporting_problems_is_a_warning() {
    let w = FakeWorld::start().await;
    let wd = watchdog_for(&w).await;
    assert_eq!(
        finding(&wd.check().await, incident::WEBHOOK_HEALTH).level,
        Level::Ok
    );
    w.bot.set(|a| a.webhook_healthy = false);
    let out = wd.check().await;
    let f = finding(&out, incident::WEBHOOK_HEALTH);
    assert_eq!(f.level, Level::Warning, "{f:#?}");
    assert!(f.reason.contains("502 Bad Gateway"), "{}", f.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdogs_own_store_not_answering_is_watchdog_store() {
    let w = FakeWorld::start().await;
    let wd = watchdog_for(&w).await;
    assert_eq!(
        finding(&wd.check().await, incident::WATCHDOG_STORE).level,
        Level::Ok
    );
    // The pool closed under the watchdog: every query fails from now on.
    wd.ctx().store.db().pool.close().await;
    let out = wd.check().await;
    let f = finding(&out, incident::WATCHDOG_STORE);
    assert_eq!(f.level, Level::Warning, "{f:#?}");
    assert!(
        f.reason.contains("the watchdog's store does not answer"),
        "{}",
        f.reason
    );
}

fn counters(processed: u64, failed: u64) -> Health {
    let mut h = fake_bot::healthy();
    h.updates.processed = processed;
    h.updates.failed = failed;
    h
}

/// Two performance runs by two watchdog processes on one store: the second reads the first's
/// counter sample from the store, so the failures between them are measured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_between_two_runs_lower_the_success_rate_through_the_store() {
    let w = FakeWorld::start().await;
    let clock = ManualClock::at(telbot_shared::unix_now());
    w.bot.set(|a| a.health = counters(100, 0));
    let first = common::watchdog(&w.env, Arc::new(clock.clone())).await;
    let out = first.check().await;
    let f = finding(&out, incident::BOT_SUCCESS_RATE);
    assert_eq!(f.level, Level::Ok, "{f:#?}");
    assert!(f.reason.contains("no earlier sample"), "{}", f.reason);
    drop(first);

    clock.advance(60);
    // 50 handled, 20 failed since: 71 % < 95 %.
    w.bot.set(|a| a.health = counters(150, 20));
    let second = common::watchdog(&w.env, Arc::new(clock.clone())).await;
    let out = second.check().await;
    let f = finding(&out, incident::BOT_SUCCESS_RATE);
    assert_eq!(f.level, Level::Warning, "{f:#?}");
    assert!(f.reason.contains("20 failed of 70"), "{}", f.reason);
    let samples = second.ctx().store.samples().await.unwrap();
    assert_eq!(
        samples
            .iter()
            .map(|s| (s.processed, s.failed))
            .collect::<Vec<_>>(),
        vec![(100, 0), (150, 20)],
        "both runs' samples are kept in the store"
    );
}

/// The upkeep findings from `/health` (issue 27 parts 2, 4, 5): the bot's own resource
/// warnings and memory near the restart limit (`bot-resources`), a late periodic job
/// (`bot-jobs`), and the last hour as users felt it (`bot-response-time`, `bot-handled`) —
/// each a warning, each ok again when `/health` is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_late_jobs_and_the_hours_figures_are_warnings() {
    let w = FakeWorld::start().await;
    let wd = watchdog_for(&w).await;
    let out = wd.check().await;
    for key in [
        incident::BOT_RESOURCES,
        incident::BOT_JOBS,
        incident::BOT_RESPONSE_TIME,
        incident::BOT_HANDLED,
    ] {
        assert_eq!(finding(&out, key).level, Level::Ok, "{key}");
    }
    w.bot.set(|a| {
        let h = &mut a.health;
        h.process.rss_bytes = 450 << 20; // 90 % of the 500 MiB default limit
        h.system.warnings = vec!["data disk 85 % (warning at 80 %)".into()];
        h.jobs.insert(
            "inbox_prune".into(),
            telbot_shared::health::JobStatus {
                every_s: 600,
                late: true,
                ..Default::default()
            },
        );
        h.hour = telbot_shared::health::HourFigures {
            finished: 40,
            parked: 4,
            handled_percent: Some(90.0),
            response_p50_ms: Some(800),
            response_p95_ms: Some(7_000),
        };
    });
    let out = wd.check().await;
    let f = finding(&out, incident::BOT_RESOURCES);
    assert_eq!(f.level, Level::Warning, "{f:#?}");
    assert!(f.reason.contains("data disk 85 %"), "{}", f.reason);
    assert!(
        f.reason.contains("90 % of the 500 MiB limit"),
        "{}",
        f.reason
    );
    let f = finding(&out, incident::BOT_JOBS);
    assert_eq!(f.level, Level::Warning, "{f:#?}");
    assert!(f.reason.contains("inbox_prune is late"), "{}", f.reason);
    let f = finding(&out, incident::BOT_RESPONSE_TIME);
    assert_eq!(f.level, Level::Warning, "{f:#?}");
    assert!(
        f.reason.contains("7000 ms at the 95th percentile"),
        "{}",
        f.reason
    );
    assert_eq!(finding(&out, incident::BOT_HANDLED).level, Level::Warning);
    // Warnings only: nothing here pages or restarts.
    assert!(
        out.report.level() < Level::Critical,
        "{:#?}",
        out.report.findings
    );
    assert!(out.report.actions.is_empty(), "{:#?}", out.report.actions);
}
