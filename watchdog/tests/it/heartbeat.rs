//! The heartbeat pings (healthchecks.io style, `HEARTBEAT_URL`) from the `watchdog` binary,
//! `check` and `run`, to a listener recording the paths: `/start` as a run begins, the bare
//! URL after a run without a critical finding, `/fail` after one with.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::Uri;
use telbot_shared::health::Status;

use crate::fake_bot::FakeWorld;

/// The part of the heartbeat URL a ping is told by (the URL is a credential in real life).
const CHECK_PATH: &str = "/ping/5f3c-watchdog";

/// A heartbeat endpoint on 127.0.0.1:0 recording each POST's path.
struct Pings {
    url: String,
    paths: Arc<Mutex<Vec<String>>>,
}

impl Pings {
    async fn start() -> Pings {
        let paths: Arc<Mutex<Vec<String>>> = Arc::default();
        let p = paths.clone();
        let app = axum::Router::new().fallback(move |uri: Uri| {
            let p = p.clone();
            async move {
                p.lock().unwrap().push(uri.path().to_string());
                "OK"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{CHECK_PATH}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Pings { url, paths }
    }

    /// The paths, each shortened to `start`, `success` or `fail`.
    fn seen(&self) -> Vec<&'static str> {
        self.paths
            .lock()
            .unwrap()
            .iter()
            .map(|p| match p.strip_prefix(CHECK_PATH) {
                Some("/start") => "start",
                Some("") => "success",
                Some("/fail") => "fail",
                _ => "other",
            })
            .collect()
    }

    fn clear(&self) {
        self.paths.lock().unwrap().clear();
    }
}

async fn world_with_heartbeat() -> (FakeWorld, Pings, HashMap<String, String>) {
    let w = FakeWorld::start().await;
    let pings = Pings::start().await;
    let mut env = w.env.clone();
    env.insert("HEARTBEAT_URL".into(), pings.url.clone());
    env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
    (w, pings, env)
}

async fn check(env: &HashMap<String, String>) -> (i32, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_watchdog"))
        .arg("check")
        .env_clear()
        .envs(env)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("watchdog check hung")
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains(CHECK_PATH), "the heartbeat URL was printed");
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_pings_start_then_success_or_fail() {
    let (w, pings, env) = world_with_heartbeat().await;
    let (code, out) = check(&env).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(pings.seen(), vec!["start", "success"]);

    pings.clear();
    // A webhook that takes posts without the secret: critical.
    w.bot.set(|a| a.accept_anyone = true);
    let (code, out) = check(&env).await;
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("webhook-auth"), "{out}");
    assert_eq!(pings.seen(), vec!["start", "fail"]);
}

async fn wait_for(pings: &Pings, what: &str, f: impl Fn(&[&'static str]) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !f(&pings.seen()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {:?}",
            pings.seen()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_pings_around_every_scheduled_run() {
    let (w, pings, mut env) = world_with_heartbeat().await;
    env.insert(
        "TELBOT__WATCHDOG__SCHEDULE__LIVENESS".into(),
        "* * * * * *".into(),
    );
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_watchdog"))
        .arg("run")
        .env_clear()
        .envs(&env)
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_for(&pings, "two healthy runs", |s| {
        s.iter().filter(|p| **p == "success").count() >= 2
    })
    .await;
    // Every run starts with /start and ends with one success ping, nothing else.
    let seen = pings.seen();
    assert_eq!(
        seen[..4],
        ["start", "success", "start", "success"],
        "{seen:?}"
    );

    // The bot goes down (and cannot be restarted: no platform configured): critical.
    w.bot.set(|a| a.health.status = Status::Down);
    wait_for(&pings, "a failed run", |s| s.contains(&"fail")).await;
    let seen = pings.seen();
    let fail = seen.iter().position(|p| *p == "fail").unwrap();
    assert_eq!(seen[fail - 1], "start", "{seen:?}");
    assert!(!seen.contains(&"other"), "{seen:?}");

    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("stops on SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blind_check_is_a_warning_that_pings_fail() {
    let (_w, pings, mut env) = world_with_heartbeat().await;
    // Both the Bot API and the bot are behind a connection that never answers.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", hole.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = hole.accept().await {
            held.push(s);
        }
    });
    env.insert("TELEGRAM_API_URL".into(), url.clone());
    env.insert("BOT_URL".into(), url);
    env.insert("TELBOT__TELEGRAM__REQUEST_TIMEOUT".into(), "300ms".into());
    env.insert("TELBOT__TELEGRAM__MAX_ATTEMPTS".into(), "1".into());
    env.insert("TELBOT__WATCHDOG__HTTP_TIMEOUT".into(), "300ms".into());
    env.insert("TELBOT__WATCHDOG__CHECK_TIMEOUT".into(), "3s".into());
    let (code, out) = check(&env).await;
    // A warning (the watcher cannot see), not a critical about the bot; the dead-man's switch
    // hears /fail.
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("watchdog-blind"), "{out}");
    assert_eq!(pings.seen(), vec!["start", "fail"]);
}
