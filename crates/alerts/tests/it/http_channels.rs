//! Slack, Discord, Resend and Telegram senders against local servers that check the payload
//! shape the real APIs document; the heartbeat; a failing channel reported through the others.

use crate::common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::*;
use secrecy::SecretString;
use serde_json::Value;
use telbot_alerts::{AlertPipeline, AlertsConfig, Heartbeat, Level, Observation};

type Seen = Arc<Mutex<Vec<(String, Value)>>>;

const RESEND_KEY: &str = "re_live_SECRETkey123";
const ALERT_TOKEN: &str = "987654:ALERTbotSECRETtoken";

fn str_field(v: &Value, k: &str, max: usize) -> bool {
    v[k].as_str()
        .is_some_and(|s| !s.is_empty() && s.chars().count() <= max)
}

async fn slack(State(seen): State<Seen>, body: String) -> (StatusCode, &'static str) {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let blocks_ok = v.get("blocks").is_none_or(|b| {
        b.as_array()
            .is_some_and(|a| a.iter().all(|x| x["type"].is_string()))
    });
    seen.lock().unwrap().push(("slack".into(), v.clone()));
    if str_field(&v, "text", 40_000) && blocks_ok {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::BAD_REQUEST, "invalid_payload")
    }
}

async fn discord(State(seen): State<Seen>, body: String) -> StatusCode {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let embeds_ok = v.get("embeds").is_none_or(|e| {
        e.as_array().is_some_and(|a| {
            a.len() <= 10
                && a.iter()
                    .all(|x| str_field(x, "title", 256) && str_field(x, "description", 4096))
        })
    });
    seen.lock().unwrap().push(("discord".into(), v.clone()));
    if str_field(&v, "content", 2000) && embeds_ok {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::BAD_REQUEST
    }
}

async fn resend(
    State(seen): State<Seen>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().push(("resend".into(), v.clone()));
    let auth = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {RESEND_KEY}") {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"name":"missing_api_key"}"#.into(),
        );
    }
    let to_ok = v["to"]
        .as_array()
        .is_some_and(|a| !a.is_empty() && a.len() <= 50 && a.iter().all(Value::is_string));
    if str_field(&v, "from", 500)
        && to_ok
        && str_field(&v, "subject", 998)
        && str_field(&v, "html", 1 << 20)
        && str_field(&v, "text", 1 << 20)
    {
        (
            StatusCode::OK,
            r#"{"id":"49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"}"#.into(),
        )
    } else {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            r#"{"name":"validation_error"}"#.into(),
        )
    }
}

async fn telegram(
    State(seen): State<Seen>,
    Path((bot, method)): Path<(String, String)>,
    body: String,
) -> (StatusCode, String) {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().push(("telegram".into(), v.clone()));
    if bot != format!("bot{ALERT_TOKEN}") {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#.into(),
        );
    }
    let chat_ok =
        v["chat_id"].is_i64() || v["chat_id"].as_str().is_some_and(|s| s.starts_with('@'));
    if method == "sendMessage" && chat_ok && str_field(&v, "text", 4096) {
        (
            StatusCode::OK,
            r#"{"ok":true,"result":{"message_id":1}}"#.into(),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: message text is empty"}"#
                .into(),
        )
    }
}

async fn broken() -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn serve(seen: Seen) -> String {
    let app = Router::new()
        .route("/slack/T000/B000/XXXX", post(slack))
        .route("/discord/api/webhooks/1/tok", post(discord))
        .route("/resend/emails", post(resend))
        .route("/tg/{bot}/{method}", post(telegram))
        .route("/broken", post(broken))
        .route(
            "/hc/{*rest}",
            post(|Path(p): Path<String>, State(s): State<Seen>| async move {
                s.lock().unwrap().push(("hc".into(), Value::String(p)));
                "OK"
            }),
        )
        .with_state(seen);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}")
}

fn chat_config(base: &str, slack_path: &str) -> AlertsConfig {
    AlertsConfig::from_section(chat_section(base, slack_path)).unwrap()
}

fn chat_section(base: &str, slack_path: &str) -> telbot_alerts::AlertsSection {
    let mut s = section_defaults();
    s.bot_name = "shopbot".into();
    s.slack_webhook_url = Some(SecretString::from(format!("{base}{slack_path}")));
    s.discord_webhook_url = Some(SecretString::from(format!(
        "{base}/discord/api/webhooks/1/tok"
    )));
    s.resend_api_key = Some(SecretString::from(RESEND_KEY.to_string()));
    s.resend_api_url = format!("{base}/resend");
    s.email_from = "wd@example.com".into();
    s.email_to =
        telbot_alerts::StringList::Many(vec!["ops@example.com".into(), "b@example.com".into()]);
    s.telegram_alert_token = Some(SecretString::from(ALERT_TOKEN.to_string()));
    s.telegram_alert_chat_id = "-1001234567890".into();
    s.telegram_api_url = format!("{base}/tg");
    s
}

fn no_secret(s: &str) {
    for secret in [
        RESEND_KEY,
        ALERT_TOKEN,
        "ALERTbotSECRETtoken",
        "/discord/api/webhooks/1/tok",
        "T000/B000/XXXX",
    ] {
        assert!(!s.contains(secret), "secret {secret:?} in {s}");
    }
}

#[tokio::test]
async fn every_channel_sends_the_documented_payload() {
    let seen: Seen = Arc::default();
    let base = serve(seen.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let p = AlertPipeline::new(
        chat_config(&base, "/slack/T000/B000/XXXX"),
        temp_db(dir.path()).await,
        [],
    )
    .unwrap();
    assert_eq!(
        p.channel_names(),
        vec!["resend", "slack", "discord", "telegram"]
    );
    let results = p.test_alert(1_700_000_000).await;
    assert!(results.iter().all(|r| r.ok), "{results:?}");

    let mut o = Observation::new(
        "webhook-stuck",
        Level::Critical,
        "webhook stuck: 12 pending",
    );
    o.evidence = serde_json::json!({"pending_update_count": 12, "long": "x".repeat(5000)});
    p.observe(std::slice::from_ref(&o), 1_700_000_000)
        .await
        .unwrap();
    let d = p.observe(&[o], 1_700_000_030).await.unwrap();
    assert_eq!(
        d[0].channels,
        vec!["resend", "slack", "discord", "telegram"]
    );
    let r = p.flush_outbox(1_700_000_030).await.unwrap();
    assert_eq!((r.sent, r.failed), (4, 0), "{r:?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 8);
    let (_, resend) = seen.iter().rev().find(|(c, _)| c == "resend").unwrap();
    assert_eq!(
        resend["subject"],
        "[CRITICAL] shopbot: webhook stuck: 12 pending"
    );
    assert_eq!(
        resend["to"],
        serde_json::json!(["ops@example.com", "b@example.com"])
    );
    let (_, tg) = seen.iter().rev().find(|(c, _)| c == "telegram").unwrap();
    assert_eq!(tg["chat_id"], serde_json::json!(-1001234567890i64));
    for (_, v) in &seen {
        no_secret(&v.to_string());
    }
}

#[tokio::test]
async fn warnings_go_to_chat_channels_only_when_configured() {
    let seen: Seen = Arc::default();
    let base = serve(seen.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = chat_section(&base, "/slack/T000/B000/XXXX");
    s.warnings_to_chat = true;
    let p = AlertPipeline::new(
        AlertsConfig::from_section(s).unwrap(),
        temp_db(dir.path()).await,
        [],
    )
    .unwrap();
    let w = Observation::new("slow-health", Level::Warning, "/health took 6 s");
    p.observe(std::slice::from_ref(&w), 100).await.unwrap();
    let d = p.observe(&[w], 130).await.unwrap();
    assert_eq!(d[0].channels, vec!["slack", "discord", "telegram"]);
}

/// Issue 16, part 8: by default a warning follows the ops notes (log and dashboard only):
/// no channel gets it, and the dashboard's table of watchdog alerts (`wd_alerts`) shows it.
#[tokio::test]
async fn warnings_are_logged_and_shown_on_the_dashboard_only_by_default() {
    let seen: Seen = Arc::default();
    let base = serve(seen.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = temp_db(dir.path()).await;
    let p =
        AlertPipeline::new(chat_config(&base, "/slack/T000/B000/XXXX"), db.clone(), []).unwrap();
    let w = Observation::new("bot-slow", Level::Warning, "/health took 6 s");
    p.observe(std::slice::from_ref(&w), 100).await.unwrap();
    let d = p.observe(&[w], 130).await.unwrap();
    assert_eq!(d[0].kind, telbot_alerts::DecisionKind::Opened);
    assert!(d[0].channels.is_empty(), "{d:?}");
    let r = p.flush_outbox(130).await.unwrap();
    assert_eq!((r.sent, r.waiting), (0, 0));
    assert!(seen.lock().unwrap().is_empty(), "nothing sent");
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT level, channel, status, subject FROM wd_alerts WHERE incident_key = 'bot-slow'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![(
            "warning".to_string(),
            "log".to_string(),
            "logged".to_string(),
            "[WARNING] shopbot: /health took 6 s".to_string()
        )]
    );
}

#[tokio::test]
async fn a_failing_channel_is_retried_reported_through_the_others_and_never_leaks() {
    let seen: Seen = Arc::default();
    let base = serve(seen.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    // Slack answers 500 every time.
    let p =
        AlertPipeline::new(chat_config(&base, "/broken"), temp_db(dir.path()).await, []).unwrap();
    let results = p.test_alert(0).await;
    let slack = results.iter().find(|r| r.channel == "slack").unwrap();
    assert!(!slack.ok);
    no_secret(slack.error.as_deref().unwrap());
    assert!(slack.error.as_deref().unwrap().contains("500"), "{slack:?}");

    let o = Observation::new("bot-down", Level::Critical, "bot is down");
    p.observe(std::slice::from_ref(&o), 0).await.unwrap();
    p.observe(&[o], 30).await.unwrap();
    // attempts at 30, 60 (+30), 120 (+60): the third failure reports slack through the others.
    for now in [30, 60, 120] {
        let r = p.flush_outbox(now).await.unwrap();
        assert_eq!(r.failed, 1, "at {now}: {r:?}");
    }
    let r = p.flush_outbox(120).await.unwrap();
    assert_eq!(r.sent, 3, "{r:?}");
    let seen = seen.lock().unwrap().clone();
    let reports: Vec<&Value> = seen
        .iter()
        .filter(|(c, _)| c == "resend")
        .map(|(_, v)| v)
        .collect();
    assert!(
        reports
            .iter()
            .any(|v| v["subject"] == "[CRITICAL] shopbot: alert channel slack keeps failing"),
        "{reports:?}"
    );
    assert_eq!(r.waiting, 1, "the slack message is still kept for later");
    let later = p.flush_outbox(400).await.unwrap();
    assert_eq!(
        later.failed, 1,
        "no second report inside the repeat interval"
    );
    for (_, v) in &seen {
        no_secret(&v.to_string());
    }
}

#[tokio::test]
async fn heartbeat_urls_are_hit_in_order() {
    let seen: Seen = Arc::default();
    let base = serve(seen.clone()).await;
    let hb = Heartbeat::new(
        SecretString::from(format!("{base}/hc/5f1c-uuid")),
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    hb.ping_start().await.unwrap();
    hb.ping_success("check: ok").await.unwrap();
    hb.ping_fail("check: critical").await.unwrap();
    let paths: Vec<Value> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(
        paths,
        vec![
            Value::from("5f1c-uuid/start"),
            Value::from("5f1c-uuid"),
            Value::from("5f1c-uuid/fail")
        ]
    );
    let dead = Heartbeat::new(
        SecretString::from(format!("http://127.0.0.1:{}/hc/x", free_port())),
        std::time::Duration::from_secs(2),
    )
    .unwrap();
    let err = dead.ping_start().await.unwrap_err().to_string();
    assert!(!err.contains("/hc/x"), "{err}");
}

const PD_KEY: &str = "R0UTINGkeySECRET0123456789abcdef";

/// PagerDuty's Events API v2 as documented: 202 for a valid trigger or resolve with our
/// routing key, 400 otherwise.
async fn pagerduty(State(seen): State<Seen>, body: String) -> (StatusCode, String) {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().push(("pagerduty".into(), v.clone()));
    let valid = v["routing_key"] == PD_KEY
        && str_field(&v, "dedup_key", 255)
        && match v["event_action"].as_str() {
            Some("trigger") => {
                let p = &v["payload"];
                str_field(p, "summary", 1024)
                    && str_field(p, "source", 255)
                    && ["critical", "error", "warning", "info"]
                        .contains(&p["severity"].as_str().unwrap_or(""))
            }
            Some("resolve") => true,
            _ => false,
        };
    if valid {
        (
            StatusCode::ACCEPTED,
            format!(
                r#"{{"status":"success","message":"Event processed","dedup_key":{}}}"#,
                v["dedup_key"]
            ),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            r#"{"status":"invalid event","message":"Event object is invalid"}"#.into(),
        )
    }
}

/// Issue 16, part 6: a critical incident triggers one PagerDuty alert (dedup key per bot and
/// incident) and its RESOLVED message resolves the same one; warnings do not page.
#[tokio::test]
async fn pagerduty_triggers_a_critical_incident_and_resolves_it() {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/pd/enqueue", post(pagerduty))
        .with_state(seen.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    let mut s = section_defaults();
    s.bot_name = "shopbot".into();
    s.pagerduty_routing_key = Some(SecretString::from(PD_KEY.to_string()));
    s.pagerduty_url = format!("{base}/pd/enqueue");
    let dir = tempfile::tempdir().unwrap();
    let p = AlertPipeline::new(
        AlertsConfig::from_section(s).unwrap(),
        temp_db(dir.path()).await,
        [],
    )
    .unwrap();
    assert_eq!(p.channel_names(), vec!["pagerduty"]);
    let warn = Observation::new("bot-slow", Level::Warning, "/health took 6 s");
    let crit = Observation::new(
        "webhook-stuck",
        Level::Critical,
        "webhook stuck: 12 pending",
    );
    let mut t = 1_700_000_000;
    for _ in 0..3 {
        p.observe(&[warn.clone(), crit.clone()], t).await.unwrap();
        p.flush_outbox(t).await.unwrap();
        t += 30;
    }
    for _ in 0..3 {
        let ok = [
            Observation::normal("bot-slow"),
            Observation::normal("webhook-stuck"),
        ];
        p.observe(&ok, t).await.unwrap();
        p.flush_outbox(t).await.unwrap();
        t += 30;
    }
    let seen = seen.lock().unwrap().clone();
    let events: Vec<(&str, &str)> = seen
        .iter()
        .map(|(_, v)| {
            (
                v["event_action"].as_str().unwrap_or(""),
                v["dedup_key"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        events,
        vec![
            ("trigger", "shopbot/webhook-stuck"),
            ("resolve", "shopbot/webhook-stuck")
        ],
        "{seen:#?}"
    );
    assert_eq!(seen[0].1["payload"]["severity"], "critical");
    assert_eq!(
        seen[0].1["payload"]["summary"],
        "[CRITICAL] shopbot: webhook stuck: 12 pending"
    );
}
