//! Issue 16, part 5, through a real SMTP server process (aiosmtpd): an incident nobody
//! acknowledges is escalated to `alerts.escalation_email_to` after `alerts.escalate_after`;
//! an acknowledged one (`AlertPipeline::ack`, what `watchdog ack` calls) gets no reminder and
//! no escalation, its RESOLVED still goes out, and who acknowledged it when is in the store.

use crate::common;

use std::time::Duration;

use common::*;
use secrecy::SecretString;
use telbot_alerts::{AlertPipeline, AlertsConfig, DecisionKind, Level, Observation};

const T0: i64 = 1_700_000_000;

fn down() -> Observation {
    let mut o = Observation::new("bot-down", Level::Critical, "bot is down: /health refused");
    o.recovered = Some("the bot answers /health again".into());
    o
}

fn config(port: u16) -> AlertsConfig {
    let mut s = section_defaults();
    s.bot_name = "shopbot".into();
    s.smtp_url = Some(SecretString::from(format!("smtp://127.0.0.1:{port}")));
    s.email_from = "wd@example.com".into();
    s.email_to = telbot_alerts::StringList::One("oncall@example.com".into());
    s.escalation_email_to = telbot_alerts::StringList::Many(vec!["lead@example.com".into()]);
    s.escalate_after = Duration::from_secs(30 * 60);
    s.send_timeout = Duration::from_secs(5);
    AlertsConfig::from_section(s).unwrap()
}

/// (recipients, subject) of every message received, in order.
fn received(sink: &SmtpSink) -> Vec<(String, String)> {
    sink.messages()
        .iter()
        .map(|m| {
            let mut to: Vec<&str> = m["rcpt_tos"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            to.sort_unstable();
            (to.join(","), subject_of(m))
        })
        .collect()
}

async fn tick(p: &AlertPipeline, o: &Observation, now: i64) -> DecisionKind {
    let d = p.observe(std::slice::from_ref(o), now).await.unwrap();
    p.flush_outbox(now).await.unwrap();
    d[0].kind
}

#[tokio::test]
async fn an_unacknowledged_incident_is_escalated_once_and_its_resolved_reaches_the_lead() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start(free_port(), &dir.path().join("mail"), None);
    let p = AlertPipeline::new(config(sink.port), temp_db(dir.path()).await, []).unwrap();
    assert_eq!(p.channel_names(), vec!["email", "escalation-email"]);
    let mut kinds = Vec::new();
    for t in [0, 30, 900, 1830, 1860, 3600] {
        kinds.push(tick(&p, &down(), T0 + t).await);
    }
    assert_eq!(
        kinds,
        vec![
            DecisionKind::SuppressedByThreshold,
            DecisionKind::Opened,
            DecisionKind::Ongoing,
            DecisionKind::Escalated,
            DecisionKind::Ongoing,
            DecisionKind::Ongoing,
        ]
    );
    let up = Observation::normal("bot-down");
    tick(&p, &up, T0 + 3630).await;
    assert_eq!(tick(&p, &up, T0 + 3660).await, DecisionKind::Resolved);
    let escalated = "[CRITICAL] shopbot: bot is down: /health refused (escalated: open 30m 30s, not acknowledged)";
    let resolved = "[RESOLVED] shopbot: the bot answers /health again (bot-down lasted 1h 1m)";
    assert_eq!(
        received(&sink),
        vec![
            (
                "oncall@example.com".to_string(),
                "[CRITICAL] shopbot: bot is down: /health refused".to_string()
            ),
            ("oncall@example.com".to_string(), escalated.to_string()),
            ("lead@example.com".to_string(), escalated.to_string()),
            ("oncall@example.com".to_string(), resolved.to_string()),
            ("lead@example.com".to_string(), resolved.to_string()),
        ]
    );
    let body = sink.messages()[2]["data"].as_str().unwrap().to_string();
    assert!(body.contains("watchdog ack bot-down"), "{body}");
}

#[tokio::test]
async fn an_acknowledged_incident_gets_no_reminder_nor_escalation_but_its_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start(free_port(), &dir.path().join("mail"), None);
    let db = temp_db(dir.path()).await;
    let p = AlertPipeline::new(config(sink.port), db.clone(), []).unwrap();
    // Nothing to acknowledge yet: an error naming the incident.
    let e = p
        .ack("bot-down", "alice", T0)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("bot-down"), "{e}");
    tick(&p, &down(), T0).await;
    let e = p
        .ack("bot-down", "alice", T0)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not open"), "pending is not open yet: {e}");
    tick(&p, &down(), T0 + 30).await;
    let acked = p.ack("bot-down", "alice", T0 + 60).await.unwrap();
    assert_eq!(
        (acked.acked_by.as_deref(), acked.acked_at),
        (Some("alice"), Some(T0 + 60))
    );
    // A second ack keeps the first one's name and time.
    let again = p.ack("bot-down", "bob", T0 + 90).await.unwrap();
    assert_eq!(again.acked_by.as_deref(), Some("alice"));
    // Past the escalation time and two repeat intervals: nothing more is sent.
    for t in [1830, 4 * 3600 + 60, 8 * 3600 + 90] {
        assert_eq!(tick(&p, &down(), T0 + t).await, DecisionKind::Ongoing);
    }
    let (by, at): (Option<String>, Option<i64>) = sqlx::query_as(
        "SELECT acked_by, acked_at FROM alert_incidents WHERE incident_key = 'bot-down'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((by.as_deref(), at), (Some("alice"), Some(T0 + 60)));
    let up = Observation::normal("bot-down");
    tick(&p, &up, T0 + 30_000).await;
    tick(&p, &up, T0 + 30_030).await;
    let got = received(&sink);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].1.starts_with("[CRITICAL]"), "{got:?}");
    assert_eq!(
        got[1].0, "oncall@example.com",
        "not escalated: the lead is not told"
    );
    assert!(got[1].1.starts_with("[RESOLVED]"), "{got:?}");
    // Cleared with the episode: the next one may be escalated again.
    let (by, at): (Option<String>, Option<i64>) = sqlx::query_as(
        "SELECT acked_by, acked_at FROM alert_incidents WHERE incident_key = 'bot-down'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((by, at), (None, None));
}
