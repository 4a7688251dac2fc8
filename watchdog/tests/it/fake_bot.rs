//! A small fake bot whose every answer a test sets: `/health` (a
//! [`telbot_shared::health::Health`] document, optionally slow, or held until released),
//! `/webhook` (401 without the secret, unless told to accept anyone) and `/webhook/health`
//! (healthy or not), and a telegram-sim with its webhook pointing at it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};
use telbot_shared::health::{CheckStatus, Health, Status};
use telegram_sim::Sim;
use tokio::sync::watch;

use crate::common::{self, SECRET};

/// What the fake bot answers, and what it saw.
#[derive(Debug)]
pub(crate) struct Answers {
    /// The `/health` document (503 when its status is `down`).
    pub health: Health,
    /// How long `/health` takes to answer.
    pub health_delay: Duration,
    /// `/health` requests from this index on (0-based) wait until [`FakeBot::release`].
    pub hold_from: Option<usize>,
    /// `/webhook` answers 200 to a POST without the secret (a bot that forgot to check it).
    pub accept_anyone: bool,
    /// `/webhook/health`'s `webhook_info.is_healthy`.
    pub webhook_healthy: bool,
    /// `/health` requests received.
    pub health_requests: usize,
    /// `/health` requests waiting for [`FakeBot::release`] now.
    pub held: usize,
    /// `/webhook/health` requests received.
    pub webhook_health_requests: usize,
}

#[derive(Clone)]
struct BotState {
    answers: Arc<Mutex<Answers>>,
    released: watch::Sender<bool>,
}

/// A running fake bot.
pub(crate) struct FakeBot {
    pub url: String,
    state: BotState,
}

/// A healthy bot's document: webhook mode, store ok, 20 MiB.
pub(crate) fn healthy() -> Health {
    let mut h = Health {
        status: Status::Ok,
        version: "fake".into(),
        mode: "webhook".into(),
        ..Health::default()
    };
    h.checks.insert("store".into(), CheckStatus::default());
    h.process.rss_bytes = 20 << 20;
    h
}

impl FakeBot {
    /// Changes what the bot answers.
    pub(crate) fn set(&self, f: impl FnOnce(&mut Answers)) {
        f(&mut self.state.answers.lock().unwrap());
    }

    /// Reads what the bot saw.
    pub(crate) fn get<T>(&self, f: impl FnOnce(&Answers) -> T) -> T {
        f(&self.state.answers.lock().unwrap())
    }

    /// Lets held `/health` requests (and later ones) answer.
    pub(crate) fn release(&self) {
        self.set(|a| a.hold_from = None);
        self.state.released.send_replace(true);
    }
}

async fn health(State(s): State<BotState>) -> impl IntoResponse {
    let (hold, delay) = {
        let mut a = s.answers.lock().unwrap();
        let n = a.health_requests;
        a.health_requests += 1;
        let hold = a.hold_from.is_some_and(|from| n >= from);
        if hold {
            a.held += 1;
        }
        (hold, a.health_delay)
    };
    if hold {
        let mut rx = s.released.subscribe();
        let _ = rx.wait_for(|released| *released).await;
        s.answers.lock().unwrap().held -= 1;
    }
    tokio::time::sleep(delay).await;
    let h = s.answers.lock().unwrap().health.clone();
    let code = if h.status == Status::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(h))
}

async fn webhook(State(s): State<BotState>, headers: HeaderMap) -> StatusCode {
    let secret = headers
        .get("x-telegram-bot-api-secret-token")
        .and_then(|v| v.to_str().ok());
    if secret == Some(SECRET) || s.answers.lock().unwrap().accept_anyone {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    }
}

async fn webhook_health(State(s): State<BotState>) -> Json<Value> {
    let healthy = {
        let mut a = s.answers.lock().unwrap();
        a.webhook_health_requests += 1;
        a.webhook_healthy
    };
    let problems: Vec<&str> = if healthy {
        Vec::new()
    } else {
        vec!["last delivery failed: 502 Bad Gateway"]
    };
    Json(json!({"webhook_info": {"is_healthy": healthy, "problems": problems}}))
}

/// Starts a healthy fake bot on 127.0.0.1:0.
pub(crate) async fn start() -> FakeBot {
    let state = BotState {
        answers: Arc::new(Mutex::new(Answers {
            health: healthy(),
            health_delay: Duration::ZERO,
            hold_from: None,
            accept_anyone: false,
            webhook_healthy: true,
            health_requests: 0,
            held: 0,
            webhook_health_requests: 0,
        })),
        released: watch::channel(false).0,
    };
    let app = axum::Router::new()
        .route("/health", get(health))
        .route("/webhook", post(webhook))
        .route("/webhook/health", get(webhook_health))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    FakeBot { url, state }
}

/// A telegram-sim whose webhook points at a fake bot, and the watchdog's environment.
pub(crate) struct FakeWorld {
    /// The Bot API the watchdog talks to (it stops when dropped).
    _sim: Sim,
    pub bot: FakeBot,
    /// The store's directory (removed when dropped).
    _dir: tempfile::TempDir,
    pub env: HashMap<String, String>,
}

impl FakeWorld {
    pub(crate) async fn start() -> FakeWorld {
        let sim = common::start_sim().await;
        let bot = start().await;
        let r = sim
            .call_as_client("setWebhook", json!({"url": format!("{}/webhook", bot.url), "secret_token": SECRET, "max_connections": 40, "allowed_updates": ["message", "edited_message", "callback_query", "my_chat_member"]}))
            .await
            .unwrap();
        assert_eq!(r["ok"], true, "{r}");
        let dir = tempfile::tempdir().unwrap();
        let env = common::env(&sim, &bot.url, None, dir.path());
        FakeWorld {
            _sim: sim,
            bot,
            _dir: dir,
            env,
        }
    }
}
