//! Test harness: a telegram-sim, a stand-in bot (axum) that answers /health, /webhook (secret,
//! dedup by update_id, one sendMessage reply per new update) and /webhook/health, a stand-in
//! platform API counting restarts, and a config pointing the watchdog at them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};
use telegram_sim::Sim;
use watchdog::WatchdogConfig;
use watchdog::{Clock, ManualClock};
use watchdog::{LogSink, Watchdog};

mod stored;

pub(crate) const SECRET: &str = "s3cret_Wh-token";
pub(crate) const RENDER_KEY: &str = "rnd_supersecretkey";

/// How the stand-in bot's /health answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum HealthMode {
    Ok,
    Down,
    Rss(u64),
    /// Healthy, with this many parked updates.
    Parked(u64),
    /// A front (load balancer, platform router) answering 502 without a health document.
    BadGateway,
}

#[derive(Debug)]
pub(crate) struct BotState {
    pub health: HealthMode,
    pub seen: HashSet<i64>,
    /// update_ids in the order the bot took them.
    pub order: Vec<i64>,
    pub unauthorized: u32,
    pub api: String,
    pub http: reqwest::Client,
    /// Answer each new update with its reply in the 200's body (bot-server's
    /// `webhook.reply_in_answer`) instead of calling sendMessage.
    pub reply_in_answer: bool,
    /// How long a webhook POST without the secret waits before its 401 (a hung probe).
    pub webhook_delay: Duration,
    /// The method of the reply in the answer (`reply_in_answer`): `sendMessage`, or a
    /// hostile bot's other call.
    pub answer_method: String,
    /// bot-server's stored replies (`webhook.reply_in_answer`): each new update's reply is kept
    /// in the store's inbox with it, and a redelivery is answered with what is still stored.
    pub store: Option<telbot_shared::store::Db>,
    /// update_id → how many more POSTs of it to refuse with 500.
    pub refuse: HashMap<i64, u32>,
    /// update_id → how many POSTs of it the bot took (first delivery and redeliveries).
    pub posts: HashMap<i64, u32>,
}

pub(crate) type Shared = Arc<Mutex<BotState>>;

pub(crate) struct Bot {
    pub url: String,
    pub state: Shared,
}

impl Bot {
    pub(crate) fn set_health(&self, m: HealthMode) {
        self.state.lock().unwrap().health = m;
    }
    pub(crate) fn set_webhook_delay(&self, d: Duration) {
        self.state.lock().unwrap().webhook_delay = d;
    }
    pub(crate) fn answer_with(&self, method: &str) {
        let mut st = self.state.lock().unwrap();
        st.reply_in_answer = true;
        st.answer_method = method.into();
    }
    pub(crate) fn reply_in_answer(&self) {
        self.state.lock().unwrap().reply_in_answer = true;
    }
    /// Keeps replies in `db`'s inbox as bot-server does (see [`BotState::store`]).
    pub(crate) fn keep_replies_in(&self, db: telbot_shared::store::Db) {
        let mut st = self.state.lock().unwrap();
        st.reply_in_answer = true;
        st.store = Some(db);
    }
    /// Refuses `update_id` with 500 the next `times` POSTs.
    pub(crate) fn refuse(&self, update_id: i64, times: u32) {
        self.state.lock().unwrap().refuse.insert(update_id, times);
    }
    /// How many POSTs of `update_id` the bot took.
    pub(crate) fn posts_of(&self, update_id: i64) -> u32 {
        self.state
            .lock()
            .unwrap()
            .posts
            .get(&update_id)
            .copied()
            .unwrap_or(0)
    }
    pub(crate) fn order(&self) -> Vec<i64> {
        self.state.lock().unwrap().order.clone()
    }
}

async fn health(State(s): State<Shared>) -> axum::response::Response {
    let mode = s.lock().unwrap().health;
    if mode == HealthMode::BadGateway {
        return (StatusCode::BAD_GATEWAY, "Bad Gateway").into_response();
    }
    let (code, status, rss, parked) = match mode {
        HealthMode::Ok => (StatusCode::OK, "ok", 20u64 << 20, 0),
        HealthMode::Down => (StatusCode::SERVICE_UNAVAILABLE, "down", 20 << 20, 0),
        HealthMode::Rss(b) => (StatusCode::OK, "ok", b, 0),
        HealthMode::Parked(n) => (StatusCode::OK, "ok", 20 << 20, n),
        HealthMode::BadGateway => (StatusCode::BAD_GATEWAY, "down", 0, 0),
    };
    (
        code,
        Json(
            json!({"status": status, "version": "test", "mode": "webhook", "checks": {"store": {"status": "ok"}}, "process": {"rss_bytes": rss, "cpu_percent": 1.0}, "updates": {"received": 0, "processed": 0, "failed": 0, "duplicates": 0, "inbox_depth": 0, "parked": parked}}),
        ),
    )
        .into_response()
}

async fn webhook(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(update): Json<Value>,
) -> axum::response::Response {
    let ok = headers
        .get("x-telegram-bot-api-secret-token")
        .and_then(|v| v.to_str().ok())
        == Some(SECRET);
    if !ok {
        let delay = {
            let mut st = s.lock().unwrap();
            st.unauthorized += 1;
            st.webhook_delay
        };
        tokio::time::sleep(delay).await;
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let (api, http, new, in_answer, store) = {
        let mut st = s.lock().unwrap();
        let Some(id) = update.get("update_id").and_then(Value::as_i64) else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        if let Some(n) = st.refuse.get_mut(&id)
            && *n > 0
        {
            *n -= 1;
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        *st.posts.entry(id).or_default() += 1;
        let new = st.seen.insert(id);
        if new {
            st.order.push(id);
        }
        (
            st.api.clone(),
            st.http.clone(),
            new,
            st.reply_in_answer.then(|| st.answer_method.clone()),
            st.store.clone(),
        )
    };
    if let Some(db) = &store {
        return stored::answer(db, &update, new, in_answer.as_deref()).await;
    }
    if new && let Some(chat) = update.pointer("/message/chat/id").and_then(Value::as_i64) {
        let text = update
            .pointer("/message/text")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let reply = json!({"chat_id": chat, "text": format!("echo: {text}")});
        if let Some(method) = in_answer {
            let mut body = json!({ "method": method });
            body.as_object_mut()
                .unwrap()
                .extend(reply.as_object().unwrap().clone());
            return Json(body).into_response();
        }
        let _ = http
            .post(format!("{api}/sendMessage"))
            .json(&reply)
            .send()
            .await;
    }
    StatusCode::OK.into_response()
}

async fn webhook_health() -> Json<Value> {
    Json(
        json!({"webhook_info": {"is_healthy": true, "problems": []}, "expected_url": "", "checked_at": ""}),
    )
}

/// Starts the stand-in bot, replying through `sim`.
pub(crate) async fn start_bot(sim: &Sim) -> Bot {
    let state: Shared = Arc::new(Mutex::new(BotState {
        health: HealthMode::Ok,
        seen: HashSet::new(),
        order: Vec::new(),
        unauthorized: 0,
        api: format!("{}/bot{}", sim.base_url(), sim.token()),
        http: reqwest::Client::new(),
        reply_in_answer: false,
        webhook_delay: Duration::ZERO,
        answer_method: "sendMessage".into(),
        store: None,
        refuse: HashMap::new(),
        posts: HashMap::new(),
    }));
    let app = axum::Router::new()
        .route("/health", get(health))
        .route("/webhook", post(webhook))
        .route("/webhook/health", get(webhook_health))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Bot { url, state }
}

/// A stand-in platform: counts `POST /v1/services/{id}/restart` with the right key.
#[derive(Clone)]
pub(crate) struct Platform {
    pub url: String,
    pub restarts: Arc<Mutex<Vec<String>>>,
}

impl Platform {
    pub(crate) fn count(&self) -> usize {
        self.restarts.lock().unwrap().len()
    }
}

pub(crate) async fn start_platform() -> Platform {
    let restarts: Arc<Mutex<Vec<String>>> = Arc::default();
    let r = restarts.clone();
    let app = axum::Router::new().route(
        "/v1/services/{id}/restart",
        post(move |Path(id): Path<String>, headers: HeaderMap| {
            let r = r.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                if auth != format!("Bearer {RENDER_KEY}") {
                    return StatusCode::UNAUTHORIZED;
                }
                r.lock().unwrap().push(id);
                StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Platform { url, restarts }
}

pub(crate) async fn start_sim() -> Sim {
    Sim::builder()
        .allow_http_loopback(true)
        .time_scale(0.01)
        .set_webhook_rate_limit(false)
        .start()
        .await
        .unwrap()
}

/// Registers the webhook the way bot-server does at start.
pub(crate) async fn register_webhook(sim: &Sim, bot: &Bot) {
    let r = sim
        .call_as_client("setWebhook", json!({"url": format!("{}/webhook", bot.url), "secret_token": SECRET, "max_connections": 40, "allowed_updates": ["message", "edited_message", "callback_query", "my_chat_member"]}))
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "{r}");
}

/// The environment a watchdog (library or binary) runs with.
pub(crate) fn env(
    sim: &Sim,
    bot_url: &str,
    platform: Option<&Platform>,
    db: &std::path::Path,
) -> HashMap<String, String> {
    let mut e: HashMap<String, String> = [
        ("TELEGRAM_BOT_TOKEN", sim.token()),
        ("TELEGRAM_API_URL", sim.base_url()),
        ("PUBLIC_URL", bot_url.to_string()),
        ("WEBHOOK_SECRET", SECRET.to_string()),
        (
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", db.join("telbot.db").display()),
        ),
        ("TELBOT__TELEGRAM__BACKOFF_BASE", "10ms".into()),
        ("TELBOT__TELEGRAM__BACKOFF_MAX", "50ms".into()),
        ("TELBOT__TELEGRAM__RATE_LIMIT", "false".into()),
        ("TELBOT__TELEGRAM__REQUEST_TIMEOUT", "5s".into()),
        ("TELBOT__WATCHDOG__BOT__INTERVAL", "20ms".into()),
        ("TELBOT__WATCHDOG__HTTP_TIMEOUT", "2s".into()),
        // The stand-in bot has no inbox to take a canary through; the canary is tested
        // against bot-server itself (bot-server/tests/it/canary.rs).
        ("TELBOT__WATCHDOG__CANARY_DEADLINE", "0s".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(p) = platform {
        e.insert("RENDER_API_KEY".into(), RENDER_KEY.into());
        e.insert("RENDER_SERVICE_ID".into(), "srv-test".into());
        e.insert(
            "TELBOT__WATCHDOG__RESTART__RENDER_API_URL".into(),
            p.url.clone(),
        );
    }
    e
}

pub(crate) async fn watchdog(env: &HashMap<String, String>, clock: Arc<dyn Clock>) -> Watchdog {
    let cfg = WatchdogConfig::load(None, env).unwrap();
    Watchdog::build_with(cfg, clock, Arc::new(LogSink))
        .await
        .unwrap()
}

/// Sim, bot, platform, temp dir, a manual clock at the real time, and the env.
pub(crate) struct World {
    pub sim: Sim,
    pub bot: Bot,
    pub platform: Platform,
    pub dir: tempfile::TempDir,
    pub clock: ManualClock,
    pub env: HashMap<String, String>,
}

impl World {
    pub(crate) async fn start() -> World {
        let sim = start_sim().await;
        let bot = start_bot(&sim).await;
        register_webhook(&sim, &bot).await;
        let platform = start_platform().await;
        let dir = tempfile::tempdir().unwrap();
        let env = env(&sim, &bot.url, Some(&platform), dir.path());
        World {
            sim,
            bot,
            platform,
            dir,
            clock: ManualClock::at(telbot_shared::unix_now()),
            env,
        }
    }

    pub(crate) async fn watchdog(&self) -> Watchdog {
        watchdog(&self.env, Arc::new(self.clock.clone())).await
    }

    /// Calls to `method` the watchdog (or anyone) made after `since` calls were recorded.
    pub(crate) fn calls_to(&self, method: &str) -> usize {
        self.sim.calls_to(method).len()
    }

    /// A lossless recovery of `n` updates of `chat` (deliveries failing) caught between
    /// deleteWebhook and setWebhook (getUpdates hangs) and cancelled there, as a killed
    /// watchdog leaves it: the phase in the store, the webhook deleted. Returns once the
    /// cancelled run's recovery lock is released.
    pub(crate) async fn interrupted_recovery(&self, chat: i64, n: usize) {
        let wd = self.watchdog().await;
        self.sim
            .break_webhook(telegram_sim::WebhookFault::Status(500));
        for i in 0..n {
            self.sim
                .inject(telegram_sim::Upd::text(chat, format!("{i}")));
        }
        self.sim.fail_method(
            "getUpdates",
            telegram_sim::ApiFault::Slow(Duration::from_secs(30)),
            1,
        );
        let task = tokio::spawn(async move { wd.recover(false).await });
        self.wait("deleteWebhook", |s| !s.calls_to("deleteWebhook").is_empty())
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        task.abort(); // as if the run were cancelled half way
        let _ = task.await;
        // The cancelled run's lock is released in the background (a killed process's lease
        // expires after telbot_shared::lease::LEASE_TTL instead).
        let db = self.watchdog().await.ctx().store.db().clone();
        let free = telbot_testkit::wait_until_async(Duration::from_secs(2), || async {
            telbot_shared::lease::holder(&db).await.unwrap().is_none()
        })
        .await;
        assert!(free, "the cancelled run's recovery lock is released");
    }

    pub(crate) async fn wait(&self, what: &str, f: impl Fn(&Sim) -> bool) {
        assert!(
            self.sim.wait_for(Duration::from_secs(20), f).await,
            "timed out waiting for {what}"
        );
    }
}

/// Runs the watchdog binary with exactly `env`; its exit code and stdout + stderr.
pub(crate) async fn run_binary(env: &HashMap<String, String>, args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_watchdog"))
        .args(args)
        .env_clear()
        .envs(env)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("watchdog hung")
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}
