//! Against a real SMTP server process (aiosmtpd): what the on-call engineer receives.

use crate::common;

use common::*;
use telbot_alerts::{AlertPipeline, DecisionKind, Level, Observation};

fn down() -> Observation {
    let mut o = Observation::new(
        "bot-down",
        Level::Critical,
        "bot is down: /health failed 3 times",
    );
    o.evidence = serde_json::json!({"health": {"error": "connection refused"}});
    o.runbook_cmd = Some("watchdog recover".into());
    o.recovered = Some("the bot answers /health again".into());
    o
}

fn up() -> Observation {
    Observation::normal("bot-down")
}

async fn pipeline(dir: &std::path::Path, port: u16) -> AlertPipeline {
    let db = temp_db(dir).await;
    AlertPipeline::new(email_config(&format!("smtp://127.0.0.1:{port}")), db, []).unwrap()
}

const T0: i64 = 1_700_000_000;

#[tokio::test]
async fn an_outage_of_ten_checks_sends_one_critical_then_one_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start(free_port(), &dir.path().join("mail"), None);
    let p = pipeline(dir.path(), sink.port).await;
    for i in 0..10 {
        let now = T0 + i * 30;
        p.observe(&[down()], now).await.unwrap();
        p.flush_outbox(now).await.unwrap();
    }
    assert_eq!(sink.subjects().len(), 1);
    for i in 10..13 {
        let now = T0 + i * 30;
        p.observe(&[up()], now).await.unwrap();
        p.flush_outbox(now).await.unwrap();
    }
    let subjects = sink.subjects();
    assert_eq!(
        subjects,
        vec![
            "[CRITICAL] shopbot: bot is down: /health failed 3 times".to_string(),
            "[RESOLVED] shopbot: the bot answers /health again (bot-down lasted 5m 30s)"
                .to_string(),
        ]
    );
    let msgs = sink.messages();
    for m in &msgs {
        let mut to: Vec<String> = m["rcpt_tos"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        to.sort();
        assert_eq!(
            to,
            vec!["oncall@example.com", "ops@example.com"],
            "one e-mail to all recipients"
        );
        let data = m["data"].as_str().unwrap();
        assert!(
            data.contains("multipart/alternative") && data.contains("text/html"),
            "{data}"
        );
    }
    let first = msgs[0]["data"].as_str().unwrap();
    assert!(first.contains("watchdog recover"), "{first}");
    assert!(first.contains("bot.example/bot/dashboard"), "{first}");
    // Issue 16, part 8: the RESOLVED e-mail says what was wrong in its body, not its subject.
    let resolved = msgs[1]["data"].as_str().unwrap();
    assert!(
        resolved.contains("What was wrong: bot is down: /health failed 3 times"),
        "{resolved}"
    );
}

#[tokio::test]
async fn one_failure_below_the_threshold_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start(free_port(), &dir.path().join("mail"), None);
    let p = pipeline(dir.path(), sink.port).await;
    let d = p.observe(&[down()], T0).await.unwrap();
    assert_eq!(d[0].kind, DecisionKind::SuppressedByThreshold);
    for i in 1..4 {
        p.observe(&[up()], T0 + i * 30).await.unwrap();
        p.flush_outbox(T0 + i * 30).await.unwrap();
    }
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn an_email_is_delivered_late_when_the_smtp_server_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let p = pipeline(dir.path(), port).await;
    p.observe(&[down()], T0).await.unwrap();
    let d = p.observe(&[down()], T0 + 30).await.unwrap();
    assert_eq!(d[0].kind, DecisionKind::Opened);
    assert_eq!(d[0].channels, vec!["email"]);
    // The server is down: the send fails and stays in the outbox.
    let r = p.flush_outbox(T0 + 30).await.unwrap();
    assert_eq!((r.sent, r.failed, r.waiting), (0, 1, 1));
    let sink = SmtpSink::start(port, &dir.path().join("mail"), None);
    // Not due yet (back-off 30 s): nothing is tried.
    let r = p.flush_outbox(T0 + 40).await.unwrap();
    assert_eq!((r.sent, r.failed, r.waiting), (0, 0, 1));
    let r = p.flush_outbox(T0 + 60).await.unwrap();
    assert_eq!((r.sent, r.failed, r.waiting), (1, 0, 0));
    assert_eq!(
        sink.subjects(),
        vec!["[CRITICAL] shopbot: bot is down: /health failed 3 times".to_string()]
    );
    let status: String =
        sqlx::query_scalar("SELECT status FROM wd_alerts WHERE incident_key = 'bot-down'")
            .fetch_one(&temp_db(dir.path()).await.pool)
            .await
            .unwrap();
    assert_eq!(status, "sent");
}

#[tokio::test]
async fn a_restarted_watchdog_sends_no_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start(free_port(), &dir.path().join("mail"), None);
    {
        let p = pipeline(dir.path(), sink.port).await;
        for i in 0..4 {
            p.observe(&[down()], T0 + i * 30).await.unwrap();
            p.flush_outbox(T0 + i * 30).await.unwrap();
        }
    }
    // A new process: new pool, new pipeline, same database.
    let p = pipeline(dir.path(), sink.port).await;
    for i in 4..10 {
        let d = p.observe(&[down()], T0 + i * 30).await.unwrap();
        assert_eq!(d[0].kind, DecisionKind::Ongoing);
        p.flush_outbox(T0 + i * 30).await.unwrap();
    }
    assert_eq!(sink.subjects().len(), 1);
    for i in 10..12 {
        p.observe(&[up()], T0 + i * 30).await.unwrap();
        p.flush_outbox(T0 + i * 30).await.unwrap();
    }
    let s = sink.subjects();
    assert_eq!(s.len(), 2);
    assert!(s[1].starts_with("[RESOLVED]"));
}

#[tokio::test]
async fn a_reminder_comes_after_the_repeat_interval() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start(free_port(), &dir.path().join("mail"), None);
    let p = pipeline(dir.path(), sink.port).await;
    let four_h = 4 * 3600;
    for now in [
        T0,
        T0 + 30,
        T0 + 30 + four_h - 1,
        T0 + 30 + four_h,
        T0 + 60 + four_h,
    ] {
        p.observe(&[down()], now).await.unwrap();
        p.flush_outbox(now).await.unwrap();
    }
    let s = sink.subjects();
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(
        s[1].starts_with("[CRITICAL]") && s[1].ends_with("(still open)"),
        "{s:?}"
    );
}

#[tokio::test]
async fn a_silence_holds_messages_and_its_end_notifies() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start(free_port(), &dir.path().join("mail"), None);
    let p = pipeline(dir.path(), sink.port).await;
    p.silence("all", std::time::Duration::from_secs(3600), "deploy", T0)
        .await
        .unwrap();
    for i in 0..5 {
        p.observe(&[down()], T0 + i * 30).await.unwrap();
        p.flush_outbox(T0 + i * 30).await.unwrap();
    }
    assert!(sink.messages().is_empty(), "silenced");
    let held = p.incidents().await.unwrap();
    assert!(held[0].held, "{held:?}");
    // The silence ends while the incident is still open: it notifies once, even with the key
    // absent from this run.
    let d = p.observe(&[], T0 + 3600).await.unwrap();
    assert_eq!(d[0].kind, DecisionKind::Notified);
    p.flush_outbox(T0 + 3600).await.unwrap();
    p.observe(&[down()], T0 + 3630).await.unwrap();
    p.flush_outbox(T0 + 3630).await.unwrap();
    assert_eq!(sink.subjects().len(), 1);

    // Silencing one key, then lifting it early.
    let p2 = pipeline(&dir.path().join("b"), sink.port).await;
    p2.silence("bot-down", std::time::Duration::from_secs(7200), "", T0)
        .await
        .unwrap();
    p2.observe(&[down()], T0).await.unwrap();
    let d = p2.observe(&[down()], T0 + 30).await.unwrap();
    assert_eq!(d[0].kind, DecisionKind::Silenced);
    assert_eq!(p2.unsilence("bot-down", T0 + 40).await.unwrap(), 1);
    let d = p2.observe(&[down()], T0 + 60).await.unwrap();
    assert_eq!(d[0].kind, DecisionKind::Notified);
    p2.flush_outbox(T0 + 60).await.unwrap();
    assert_eq!(sink.subjects().len(), 2);
}

#[tokio::test]
async fn starttls_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let sink = SmtpSink::start(free_port(), &dir.path().join("mail"), Some((&cert, &key)));
    let url = format!("smtp://localhost:{}?tls=required", sink.port);

    // Not trusted: refused, kept in the outbox.
    let untrusted =
        AlertPipeline::new(email_config(&url), temp_db(&dir.path().join("u")).await, []).unwrap();
    let r = untrusted.test_alert(T0).await;
    assert!(!r[0].ok, "an untrusted certificate must be refused: {r:?}");

    let mut s = section_defaults();
    s.smtp_url = Some(url.clone().into());
    s.smtp_ca_file = cert.display().to_string();
    s.email_from = "wd@example.com".into();
    s.email_to = telbot_alerts::StringList::One("ops@example.com".into());
    let cfg = telbot_alerts::AlertsConfig::from_section(s).unwrap();
    let p = AlertPipeline::new(cfg, temp_db(dir.path()).await, []).unwrap();
    p.observe(&[down()], T0).await.unwrap();
    p.observe(&[down()], T0 + 30).await.unwrap();
    let r = p.flush_outbox(T0 + 30).await.unwrap();
    assert_eq!(r.sent, 1, "{r:?}");
    let m = sink.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(
        m[0]["tls"],
        serde_json::Value::Bool(true),
        "delivered over STARTTLS"
    );
}
