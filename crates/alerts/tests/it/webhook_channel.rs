//! Issue 16, part 6: the generic webhook channel against a stand-in that parses the body as
//! JSON (as any receiving tool would), and PagerDuty's test alert leaving nothing open.

use crate::common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use common::*;
use secrecy::SecretString;
use serde_json::Value;
use telbot_alerts::{AlertPipeline, AlertsConfig, Level, Observation};

type Seen = Arc<Mutex<Vec<Value>>>;

const HOOK_TOKEN: &str = "hookSECRETtoken42";

/// Takes JSON only (400 otherwise, as a strict receiver would).
async fn hook(State(seen): State<Seen>, body: String) -> StatusCode {
    match serde_json::from_str::<Value>(&body) {
        Ok(v) => {
            seen.lock().unwrap().push(v);
            StatusCode::OK
        }
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

async fn serve(seen: Seen, path: &str) -> String {
    let app = Router::new()
        .route(path, post(hook))
        .route("/down", post(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .with_state(seen);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}")
}

fn config(url: String, template: &str) -> AlertsConfig {
    let mut s = section_defaults();
    s.bot_name = "shop\"bot".into();
    s.webhook_url = Some(SecretString::from(url));
    s.webhook_template = template.into();
    AlertsConfig::from_section(s).unwrap()
}

#[tokio::test]
async fn the_webhook_gets_the_template_filled_with_escaped_text() {
    let seen: Seen = Arc::default();
    let base = serve(seen.clone(), &format!("/in/{HOOK_TOKEN}")).await;
    let dir = tempfile::tempdir().unwrap();
    let template = r#"{"title": "{{subject}}", "sev": "{{severity}}", "state": "{{status}}", "ok": {{resolved}}, "key": "{{incident}}", "source": "{{bot}}", "text": "{{body}}"}"#;
    let p = AlertPipeline::new(
        config(format!("{base}/in/{HOOK_TOKEN}"), template),
        temp_db(dir.path()).await,
        [],
    )
    .unwrap();
    assert_eq!(p.channel_names(), vec!["webhook"]);
    let crit = Observation::new(
        "webhook-stuck",
        Level::Critical,
        "webhook stuck: \"Wrong response\"\n500 \\ <b>",
    );
    let warn = Observation::new("bot-slow", Level::Warning, "/health took 6 s");
    let mut t = 1_700_000_000;
    for _ in 0..2 {
        p.observe(&[crit.clone(), warn.clone()], t).await.unwrap();
        p.flush_outbox(t).await.unwrap();
        t += 30;
    }
    for _ in 0..2 {
        let ok = [
            Observation::normal("webhook-stuck"),
            Observation::normal("bot-slow"),
        ];
        p.observe(&ok, t).await.unwrap();
        p.flush_outbox(t).await.unwrap();
        t += 30;
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        2,
        "critical and resolved; no warning by default: {seen:#?}"
    );
    let fire = &seen[0];
    assert_eq!(
        fire["title"],
        "[CRITICAL] shop\"bot: webhook stuck: \"Wrong response\" 500 \\ <b>"
    );
    assert_eq!(
        (
            &fire["sev"],
            &fire["state"],
            &fire["ok"],
            &fire["key"],
            &fire["source"]
        ),
        (
            &Value::from("critical"),
            &Value::from("firing"),
            &Value::from(false),
            &Value::from("webhook-stuck"),
            &Value::from("shop\"bot")
        )
    );
    assert!(
        fire["text"]
            .as_str()
            .unwrap()
            .contains("\"Wrong response\" 500 \\ <b>\n\nBot: shop\"bot\n"),
        "{fire}"
    );
    let done = &seen[1];
    assert_eq!(
        (&done["state"], &done["ok"]),
        (&Value::from("resolved"), &Value::from(true))
    );
    assert!(
        done["title"].as_str().unwrap().starts_with("[RESOLVED]"),
        "{done}"
    );
    for v in &seen {
        assert!(!v.to_string().contains(HOOK_TOKEN), "{v}");
    }
}

#[tokio::test]
async fn a_bad_template_is_refused_at_load_and_a_failing_webhook_hides_its_url() {
    let mut s = section_defaults();
    s.webhook_url = Some(SecretString::from(format!(
        "http://127.0.0.1:1/{HOOK_TOKEN}"
    )));
    s.webhook_template = r#"{"text": {{subject}}}"#.into();
    let e = AlertsConfig::from_section(s).unwrap_err().to_string();
    assert!(
        e.contains("alerts.webhook_template") && e.contains("JSON"),
        "{e}"
    );
    assert!(!e.contains(HOOK_TOKEN), "{e}");

    let seen: Seen = Arc::default();
    let base = serve(seen, "/unused").await;
    let dir = tempfile::tempdir().unwrap();
    let p = AlertPipeline::new(
        config(format!("{base}/down?token={HOOK_TOKEN}"), ""),
        temp_db(dir.path()).await,
        [],
    )
    .unwrap();
    let r = p.test_alert(0).await;
    assert!(!r[0].ok);
    let err = r[0].error.clone().unwrap();
    assert!(err.contains("503") && !err.contains(HOOK_TOKEN), "{err}");
    let dead = AlertPipeline::new(
        config(format!("http://127.0.0.1:{}/{HOOK_TOKEN}", free_port()), ""),
        temp_db(&dir.path().join("b")).await,
        [],
    )
    .unwrap();
    let err = dead.test_alert(0).await[0].error.clone().unwrap();
    assert!(!err.contains(HOOK_TOKEN), "{err}");
}

const PD_KEY: &str = "R0UTINGkeySECRET0123456789abcdef";

/// `watchdog test-alert` proves the routing key and leaves no PagerDuty incident open; a
/// passing drill's report pages nobody.
#[tokio::test]
async fn the_pagerduty_test_alert_resolves_itself_and_a_passing_report_does_not_page() {
    let seen: Seen = Arc::default();
    let base = serve(seen.clone(), "/pd").await;
    let mut s = section_defaults();
    s.bot_name = "shopbot".into();
    s.pagerduty_routing_key = Some(SecretString::from(PD_KEY.to_string()));
    s.pagerduty_url = format!("{base}/pd");
    let dir = tempfile::tempdir().unwrap();
    let p = AlertPipeline::new(
        AlertsConfig::from_section(s).unwrap(),
        temp_db(dir.path()).await,
        [],
    )
    .unwrap();
    let r = p.test_alert(1_700_000_000).await;
    assert!(r.iter().all(|r| r.ok), "{r:?}");
    let passed = Observation::new("recovery-drill", Level::Ok, "drill passed");
    assert!(p.report(&passed, 1_700_000_100).await[0].ok);
    let events: Vec<(String, String)> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|v| {
            assert_eq!(v["routing_key"], PD_KEY);
            (
                v["event_action"].as_str().unwrap().to_string(),
                v["dedup_key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let e = |a: &str, k: &str| (a.to_string(), k.to_string());
    assert_eq!(
        events,
        vec![
            e("trigger", "shopbot/test-alert"),
            e("resolve", "shopbot/test-alert"),
            e("resolve", "shopbot/recovery-drill"),
        ]
    );
}
