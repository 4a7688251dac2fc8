//! The store-dependent guarantees on PostgreSQL (a throwaway server from telbot-testkit):
//! no duplicate after a restart, the delayed e-mail, silences.

use crate::common;

use common::*;
use telbot_alerts::{AlertPipeline, DecisionKind, Level, Observation};
use telbot_testkit::PgServer;

const T0: i64 = 1_700_000_000;

fn down() -> Observation {
    Observation::new("bot-down", Level::Critical, "bot is down")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_retry_and_silence() {
    let pg = PgServer::start().unwrap_or_else(|e| panic!("PostgreSQL test server: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    {
        let p = AlertPipeline::new(email_config(&url), db_at(&pg.url()).await, []).unwrap();
        p.observe(&[down()], T0).await.unwrap();
        assert_eq!(
            p.observe(&[down()], T0 + 30).await.unwrap()[0].kind,
            DecisionKind::Opened
        );
        // SMTP is down: kept.
        assert_eq!(p.flush_outbox(T0 + 30).await.unwrap().waiting, 1);
    }
    let sink = SmtpSink::start(port, &dir.path().join("mail"), None);
    // Restarted watchdog, same database.
    let p = AlertPipeline::new(email_config(&url), db_at(&pg.url()).await, []).unwrap();
    for i in 2..6 {
        let d = p.observe(&[down()], T0 + i * 30).await.unwrap();
        assert_eq!(d[0].kind, DecisionKind::Ongoing);
        p.flush_outbox(T0 + i * 30).await.unwrap();
    }
    assert_eq!(
        sink.subjects(),
        vec!["[CRITICAL] shopbot: bot is down".to_string()]
    );
    p.silence(
        "all",
        std::time::Duration::from_secs(600),
        "deploy",
        T0 + 200,
    )
    .await
    .unwrap();
    p.observe(&[Observation::normal("bot-down")], T0 + 210)
        .await
        .unwrap();
    let d = p
        .observe(&[Observation::normal("bot-down")], T0 + 240)
        .await
        .unwrap();
    assert_eq!(d[0].kind, DecisionKind::Resolved);
    p.flush_outbox(T0 + 240).await.unwrap();
    assert_eq!(
        sink.subjects().len(),
        1,
        "resolved while silenced is not sent"
    );
}
