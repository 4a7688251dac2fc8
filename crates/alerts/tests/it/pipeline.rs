//! Pipeline behaviour with an in-memory channel: maintenance windows, one observation per key
//! per run, a channel removed from config, the JSON shape of decisions.

use crate::common;

use std::sync::{Arc, Mutex};

use common::*;
use futures::future::BoxFuture;
use telbot_alerts::MaintenanceWindow;
use telbot_alerts::{
    AlertError, AlertPipeline, AlertsConfig, DecisionKind, Level, Message, Notifier, Observation,
};

#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<String>>,
}

impl Notifier for Recorder {
    fn name(&self) -> &str {
        "memory"
    }
    fn takes_warnings(&self) -> bool {
        true
    }
    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Result<(), AlertError>> {
        self.sent.lock().unwrap().push(msg.subject.clone());
        Box::pin(async { Ok(()) })
    }
}

fn cfg() -> AlertsConfig {
    AlertsConfig::from_section(section_defaults()).unwrap()
}

fn down() -> Observation {
    Observation::new("bot-down", Level::Critical, "bot is down")
}

#[tokio::test]
async fn a_maintenance_window_holds_and_its_end_notifies() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.maintenance = vec![MaintenanceWindow {
        start: 1000,
        end: 2000,
        incidents: vec!["bot-down".into()],
        reason: "db".into(),
    }];
    let rec = Arc::new(Recorder::default());
    let p = AlertPipeline::with_notifiers(c, temp_db(dir.path()).await, vec![rec.clone()], []);
    let other = Observation::new("webhook-stuck", Level::Critical, "stuck");
    p.observe(&[down(), other.clone()], 1000).await.unwrap();
    let d = p.observe(&[down(), other], 1030).await.unwrap();
    assert_eq!(d[0].kind, DecisionKind::Silenced);
    assert_eq!(
        d[1].kind,
        DecisionKind::Opened,
        "the window covers bot-down only"
    );
    let d = p.observe(&[down()], 2000).await.unwrap();
    assert_eq!(d[0].kind, DecisionKind::Notified);
    p.flush_outbox(2000).await.unwrap();
    assert_eq!(
        *rec.sent.lock().unwrap(),
        vec!["[CRITICAL] telbot: stuck", "[CRITICAL] telbot: bot is down"]
    );
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json[0]["kind"], "notified");
    assert_eq!(json[0]["level"], "critical");
    assert_eq!(json[0]["channels"], serde_json::json!(["memory"]));
}

#[tokio::test]
async fn one_key_twice_in_a_run_counts_once_with_the_worst_level() {
    let dir = tempfile::tempdir().unwrap();
    let p = AlertPipeline::with_notifiers(
        cfg(),
        temp_db(dir.path()).await,
        vec![Arc::new(Recorder::default())],
        [],
    );
    let warn = Observation::new("bot-down", Level::Warning, "slow");
    let d = p.observe(&[warn, down()], 0).await.unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(
        (d[0].kind, d[0].level),
        (DecisionKind::SuppressedByThreshold, Level::Critical)
    );
    assert!(
        p.observe(&[Observation::new(" ", Level::Critical, "x")], 1)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_message_for_a_removed_channel_is_marked_failed_not_dropped_silently() {
    let dir = tempfile::tempdir().unwrap();
    let rec: Arc<dyn Notifier> = Arc::new(Recorder::default());
    let p = AlertPipeline::with_notifiers(cfg(), temp_db(dir.path()).await, vec![rec], []);
    p.observe(&[down()], 0).await.unwrap();
    p.observe(&[down()], 30).await.unwrap();
    // The same store, the channel gone from config.
    let p2 = AlertPipeline::with_notifiers(cfg(), temp_db(dir.path()).await, vec![], []);
    let r = p2.flush_outbox(30).await.unwrap();
    assert_eq!((r.sent, r.failed, r.waiting), (0, 1, 0));
    let status: String = sqlx::query_scalar("SELECT status FROM wd_alerts")
        .fetch_one(&temp_db(dir.path()).await.pool)
        .await
        .unwrap();
    assert_eq!(status, "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_watchdogs_observing_at_once_queue_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let rec: Arc<dyn Notifier> = Arc::new(Recorder::default());
    let a = AlertPipeline::with_notifiers(cfg(), temp_db(dir.path()).await, vec![rec.clone()], []);
    let b = AlertPipeline::with_notifiers(cfg(), temp_db(dir.path()).await, vec![rec], []);
    a.observe(&[down()], 0).await.unwrap();
    for round in 0..5 {
        let now = 30 + round * 30;
        let run = [down()];
        let (x, y) = tokio::join!(a.observe(&run, now), b.observe(&run, now));
        x.unwrap();
        y.unwrap();
    }
    let db = temp_db(dir.path()).await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alert_outbox")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}
