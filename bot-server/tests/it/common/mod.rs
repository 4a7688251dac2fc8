//! Shared set-up for bot-server's integration tests: a telegram-sim, a store (SQLite in a
//! temp dir or a throwaway PostgreSQL server), and the bot in-process or as its binary. Also
//! the set-up of `crates/reference-bot/tests/it` (included there by path), hence the allows.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use bot_server::AppState;
use bot_server::{BotConfig, Exit};
use telbot_testkit::PgServer;
use telegram_sim::Sim;
use tokio_util::sync::CancellationToken;

pub(crate) const SECRET: &str = "test_secret-123";
pub(crate) const ADMIN: &str = "admin-token-xyz";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A store for one test; dropping it removes it.
pub(crate) struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    pub pg: Option<PgServer>,
}

impl TestDb {
    pub(crate) fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}/telbot.db?mode=rwc", dir.path().display());
                TestDb { url, dir, pg: None }
            }
            Backend::Postgres => {
                let pg =
                    PgServer::start().unwrap_or_else(|e| panic!("PostgreSQL test server: {e}"));
                TestDb {
                    url: pg.url(),
                    dir,
                    pg: Some(pg),
                }
            }
        }
    }
}

pub(crate) async fn sim() -> Sim {
    Sim::builder()
        .allow_http_loopback(true)
        .time_scale(0.01)
        .set_webhook_rate_limit(false)
        .start()
        .await
        .unwrap()
}

/// The environment a test bot runs with (webhook mode on `port`).
pub(crate) fn env(sim: &Sim, db: &TestDb, port: u16) -> HashMap<String, String> {
    let mut e = HashMap::new();
    e.insert("TELEGRAM_BOT_TOKEN".into(), sim.token());
    e.insert("TELEGRAM_API_URL".into(), sim.base_url());
    e.insert("PUBLIC_URL".into(), format!("http://127.0.0.1:{port}"));
    e.insert("PORT".into(), port.to_string());
    e.insert("WEBHOOK_SECRET".into(), SECRET.into());
    e.insert("ADMIN_TOKEN".into(), ADMIN.into());
    e.insert("DATABASE_URL".into(), db.url.clone());
    e.insert("DATA_DIR".into(), db.dir.path().display().to_string());
    e.insert("TELBOT__SERVER__HOST".into(), "127.0.0.1".into());
    e.insert("TELBOT__TELEGRAM__RATE_LIMIT".into(), "false".into());
    e.insert("TELBOT__TELEGRAM__BACKOFF_BASE".into(), "50ms".into());
    e.insert("TELBOT__WEBHOOK__RESTORE_INTERVAL".into(), "1s".into());
    e.insert("TELBOT__INBOX__RETRY_DELAY".into(), "50ms".into());
    e.insert("TELBOT__SERVER__GRACE_PERIOD".into(), "10s".into());
    // The test machine's own disk must not turn the dashboard yellow (tests that want a
    // resource warning set a level of their own).
    e.insert("TELBOT__LIMITS__DISK_WARN_PERCENT".into(), "100".into());
    e.insert("TELBOT__LIMITS__DISK_CRITICAL_PERCENT".into(), "100".into());
    e
}

/// A bot running in this process.
pub(crate) struct RunningBot {
    pub addr: std::net::SocketAddr,
    pub state: AppState,
    pub stop: CancellationToken,
    pub handle: tokio::task::JoinHandle<Exit>,
}

impl RunningBot {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub(crate) async fn stop(self) -> Exit {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.handle)
            .await
            .unwrap()
            .unwrap()
    }
}

/// Binds first so PUBLIC_URL can name the port, then builds and runs the reference bot
/// (`telbot-reference-bot`, the `bot-server` binary's program).
pub(crate) async fn start_bot(sim: &Sim, db: &TestDb, extra: &[(&str, &str)]) -> RunningBot {
    start_program(reference(sim, db, extra)).await
}

/// The reference bot's program on the tests' settings with `extra` over them, its own keys
/// (`[ai]`, `bot.admin_chat_ids`) read from the same environment.
pub(crate) fn reference(
    sim: &Sim,
    db: &TestDb,
    extra: &[(&str, &str)],
) -> bot_server::DispatcherBuilder<telbot_reference_bot::HandlerError> {
    let (cfg, listener, e) = config_env(sim, db, extra);
    telbot_reference_bot::program(cfg, None, &e)
        .unwrap()
        .listener(listener)
}

/// [`start_bot`] with a handler tree of the test's own.
pub(crate) async fn start_bot_with<E: std::fmt::Debug + Send + Sync + 'static>(
    sim: &Sim,
    db: &TestDb,
    extra: &[(&str, &str)],
    tree: teloxide::dispatching::UpdateHandler<E>,
) -> RunningBot {
    let (cfg, listener) = config(sim, db, extra);
    start_program(bot_server::Dispatcher::builder(cfg, tree).listener(listener)).await
}

/// The bot-server settings of the tests, with `extra` over them, and the listener whose port
/// they name.
pub(crate) fn config(
    sim: &Sim,
    db: &TestDb,
    extra: &[(&str, &str)],
) -> (BotConfig, tokio::net::TcpListener) {
    let (cfg, listener, _) = config_env(sim, db, extra);
    (cfg, listener)
}

/// [`config`] and the environment it was loaded from.
pub(crate) fn config_env(
    sim: &Sim,
    db: &TestDb,
    extra: &[(&str, &str)],
) -> (BotConfig, tokio::net::TcpListener, HashMap<String, String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut e = env(sim, db, port);
    for (k, v) in extra {
        e.insert((*k).into(), (*v).into());
    }
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    (BotConfig::load(None, &e).unwrap(), listener, e)
}

/// [`start_bot_with`] for a whole program (default and error handlers, dependencies…).
pub(crate) async fn start_program<E: std::fmt::Debug + Send + Sync + 'static>(
    program: bot_server::DispatcherBuilder<E>,
) -> RunningBot {
    let app = program.start().await.unwrap();
    let addr = app.addr();
    let state = app.state();
    let stop = app.shutdown_token();
    let handle = tokio::spawn(app.run_until_stopped());
    RunningBot {
        addr,
        state,
        stop,
        handle,
    }
}

/// POSTs a body to the bot's webhook with (or without) the secret.
pub(crate) async fn post_update(
    bot: &RunningBot,
    body: &str,
    secret: Option<&str>,
) -> reqwest::StatusCode {
    let mut req = reqwest::Client::new()
        .post(bot.url("/webhook"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(s) = secret {
        req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
    }
    req.send().await.unwrap().status()
}

pub(crate) async fn health(bot: &RunningBot) -> serde_json::Value {
    reqwest::get(bot.url("/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Replies the sim recorded, per chat.
pub(crate) fn replies_per_chat(sim: &Sim) -> HashMap<i64, usize> {
    let mut m = HashMap::new();
    for s in sim.sent_messages() {
        *m.entry(s.chat_id).or_insert(0) += 1;
    }
    m
}

pub(crate) use telbot_testkit::{wait_until, wait_until_async};

/// Waits until the inbox row of `update_id` has `status`; returns (status, attempts).
pub(crate) async fn wait_status(
    db: &telbot_shared::store::Db,
    update_id: i64,
    status: i64,
) -> Option<(i64, i64)> {
    let mut row = None;
    for _ in 0..250 {
        row = bot_server::testing::sql::status_of(db, update_id)
            .await
            .unwrap();
        if row.is_some_and(|r| r.0 == status) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    row
}

/// This process's resident memory (VmRSS) in KiB.
pub(crate) fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Waits until `total` replies were sent and the instances recorded `total` completions, then
/// checks no update was answered twice (a second run of any update would have sent by then).
pub(crate) async fn answered_once(sim: &Sim, bots: &[&RunningBot], total: usize) {
    assert!(
        sim.wait_for(Duration::from_secs(60), |s| s.sent_messages().len()
            >= total)
            .await,
        "only {} of {total} replies",
        sim.sent_messages().len()
    );
    let completions = || async {
        let mut n = 0;
        for b in bots {
            n += health(b).await["updates"]["processed"]
                .as_u64()
                .unwrap_or(0);
        }
        n
    };
    assert!(
        wait_until_async(Duration::from_secs(20), || async {
            completions().await >= total as u64
        })
        .await,
        "{} of {total} completions recorded",
        completions().await
    );
    assert_eq!(sim.sent_messages().len(), total, "no update answered twice");
}

/// `/health` once the inbox is empty (at most 5 s): a handler's reply reaches Telegram a moment
/// before its completion is committed, so a read right after the last reply can still count it.
pub(crate) async fn health_settled(bot: &RunningBot) -> serde_json::Value {
    let mut h = health(bot).await;
    for _ in 0..50 {
        if h["updates"]["inbox_depth"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        h = health(bot).await;
    }
    h
}

/// The CSRF token the dashboard embeds in `<meta name="csrf-token">`.
pub(crate) fn csrf_of(html: &str) -> String {
    let pat = r#"name="csrf-token" content=""#;
    let at = html.find(pat).expect("csrf meta") + pat.len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

/// The dashboard page as the session `cookie` (`name=value`) sees it.
pub(crate) async fn page_with_cookie(
    c: &reqwest::Client,
    bot: &RunningBot,
    cookie: &str,
) -> String {
    c.get(bot.url("/bot/dashboard"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
