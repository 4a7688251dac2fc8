//! The watchdog binary wired to the alerting pipeline: one message per incident through a
//! chat channel (a local Slack stand-in), a RESOLVED one when it clears, `test-alert`,
//! `silence`.

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use common::{HealthMode, World};

#[derive(Clone, Default)]
struct Slack {
    texts: Arc<Mutex<Vec<String>>>,
    fail: Arc<std::sync::atomic::AtomicBool>,
}

async fn slack() -> (Slack, String) {
    let s = Slack::default();
    let st = s.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |body: axum::Json<serde_json::Value>| {
            let st = st.clone();
            async move {
                if st.fail.load(std::sync::atomic::Ordering::SeqCst) {
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                st.texts
                    .lock()
                    .unwrap()
                    .push(body["text"].as_str().unwrap_or_default().to_string());
                axum::http::StatusCode::OK
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (s, url)
}

async fn run(env: &HashMap<String, String>, args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_watchdog"))
        .args(args)
        .env_clear()
        .envs(env)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .unwrap()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains(common::SECRET), "secret leaked: {text}");
    (out.status.code().unwrap_or(-1), text)
}

fn env_with_slack(w: &World, url: &str) -> HashMap<String, String> {
    let mut e = w.env.clone();
    e.remove("RENDER_API_KEY");
    e.remove("RENDER_SERVICE_ID");
    e.insert("SLACK_WEBHOOK_URL".into(), url.into());
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_sends_one_critical_and_one_resolved_through_the_cli() {
    let w = World::start().await;
    let (slack, url) = slack().await;
    let env = env_with_slack(&w, &url);
    w.bot.set_health(HealthMode::Down);
    for _ in 0..4 {
        let (code, out) = run(&env, &["check"]).await;
        assert_eq!(code, 2, "{out}");
    }
    let texts = slack.texts.lock().unwrap().clone();
    let critical: Vec<_> = texts
        .iter()
        .filter(|t| t.contains("[CRITICAL]") && t.contains("bot"))
        .collect();
    assert_eq!(critical.len(), 1, "{texts:?}");
    w.bot.set_health(HealthMode::Ok);
    for _ in 0..3 {
        run(&env, &["check"]).await;
    }
    let texts = slack.texts.lock().unwrap().clone();
    assert_eq!(
        texts.iter().filter(|t| t.contains("[RESOLVED]")).count(),
        1,
        "{texts:?}"
    );
    assert_eq!(
        texts.iter().filter(|t| t.contains("[CRITICAL]")).count(),
        1,
        "{texts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silenced_incident_sends_nothing() {
    let w = World::start().await;
    let (slack, url) = slack().await;
    let env = env_with_slack(&w, &url);
    let (code, out) = run(
        &env,
        &["silence", "all", "--for", "2h", "--reason", "maintenance"],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    w.bot.set_health(HealthMode::Down);
    for _ in 0..3 {
        run(&env, &["check"]).await;
    }
    assert!(slack.texts.lock().unwrap().is_empty());
    let (code, _) = run(&env, &["unsilence", "all"]).await;
    assert_eq!(code, 0);
    run(&env, &["check"]).await;
    let texts = slack.texts.lock().unwrap().clone();
    assert_eq!(
        texts.iter().filter(|t| t.contains("[CRITICAL]")).count(),
        1,
        "{texts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_alert_exits_0_when_every_channel_accepts_and_2_when_one_fails() {
    let w = World::start().await;
    let (slack, url) = slack().await;
    let env = env_with_slack(&w, &url);
    let (code, out) = run(&env, &["test-alert"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("slack: ok"), "{out}");
    assert_eq!(slack.texts.lock().unwrap().len(), 1);
    slack.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let (code, out) = run(&env, &["test-alert"]).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("FAILED"), "{out}");
    let mut bare = w.env.clone();
    bare.remove("SLACK_WEBHOOK_URL");
    let (code, out) = run(&bare, &["test-alert"]).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("no alert channel"), "{out}");
}

/// `watchdog ack` (issue 16, part 5): an acknowledged incident gets no more reminders (here
/// one a second), its RESOLVED still goes out; a wrong `--bot` or an incident that is not
/// open is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_incident_gets_no_reminders_but_its_resolved() {
    let w = World::start().await;
    let (slack, url) = slack().await;
    let mut env = env_with_slack(&w, &url);
    env.insert("TELBOT__ALERTS__REPEAT_INTERVAL".into(), "1s".into());
    env.insert("USER".into(), "alice".into());
    w.bot.set_health(HealthMode::Down);
    let critical = |s: &Slack| {
        s.texts
            .lock()
            .unwrap()
            .iter()
            .filter(|t| t.contains("[CRITICAL]") && t.contains("bot-down"))
            .count()
    };
    run(&env, &["check"]).await;
    run(&env, &["check"]).await;
    assert_eq!(critical(&slack), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    run(&env, &["check"]).await;
    assert_eq!(critical(&slack), 2, "a reminder after the repeat interval");
    let (code, out) = run(&env, &["ack", "bot-down", "--bot", "otherbot"]).await;
    assert_eq!(code, 64, "{out}");
    let (code, out) = run(&env, &["ack", "webhook-stuck"]).await;
    assert_eq!(code, 1, "{out}");
    let (code, out) = run(&env, &["ack", "bot-down", "--bot", "telbot"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("acknowledged bot-down") && out.contains("by alice"),
        "{out}"
    );
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        run(&env, &["check"]).await;
    }
    assert_eq!(critical(&slack), 2, "no reminder once acknowledged");
    w.bot.set_health(HealthMode::Ok);
    for _ in 0..2 {
        run(&env, &["check"]).await;
    }
    let texts = slack.texts.lock().unwrap().clone();
    let resolved: Vec<_> = texts.iter().filter(|t| t.contains("[RESOLVED]")).collect();
    assert_eq!(resolved.len(), 1, "{texts:?}");
    assert!(
        resolved[0].contains("the bot answers /health again (bot-down lasted"),
        "{resolved:?}"
    );
}

/// `watchdog drill` (issue 16, part 3): on a healthy bot it deletes, drains and sets the
/// webhook again on purpose, drops nothing, and reports through the alert channels as a
/// [DRILL] message; on a bot that is down it runs nothing and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_runs_the_recovery_on_a_healthy_bot_and_reports_it() {
    let w = World::start().await;
    let (slack, url) = slack().await;
    let env = env_with_slack(&w, &url);
    let expected = w.sim.webhook_info()["url"].clone();
    let (deletes, sets) = (w.calls_to("deleteWebhook"), w.calls_to("setWebhook"));
    let (code, out) = run(&env, &["drill"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("drill passed"), "{out}");
    assert!(out.contains("dropped 0"), "{out}");
    assert_eq!(
        w.calls_to("deleteWebhook"),
        deletes + 1,
        "the webhook was deleted"
    );
    assert_eq!(w.calls_to("setWebhook"), sets + 1, "and set again");
    assert_eq!(w.sim.webhook_info()["url"], expected);
    let texts = slack.texts.lock().unwrap().clone();
    assert!(
        texts.len() == 1 && texts[0].contains("[DRILL]") && texts[0].contains("drill passed"),
        "{texts:?}"
    );
    // A bot that is down gets no drill.
    w.bot.set_health(HealthMode::Down);
    let (code, out) = run(&env, &["drill"]).await;
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("drill not run: the bot is not healthy"),
        "{out}"
    );
    assert_eq!(w.calls_to("deleteWebhook"), deletes + 1, "nothing touched");
    let texts = slack.texts.lock().unwrap().clone();
    assert!(
        texts.len() == 2 && texts[1].contains("[DRILL]") && texts[1].contains("drill not run"),
        "{texts:?}"
    );
}

/// A channel that keeps the subjects it was given.
#[derive(Default)]
pub(crate) struct Subjects(pub(crate) Mutex<Vec<String>>);

impl telbot_alerts::Notifier for Subjects {
    fn name(&self) -> &str {
        "capture"
    }
    fn takes_warnings(&self) -> bool {
        false
    }
    fn send<'a>(
        &'a self,
        msg: &'a telbot_alerts::Message,
    ) -> futures::future::BoxFuture<'a, Result<(), telbot_alerts::AlertError>> {
        self.0.lock().unwrap().push(msg.subject.clone());
        Box::pin(async { Ok(()) })
    }
}

fn run_with(level: watchdog::Level, at: i64) -> watchdog::RunReport {
    watchdog::RunReport {
        run: "liveness".into(),
        started_at: at,
        finished_at: at,
        findings: vec![watchdog::Finding {
            check: "bot".into(),
            incident: watchdog::incident::BOT_STORE,
            level,
            reason: "the bot's store is not ok".into(),
            evidence: serde_json::Value::Null,
            repaired: false,
        }],
        actions: vec![],
    }
}

/// The shared SQLite volume full: the watchdog's own incident state cannot be written either.
/// The runs wait in memory and the incident is paged once (late) and resolved once when the
/// store takes writes again — before, the runs were dropped and nothing was ever sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_the_store_refused_are_fed_again_and_page_once() {
    use telbot_shared::config::{EnvMap, StoreConfig, load, section};
    use watchdog::AlertSink;
    let dir = tempfile::tempdir().unwrap();
    let env: EnvMap = [(
        "DATABASE_URL".to_string(),
        format!("sqlite://{}/t.db", dir.path().display()),
    )]
    .into_iter()
    .collect();
    let cfg = load(None, &env).unwrap();
    let db = telbot_shared::store::connect(
        &StoreConfig::from_section(section(&cfg, "store").unwrap()).unwrap(),
    )
    .await
    .unwrap();
    let alerts = telbot_alerts::AlertsConfig::load(&cfg, &env).unwrap();
    let seen = Arc::new(Subjects::default());
    let pipeline = telbot_alerts::AlertPipeline::with_notifiers(
        alerts,
        db.clone(),
        vec![seen.clone() as Arc<dyn telbot_alerts::Notifier>],
        Vec::<secrecy::SecretString>::new(),
    );
    let sink = watchdog::PipelineSink::new(pipeline, None);
    // Writes refused, as on a full disk (reads still work).
    for t in ["alert_incidents", "alert_outbox"] {
        for op in ["INSERT", "UPDATE"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE TRIGGER full_{t}_{op} BEFORE {op} ON {t} BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
            )))
            .execute(&db.pool)
            .await
            .unwrap();
        }
    }
    let t0 = telbot_shared::unix_now() - 600;
    for i in 0..4 {
        sink.observe(&run_with(watchdog::Level::Critical, t0 + i * 30))
            .await;
    }
    assert_eq!(sink.waiting(), 4, "the refused runs wait in memory");
    assert!(seen.0.lock().unwrap().is_empty());
    for t in ["alert_incidents", "alert_outbox"] {
        for op in ["INSERT", "UPDATE"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP TRIGGER full_{t}_{op}")))
                .execute(&db.pool)
                .await
                .unwrap();
        }
    }
    for i in 4..7 {
        sink.observe(&run_with(watchdog::Level::Ok, t0 + i * 30))
            .await;
    }
    assert_eq!(sink.waiting(), 0);
    let subjects = seen.0.lock().unwrap().clone();
    let critical = subjects
        .iter()
        .filter(|s| s.starts_with("[CRITICAL]"))
        .count();
    let resolved = subjects
        .iter()
        .filter(|s| s.starts_with("[RESOLVED]"))
        .count();
    assert_eq!((critical, resolved), (1, 1), "{subjects:?}");
}
