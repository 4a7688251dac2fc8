//! Only the leader writes what the next run judges against: a follower ticking in the same
//! second must not hide a new delivery error from it.

use crate::common;

use std::time::Duration;

use common::World;
use telegram_sim::{Upd, WebhookFault};
use watchdog::RunSet;
use watchdog::incident;
use watchdog::{ActionKind, Watchdog};

fn liveness() -> RunSet {
    RunSet {
        liveness: true,
        ..RunSet::default()
    }
}

/// Moves the watchdog's clock and the sim's on by `secs`, and waits for the sim's next failed
/// delivery after that (so every run sees a `last_error_date` of its own).
async fn next_error(w: &World, offset: &mut i64, secs: i64) {
    *offset += secs;
    w.clock.advance(secs);
    w.sim.set_now_offset(*offset);
    let before = w.sim.webhook_info()["last_error_date"].as_i64();
    w.wait("a new delivery error", |s| {
        s.webhook_info()["last_error_date"].as_i64() != before
    })
    .await;
}

/// The run index (0-based) of the leader's first run that acted on the erroring webhook.
async fn opened_at(w: &World, leader: &Watchdog, follower: Option<&Watchdog>) -> Option<usize> {
    let mut offset = 0;
    for run in 0..4 {
        next_error(w, &mut offset, 3).await;
        let out = leader.run_once(liveness()).await;
        if out.report.actions.iter().any(|a| {
            a.incident == incident::WEBHOOK_STUCK && a.kind == ActionKind::LosslessRecovery
        }) {
            return Some(run);
        }
        if let Some(f) = follower {
            // The follower runs in the same second, between two of the leader's runs.
            let seen = f.run_once(liveness()).await;
            assert!(
                seen.report
                    .actions
                    .iter()
                    .all(|a| a.result == watchdog::ActionResult::SkippedFollower),
                "{:#?}",
                seen.report.actions
            );
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_watchdogs_open_an_erroring_webhook_incident_as_one_does() {
    for two in [false, true] {
        let w = World::start().await;
        let leader = w.watchdog().await;
        let follower = w.watchdog().await;
        // The leader takes the leadership first.
        assert_eq!(leader.role().await, watchdog::Role::Leader);
        assert!(matches!(follower.role().await, watchdog::Role::Follower(_)));
        w.sim.break_webhook(WebhookFault::Status(500));
        for i in 0..3 {
            w.sim.inject(Upd::text(40 + i, "hi"));
        }
        let at = opened_at(&w, &leader, two.then_some(&follower)).await;
        // Three pending (≤ 5): only the "erroring" rule (a new error on two runs in a row)
        // opens it, at the leader's second run, with or without a follower beside it.
        assert_eq!(at, Some(1), "two watchdogs: {two}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
