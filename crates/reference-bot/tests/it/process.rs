//! The real binary: config errors, secrets in logs, the memory guard, SIGTERM, kill -9.

use crate::common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use telegram_sim::{ApiFault, Upd};

/// A running `bot-server` whose stderr is drained as it is written: a log over the pipe's
/// 64 KiB (debug logging) would otherwise block the process on its next write.
pub(crate) struct Proc {
    child: Child,
    log: std::thread::JoinHandle<String>,
}

pub(crate) fn spawn(env: &HashMap<String, String>) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bot-server"))
        .env_clear()
        .envs(env)
        .env(
            "RUST_LOG",
            env.get("RUST_LOG")
                .cloned()
                .unwrap_or_else(|| "info".into()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    });
    Proc { child, log }
}

pub(crate) fn signal(p: &Proc, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &p.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

pub(crate) async fn wait_exit(mut p: Proc, timeout: Duration) -> (i32, String) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), p.log.join().unwrap());
        }
        if std::time::Instant::now() > deadline {
            let _ = p.child.kill();
            let _ = p.child.wait();
            panic!(
                "bot-server did not exit within {timeout:?}: {}",
                p.log.join().unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn wait_health(port: u16) {
    let url = format!("http://127.0.0.1:{port}/health");
    for _ in 0..500 {
        if reqwest::get(&url)
            .await
            .map(|r| r.status().is_success())
            .unwrap_or(false)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("bot-server did not become healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_config_value_stops_the_start_with_one_line_naming_it() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let mut e = env(&sim, &db, 1);
    e.insert("BOT_MODE".into(), "sideways".into());
    let (code, err) = wait_exit(spawn(&e), Duration::from_secs(10)).await;
    assert_eq!(code, 78);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("BOT_MODE (server.mode)"), "{err}");
    e.remove("BOT_MODE");
    e.remove("TELEGRAM_BOT_TOKEN");
    let (code, err) = wait_exit(spawn(&e), Duration::from_secs(10)).await;
    assert_eq!(code, 78);
    assert!(err.contains("TELEGRAM_BOT_TOKEN"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_appears_in_no_log_line_even_on_network_errors() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let port = telbot_testkit::free_port().unwrap();
    let mut e = env(&sim, &db, port);
    let token = "123456789:AAH-secretPartOfTheToken_0123456789ab";
    e.insert("TELEGRAM_BOT_TOKEN".into(), token.into());
    // Nothing listens there: every Bot API call fails with a network error naming the URL.
    e.insert(
        "TELEGRAM_API_URL".into(),
        format!("http://127.0.0.1:{}", telbot_testkit::free_port().unwrap()),
    );
    e.insert("RUST_LOG".into(), "debug".into());
    e.insert("TELBOT__WEBHOOK__SET_ATTEMPTS".into(), "2".into());
    e.insert("TELBOT__POLLING__TIMEOUT".into(), "1s".into());
    let child = spawn(&e);
    wait_health(port).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    signal(&child, "-TERM");
    let (code, log) = wait_exit(child, Duration::from_secs(30)).await;
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("setWebhook failed"),
        "the test must see failing calls: {log}"
    );
    assert!(
        log.contains("Connection refused") || log.contains("connect"),
        "{log}"
    );
    assert!(!log.contains(token), "token leaked: {log}");
    assert!(
        !log.contains("secretPartOfTheToken"),
        "token half leaked: {log}"
    );
    assert!(
        !log.contains(SECRET) && !log.contains(ADMIN),
        "secret leaked: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_logins_429s_and_logout_log_no_secret() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let port = telbot_testkit::free_port().unwrap();
    let mut e = env(&sim, &db, port);
    e.insert("RUST_LOG".into(), "debug".into());
    e.insert("TELBOT__DASHBOARD__LOGIN_MAX_FAILURES".into(), "2".into());
    let child = spawn(&e);
    wait_health(port).await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    // A login through the URL, the page, a logout.
    let r = c
        .get(url(&format!("/bot/dashboard?token={ADMIN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let html = c
        .get(url("/bot/dashboard"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let pat = r#"name="csrf-token" content=""#;
    let at = html.find(pat).unwrap() + pat.len();
    let csrf = &html[at..at + html[at..].find('"').unwrap()];
    let r = c
        .post(url("/bot/dashboard/logout"))
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Wrong tokens, then 429s, also for the right token in the URL.
    for _ in 0..2 {
        let r = c
            .get(url("/bot/dashboard?token=not-the-admin-token"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    for _ in 0..2 {
        let r = c
            .get(url(&format!("/bot/dashboard?token={ADMIN}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
    }
    signal(&child, "-TERM");
    let (code, log) = wait_exit(child, Duration::from_secs(30)).await;
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("dashboard sessions revoked") && log.contains("admin logins throttled"),
        "the test must see the logout and the throttle: {log}"
    );
    for secret in [ADMIN, SECRET, sim.token().as_str(), cookie.as_str()] {
        assert!(!log.contains(secret), "{secret:?} in the log: {log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passing_the_rss_limit_exits_gracefully_with_code_3() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let port = telbot_testkit::free_port().unwrap();
    let mut e = env(&sim, &db, port);
    e.insert("TELBOT__LIMITS__RSS_LIMIT_MB".into(), "1".into());
    e.insert("TELBOT__LIMITS__SAMPLE_INTERVAL".into(), "300ms".into());
    let (code, log) = wait_exit(spawn(&e), Duration::from_secs(30)).await;
    assert_eq!(code, bot_server::EXIT_MEMORY_LIMIT, "{log}");
    assert!(log.contains("resident memory above the limit"), "{log}");
    assert!(
        log.contains("in-flight handlers finished"),
        "graceful: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_handlers_and_exits_0() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let port = telbot_testkit::free_port().unwrap();
    let e = env(&sim, &db, port);
    let child = spawn(&e);
    wait_health(port).await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            == 1)
            .await
    );
    // The handler's sendMessage takes 2 s: SIGTERM arrives while it is in flight.
    sim.fail_method("sendMessage", ApiFault::Slow(Duration::from_secs(2)), 1);
    let id = sim.inject(Upd::command(77, "/start"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| !s
            .calls_to("sendMessage")
            .is_empty())
            .await
    );
    signal(&child, "-TERM");
    let (code, log) = wait_exit(child, Duration::from_secs(30)).await;
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("in-flight handlers finished"), "{log}");
    assert_eq!(sim.sent_messages().len(), 1);
    assert!(
        sim.calls_to("deleteWebhook").is_empty(),
        "shutdown must not delete the webhook"
    );
    // The update is marked done: a restart does not answer it again.
    let cfg = telbot_shared::config::StoreConfig::from_section(
        telbot_shared::config::section(&telbot_shared::config::load(None, &e).unwrap(), "store")
            .unwrap(),
    )
    .unwrap();
    let store = telbot_shared::store::connect(&cfg).await.unwrap();
    assert_eq!(wait_status(&store, id, 1).await.map(|r| r.0), Some(1));
}

async fn kill_9_then_restart(backend: Backend) {
    let sim = sim().await;
    let db = TestDb::new(backend);
    let port = telbot_testkit::free_port().unwrap();
    let mut e = env(&sim, &db, port);
    // The bound under test is inbox.workers; 32 keeps it tight.
    e.insert("TELBOT__INBOX__WORKERS".into(), "32".into());
    let child = spawn(&e);
    wait_health(port).await;
    let n = 300i64;
    for chat in 0..n {
        sim.inject(Upd::command(5000 + chat, "/start"));
    }
    assert!(
        sim.wait_for(Duration::from_secs(30), |s| s.sent_messages().len() >= 60)
            .await
    );
    signal(&child, "-KILL");
    let _ = wait_exit(child, Duration::from_secs(10)).await;
    let acked_before: std::collections::HashSet<i64> = sim
        .deliveries()
        .iter()
        .filter(|d| d.status == Some(200))
        .map(|d| d.update_id)
        .collect();
    assert!(!acked_before.is_empty());
    let child = spawn(&e);
    wait_health(port).await;
    assert!(
        sim.wait_for(Duration::from_secs(60), |s| replies_per_chat(s).len()
            == n as usize
            && s.pending_update_count() == 0)
            .await,
        "answered {} of {n} chats",
        replies_per_chat(&sim).len()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(&child, "-TERM");
    let _ = wait_exit(child, Duration::from_secs(30)).await;
    let per_chat = replies_per_chat(&sim);
    let twice = per_chat.values().filter(|&&c| c > 1).count();
    // Every acknowledged update was answered. A handler that had sent its reply but not yet
    // recorded it when the process died runs again: at most the in-flight ones (inbox.workers = 32).
    assert!(per_chat.values().all(|&c| c >= 1));
    assert!(twice <= 32, "{twice} chats answered twice");
    eprintln!(
        "kill -9: {} acknowledged before the kill, {twice} answered twice",
        acked_before.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_kill_9_while_delivering_then_restart_answers_every_acknowledged_update() {
    kill_9_then_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_kill_9_while_delivering_then_restart_answers_every_acknowledged_update() {
    kill_9_then_restart(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_webhook_secret_appears_in_no_log_line() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let port = telbot_testkit::free_port().unwrap();
    let mut e = env(&sim, &db, port);
    // A public URL and no WEBHOOK_SECRET: the binary generates one and keeps it in the store.
    e.remove("WEBHOOK_SECRET");
    e.insert("PUBLIC_URL".into(), "https://bot.example.com".into());
    e.insert("RUST_LOG".into(), "debug".into());
    let child = spawn(&e);
    wait_health(port).await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| !s
            .calls_to("setWebhook")
            .is_empty())
            .await
    );
    let store = {
        let cfg = telbot_shared::config::StoreConfig::from_section(
            telbot_shared::config::section(
                &telbot_shared::config::load(None, &e).unwrap(),
                "store",
            )
            .unwrap(),
        )
        .unwrap();
        telbot_shared::store::connect(&cfg).await.unwrap()
    };
    let generated = telbot_shared::webhook_secret::load(&store)
        .await
        .unwrap()
        .expect("a generated secret in the store");
    use secrecy::ExposeSecret;
    let generated = generated.expose_secret().to_string();
    assert_eq!(
        sim.calls_to("setWebhook")[0].params["secret_token"],
        generated.as_str()
    );
    // A forged delivery without it is refused, and logged without it.
    let refused = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhook"))
        .header("X-Telegram-Bot-Api-Secret-Token", "guess")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    signal(&child, "-TERM");
    let (code, log) = wait_exit(child, Duration::from_secs(30)).await;
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("generated"), "the start says so: {log}");
    assert!(
        !log.contains(&generated),
        "the generated secret leaked: {log}"
    );
}

/// The ops notes' "periodic resource usage logging" (issue 27 part 4): the binary writes one
/// `resources` line with RSS, its limit, CPU, memory, disk and open files every
/// `limits.resource_log_interval`, and a resource warning when a figure crosses its level.
#[tokio::test]
async fn the_binary_logs_its_resources_periodically_and_warns_past_a_level() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let port = telbot_testkit::free_port().unwrap();
    let mut e = env(&sim, &db, port);
    e.insert("TELBOT__LIMITS__SAMPLE_INTERVAL".into(), "200ms".into());
    e.insert("TELBOT__LIMITS__RESOURCE_LOG_INTERVAL".into(), "1s".into());
    // Any disk use is past this level.
    e.insert("TELBOT__LIMITS__DISK_WARN_PERCENT".into(), "0.01".into());
    let child = spawn(&e);
    wait_health(port).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    signal(&child, "-TERM");
    let (code, log) = wait_exit(child, Duration::from_secs(30)).await;
    assert_eq!(code, 0, "{log}");
    // The log may carry colour codes between a field's name and its value.
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("resources") && l.contains("rss_mb") && l.contains("disk_percent"))
        .collect();
    assert!(lines.len() >= 2, "one line a second: {log}");
    assert!(
        lines[0].contains("rss_limit_mb")
            && lines[0].contains("500")
            && lines[0].contains("open_fds"),
        "{}",
        lines[0]
    );
    assert_eq!(
        log.matches("resource warning: data disk").count(),
        1,
        "warned once when crossed, not every sample: {log}"
    );
}
