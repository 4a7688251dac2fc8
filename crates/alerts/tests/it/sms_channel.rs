//! Issue 27, part 6: SMS through Twilio against a local stand-in of its Messages API that
//! checks what the real one checks (the path with the account SID, Basic auth, a
//! form-encoded body with `To`, `From` and `Body`) and answers as it documents.

use crate::common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use common::*;
use secrecy::SecretString;
use serde_json::Value;
use telbot_alerts::StringList;
use telbot_alerts::{AlertPipeline, AlertsConfig, DecisionKind, Level, Observation};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "f00dTWILIOauthTOKEN0123456789ab";
const FROM: &str = "+15005550006";
const TO: [&str; 2] = ["+4915112345678", "+4915187654321"];

/// One request the stand-in took: its form fields.
#[derive(Debug, Clone)]
struct Sms {
    to: String,
    from: String,
    body: String,
    status: u16,
}

#[derive(Default)]
struct Stand {
    /// Answers to give, in order; empty: 201.
    answers: VecDeque<(u16, String)>,
    seen: Vec<Sms>,
    /// Requests whose shape was wrong, and why.
    bad: Vec<String>,
}

type Shared = Arc<Mutex<Stand>>;

async fn messages(
    State(st): State<Shared>,
    Path(sid): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"));
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let field = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut st = st.lock().unwrap();
    if header("authorization") != format!("Basic {basic}") || sid != SID {
        st.bad.push(format!("auth {sid}"));
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}"#.into(),
        );
    }
    if header("content-type") != "application/x-www-form-urlencoded" {
        st.bad
            .push(format!("content-type {}", header("content-type")));
    }
    let sms = Sms {
        to: field("To"),
        from: field("From"),
        body: field("Body"),
        status: 0,
    };
    if sms.to.is_empty() || sms.from.is_empty() || sms.body.is_empty() || sms.body.len() > 1600 {
        st.bad.push(format!("fields {form:?}"));
        return (
            StatusCode::BAD_REQUEST,
            r#"{"code": 21604, "message": "A 'To' phone number is required.", "status": 400}"#
                .into(),
        );
    }
    let (status, answer) = st.answers.pop_front().unwrap_or_else(|| {
        (
            201,
            format!(
                r#"{{"sid": "SM{}", "status": "queued", "to": "{}", "body": {}}}"#,
                "0".repeat(32),
                sms.to,
                Value::from(sms.body.clone())
            ),
        )
    });
    st.seen.push(Sms { status, ..sms });
    (StatusCode::from_u16(status).unwrap(), answer)
}

/// The stand-in, plus a JSON webhook at `/hook` that records what other channels get.
async fn serve(st: Shared, hook: Arc<Mutex<Vec<Value>>>) -> String {
    let app = Router::new()
        .route("/2010-04-01/Accounts/{sid}/Messages.json", post(messages))
        .with_state(st)
        .route(
            "/hook",
            post(move |body: String| async move {
                hook.lock()
                    .unwrap()
                    .push(serde_json::from_str(&body).unwrap_or(Value::Null));
                StatusCode::OK
            }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await });
    format!("http://{addr}")
}

fn config(base: &str, to: &[&str], with_hook: bool) -> AlertsConfig {
    let mut s = section_defaults();
    s.bot_name = "shopbot".into();
    s.twilio_account_sid = SID.into();
    s.twilio_auth_token = Some(SecretString::from(TOKEN.to_string()));
    s.sms_from = FROM.into();
    s.sms_to = StringList::Many(to.iter().map(|t| t.to_string()).collect());
    s.twilio_api_url = base.into();
    if with_hook {
        s.webhook_url = Some(SecretString::from(format!("{base}/hook")));
    }
    s.retry_base = std::time::Duration::from_secs(30);
    s.retry_max = std::time::Duration::from_secs(120);
    AlertsConfig::from_section(s).unwrap()
}

async fn pipeline(cfg: AlertsConfig, dir: &std::path::Path) -> AlertPipeline {
    AlertPipeline::new(cfg, temp_db(dir).await, []).unwrap()
}

fn crit() -> Observation {
    let mut o = Observation::new(
        "bot-down",
        Level::Critical,
        "bot is down: /health failed 3 times",
    );
    o.evidence = serde_json::json!({"long": "x".repeat(5000)});
    o
}

/// One SMS per number when a critical incident opens, none while it stays open, one each on
/// RESOLVED; warnings never; every request shaped as Twilio requires.
#[tokio::test]
async fn one_sms_per_incident_and_one_on_resolve_with_twilios_request_shape() {
    let st: Shared = Arc::default();
    let base = serve(st.clone(), Arc::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(config(&base, &TO, false), dir.path()).await;
    assert_eq!(p.channel_names(), vec!["sms"]);
    let warn = Observation::new("bot-slow", Level::Warning, "/health took 6 s");
    let mut t = 1_700_000_000;
    let mut kinds = Vec::new();
    for _ in 0..5 {
        let d = p.observe(&[crit(), warn.clone()], t).await.unwrap();
        kinds.push(d[0].kind);
        p.flush_outbox(t).await.unwrap();
        t += 30;
    }
    assert!(kinds.contains(&DecisionKind::Opened), "{kinds:?}");
    for _ in 0..3 {
        let ok = [
            Observation::normal("bot-down"),
            Observation::normal("bot-slow"),
        ];
        p.observe(&ok, t).await.unwrap();
        p.flush_outbox(t).await.unwrap();
        t += 30;
    }
    let st = st.lock().unwrap();
    assert!(st.bad.is_empty(), "{:?}", st.bad);
    let got: Vec<(&str, &str, &str)> = st
        .seen
        .iter()
        .map(|s| (s.to.as_str(), s.from.as_str(), s.body.as_str()))
        .collect();
    let open = "[CRITICAL] shopbot: bot is down: /health failed 3 times";
    assert_eq!(
        &got[..2],
        &[(TO[0], FROM, open), (TO[1], FROM, open)],
        "{got:#?}"
    );
    assert_eq!(got.len(), 4, "open + resolved, per number: {got:#?}");
    for (_, _, body) in &got[2..] {
        assert!(body.starts_with("[RESOLVED] shopbot: "), "{body}");
        assert!(body.chars().count() <= 300, "{body}");
    }
}

/// Twilio answers 500, then 201: the outbox retries and the SMS is delivered exactly once.
#[tokio::test]
async fn a_twilio_500_is_retried_by_the_outbox_and_delivered_once() {
    let st: Shared = Arc::default();
    st.lock().unwrap().answers.push_back((
        500,
        r#"{"code": 20500, "message": "Internal Server Error"}"#.into(),
    ));
    let base = serve(st.clone(), Arc::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(config(&base, &TO[..1], false), dir.path()).await;
    p.observe(&[crit()], 0).await.unwrap();
    p.observe(&[crit()], 30).await.unwrap();
    let first = p.flush_outbox(30).await.unwrap();
    assert_eq!(
        (first.sent, first.failed, first.waiting),
        (0, 1, 1),
        "{first:?}"
    );
    let early = p.flush_outbox(45).await.unwrap();
    assert_eq!(
        (early.sent, early.failed),
        (0, 0),
        "not due before retry_base"
    );
    let retry = p.flush_outbox(60).await.unwrap();
    assert_eq!(
        (retry.sent, retry.failed, retry.waiting),
        (1, 0, 0),
        "{retry:?}"
    );
    for now in [200, 1000] {
        let r = p.flush_outbox(now).await.unwrap();
        assert_eq!((r.sent, r.failed), (0, 0));
    }
    let statuses: Vec<u16> = st.lock().unwrap().seen.iter().map(|s| s.status).collect();
    assert_eq!(statuses, vec![500, 201], "one failed try, one delivery");
}

/// A 400 (a bad number) is refused for good: not retried, the error names Twilio's code and
/// message, and the other channels are told at once.
#[tokio::test]
async fn a_twilio_400_is_not_retried_names_the_code_and_is_reported() {
    let st: Shared = Arc::default();
    st.lock().unwrap().answers.push_back((
        400,
        r#"{"code": 21211, "message": "The 'To' number +4915112345678 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#.into(),
    ));
    let hook: Arc<Mutex<Vec<Value>>> = Arc::default();
    let base = serve(st.clone(), hook.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&base, &TO[..1], true);
    let db = temp_db(dir.path()).await;
    let p = AlertPipeline::new(cfg, db.clone(), []).unwrap();
    p.observe(&[crit()], 0).await.unwrap();
    p.observe(&[crit()], 30).await.unwrap();
    let r = p.flush_outbox(30).await.unwrap();
    assert_eq!(
        (r.sent, r.failed),
        (1, 1),
        "the webhook took it, sms refused: {r:?}"
    );
    let (status, err): (String, String) =
        sqlx::query_as("SELECT status, last_error FROM alert_outbox WHERE channel = 'sms'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    assert!(
        err.contains("refused, not retried") && err.contains("error 21211: The 'To' number"),
        "{err}"
    );
    for now in [60, 120, 1000] {
        p.flush_outbox(now).await.unwrap();
    }
    assert_eq!(st.lock().unwrap().seen.len(), 1, "never sent again");
    let subjects: Vec<String> = hook
        .lock()
        .unwrap()
        .iter()
        .map(|v| v["subject"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        subjects.contains(&"[CRITICAL] shopbot: alert channel sms keeps failing".to_string()),
        "{subjects:?}"
    );
}

/// A log sink for one test (the thread's default subscriber: the test's runtime is
/// single-threaded, so the stand-in and the pipeline log here).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The auth token (and the Basic header made from it) is in no log line, error, stored row
/// or message, even when Twilio's answer echoes it.
#[tokio::test]
async fn the_auth_token_appears_in_no_log_error_or_message() {
    let logs = Logs::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let st: Shared = Arc::default();
    let echo = |status: u16| {
        (
            status,
            format!(
                r#"{{"code": 20003, "message": "Authenticate: bad credentials {SID}:{TOKEN}", "status": {status}}}"#
            ),
        )
    };
    st.lock()
        .unwrap()
        .answers
        .extend([echo(401), echo(503), echo(401)]);
    let hook: Arc<Mutex<Vec<Value>>> = Arc::default();
    let base = serve(st.clone(), hook.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = temp_db(dir.path()).await;
    let p = AlertPipeline::new(config(&base, &TO[..1], true), db.clone(), []).unwrap();
    let results = p.test_alert(0).await;
    let sms = results.iter().find(|r| r.channel == "sms").unwrap();
    assert!(!sms.ok);
    let mut texts = vec![sms.error.clone().unwrap()];
    assert!(texts[0].contains("error 20003"), "{texts:?}");
    p.observe(&[crit()], 0).await.unwrap();
    p.observe(&[crit()], 30).await.unwrap();
    for now in [30, 60, 120, 300] {
        p.flush_outbox(now).await.unwrap();
    }
    assert_eq!(st.lock().unwrap().seen.len(), 3, "503 retried, 401 final");
    let rows: Vec<(Option<String>,)> = sqlx::query_as("SELECT last_error FROM alert_outbox")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    texts.extend(rows.into_iter().filter_map(|r| r.0));
    texts.extend(hook.lock().unwrap().iter().map(Value::to_string));
    let log = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("alert refused by the channel"), "{log}");
    texts.push(log);
    texts.push(format!("{:?}", config(&base, &TO, true)));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"));
    for t in &texts {
        assert!(!t.contains(TOKEN) && !t.contains(&basic), "secret in: {t}");
    }
    assert!(
        texts.iter().any(|t| t.contains("[REDACTED]")),
        "the echo was masked"
    );
}
