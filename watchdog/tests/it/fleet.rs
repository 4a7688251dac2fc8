//! A fleet (issue 16, part 1): one `watchdog check` over three bots on three telegram-sims —
//! one stuck behind a failing webhook, one down, one healthy — gives each the right repair and
//! alert, with nothing crossing between them; `--bot` selects one.

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use common::{HealthMode, SECRET, World};
use telegram_sim::{Upd, WebhookFault};

async fn slack() -> (Arc<Mutex<Vec<String>>>, String) {
    let texts: Arc<Mutex<Vec<String>>> = Arc::default();
    let t = texts.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |body: axum::Json<serde_json::Value>| {
            let t = t.clone();
            async move {
                t.lock()
                    .unwrap()
                    .push(body["text"].as_str().unwrap_or_default().to_string());
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (texts, url)
}

fn entry(name: &str, w: &World) -> String {
    format!(
        r#"
[[bots]]
name = "{name}"
token_env = "{env}_TOKEN"
public_url = "{url}"
webhook_secret_env = "FLEET_SECRET"
database_url = "sqlite://{dir}/telbot.db?mode=rwc"
[bots.telegram]
api_url = "{api}"
[bots.watchdog.restart]
render_service_id = "srv-{name}"
render_api_url = "{platform}"
"#,
        env = name.to_uppercase(),
        url = w.bot.url,
        dir = w.dir.path().display(),
        api = w.sim.base_url(),
        platform = w.platform.url,
    )
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
    assert!(!text.contains(SECRET), "secret leaked: {text}");
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_watchdog_three_bots_each_gets_its_own_repair_and_alert() {
    let (stuck, down, fine) = (
        World::start().await,
        World::start().await,
        World::start().await,
    );
    let (texts, slack_url) = slack().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.toml");
    std::fs::write(
        &file,
        [("stuckbot", &stuck), ("downbot", &down), ("okbot", &fine)]
            .iter()
            .map(|(n, w)| entry(n, w))
            .collect::<String>(),
    )
    .unwrap();
    let mut env: HashMap<String, String> = stuck
        .env
        .iter()
        .filter(|(k, _)| k.starts_with("TELBOT__") || k.as_str() == "RENDER_API_KEY")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in [
        ("STUCKBOT_TOKEN", stuck.sim.token()),
        ("DOWNBOT_TOKEN", down.sim.token()),
        ("OKBOT_TOKEN", fine.sim.token()),
        ("FLEET_SECRET", SECRET.to_string()),
        ("SLACK_WEBHOOK_URL", slack_url),
        ("TELBOT__ALERTS__FAILURE_THRESHOLD", "1".into()),
    ] {
        env.insert(k.into(), v);
    }
    let file = file.to_str().unwrap();

    stuck.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..20 {
        stuck.sim.inject(Upd::text(300 + (i % 4), format!("{i}")));
    }
    stuck
        .wait("a delivery error", |s| {
            s.webhook_info()["last_error_message"]
                .as_str()
                .is_some_and(|m| m.contains("500"))
        })
        .await;
    down.bot.set_health(HealthMode::Down);
    let sets = |w: &World| w.calls_to("setWebhook");
    let (sets_before, deletes_before) = (
        [sets(&stuck), sets(&down), sets(&fine)],
        [
            stuck.calls_to("deleteWebhook"),
            down.calls_to("deleteWebhook"),
            fine.calls_to("deleteWebhook"),
        ],
    );

    let (code, out) = run(&env, &["--config", file, "check"]).await;
    assert_eq!(code, 2, "the down bot is critical:\n{out}");
    assert!(
        out.contains("[stuckbot] action lossless-recovery (webhook-stuck): succeeded"),
        "{out}"
    );
    assert!(
        out.contains("[downbot] action restart (bot-down): succeeded"),
        "{out}"
    );
    assert!(out.lines().any(|l| l == "[okbot] ok"), "{out}");

    // The stuck bot: drained and replayed to its own bot, webhook set again; nothing else.
    stuck
        .wait("20 replies", |s| s.sent_messages().len() == 20)
        .await;
    assert_eq!(stuck.sim.pending_update_count(), 0);
    assert!(stuck.sim.dropped_updates().is_empty());
    assert_eq!(stuck.calls_to("deleteWebhook"), deletes_before[0] + 1);
    assert_eq!(stuck.bot.order().len(), 20);
    assert_eq!(stuck.platform.count(), 0, "no restart for the stuck bot");
    // The down bot: restarted through its own service id; its webhook left alone.
    assert_eq!(
        *down.platform.restarts.lock().unwrap(),
        vec!["srv-downbot".to_string()]
    );
    assert_eq!(down.calls_to("deleteWebhook"), deletes_before[1]);
    assert_eq!(sets(&down), sets_before[1]);
    assert!(down.bot.order().is_empty());
    // The healthy bot: nothing touched.
    assert_eq!(fine.calls_to("deleteWebhook"), deletes_before[2]);
    assert_eq!(sets(&fine), sets_before[2]);
    assert_eq!(fine.platform.count(), 0);
    assert!(fine.bot.order().is_empty() && fine.sim.sent_messages().is_empty());
    // Alerts name their bot: one critical, for the down bot.
    let t = texts.lock().unwrap().clone();
    let critical: Vec<&String> = t.iter().filter(|x| x.contains("[CRITICAL]")).collect();
    assert_eq!(critical.len(), 1, "{t:?}");
    assert!(critical[0].starts_with("[CRITICAL] downbot: "), "{t:?}");
    assert!(!t.iter().any(|x| x.contains("okbot")), "{t:?}");

    // --bot selects one; an unknown name is a usage error.
    let (code, out) = run(&env, &["--config", file, "--bot", "okbot", "check"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.contains("downbot") && !out.contains("stuckbot"),
        "{out}"
    );
    let (code, out) = run(&env, &["--config", file, "--bot", "nobot", "check"]).await;
    assert_eq!(code, 64, "{out}");
    assert!(out.contains("okbot"), "lists the configured bots: {out}");
    // The down bot's incident is its own: acknowledged there, unknown to the others.
    let (code, out) = run(
        &env,
        &[
            "--config", file, "--bot", "downbot", "ack", "bot-down", "--by", "alice",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(
        &env,
        &["--config", file, "--bot", "okbot", "ack", "bot-down"],
    )
    .await;
    assert_eq!(code, 1, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_bots_on_one_store_or_a_missing_token_are_refused() {
    let w = World::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.toml");
    std::fs::write(&file, format!("{}{}", entry("abot", &w), entry("bbot", &w))).unwrap();
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("ABOT_TOKEN".into(), w.sim.token());
    env.insert("BBOT_TOKEN".into(), w.sim.token());
    env.insert("FLEET_SECRET".into(), SECRET.into());
    env.insert("RENDER_API_KEY".into(), common::RENDER_KEY.into());
    let file = file.to_str().unwrap();
    let (code, out) = run(&env, &["--config", file, "check"]).await;
    assert_eq!(code, 78, "{out}");
    assert!(
        out.contains("bots[bbot].database_url") && out.contains("abot"),
        "{out}"
    );
    env.remove("BBOT_TOKEN");
    let (code, out) = run(&env, &["--config", file, "check"]).await;
    assert_eq!(code, 78, "{out}");
    assert!(
        out.contains("bots[bbot].token_env") && out.contains("BBOT_TOKEN"),
        "{out}"
    );
}

/// `watchdog run` over a fleet: every bot's schedules run in one daemon, and every metric
/// series names its bot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_runs_every_bot_and_labels_their_metrics() {
    let (a, b) = (World::start().await, World::start().await);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.toml");
    std::fs::write(&file, format!("{}{}", entry("abot", &a), entry("bbot", &b))).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut env: HashMap<String, String> = a
        .env
        .iter()
        .filter(|(k, _)| k.starts_with("TELBOT__") || k.as_str() == "RENDER_API_KEY")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in [
        ("ABOT_TOKEN", a.sim.token()),
        ("BBOT_TOKEN", b.sim.token()),
        ("FLEET_SECRET", SECRET.to_string()),
        (
            "TELBOT__WATCHDOG__METRICS_LISTEN",
            format!("127.0.0.1:{port}"),
        ),
    ] {
        env.insert(k.into(), v);
    }
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_watchdog"))
        .args(["--config", file.to_str().unwrap(), "run"])
        .env_clear()
        .envs(&env)
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let want = [
        r#"telbot_watchdog_webhook_url_ok{bot="abot"} 1"#,
        r#"telbot_watchdog_webhook_url_ok{bot="bbot"} 1"#,
    ];
    let mut body = String::new();
    for _ in 0..300 {
        if let Ok(r) = reqwest::get(&url).await {
            body = r.text().await.unwrap_or_default();
            if want.iter().all(|w| body.contains(w)) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill().await;
    for w in want {
        assert!(body.contains(w), "{w} missing:\n{body}");
    }
    for line in body.lines().filter(|l| l.starts_with("telbot_watchdog_")) {
        assert!(line.contains("bot=\""), "a series without its bot: {line}");
    }
    assert!(a.calls_to("getWebhookInfo") > 0 && b.calls_to("getWebhookInfo") > 0);
}
