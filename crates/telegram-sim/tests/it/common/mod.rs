//! Test helpers: a started sim, a Bot API client, and a tiny axum webhook
//! receiver that records what it gets and how many requests overlap.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use telegram_sim::Sim;

/// Generous upper bound for waits on a loaded 2-core machine.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// A sim for tests: loopback http allowed, no setWebhook rate limit.
pub(crate) async fn sim(time_scale: f64) -> Sim {
    Sim::builder()
        .allow_http_loopback(true)
        .set_webhook_rate_limit(false)
        .time_scale(time_scale)
        .first_update_id(1000)
        .start()
        .await
        .unwrap()
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// POST a JSON body to a method; returns (HTTP status, body).
pub(crate) async fn call(sim: &Sim, method: &str, body: Value) -> (u16, Value) {
    let url = format!("{}/bot{}/{}", sim.base_url(), sim.token(), method);
    let resp = client().post(url).json(&body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// The `description` of a response.
pub(crate) fn desc(v: &Value) -> &str {
    v["description"].as_str().unwrap_or("")
}

/// setWebhook to a URL and assert success.
pub(crate) async fn set_webhook(sim: &Sim, body: Value) {
    let (status, v) = call(sim, "setWebhook", body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ok"], true, "{v}");
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub(crate) struct Mode {
    pub status: u16,
    pub delay: Duration,
    pub retry_after: Option<u64>,
    /// Chats answered with 500 whatever `status` says.
    pub failing_chats: Vec<i64>,
    /// Body of 2xx answers.
    pub reply_body: Option<String>,
}

impl Default for Mode {
    fn default() -> Self {
        Self {
            status: 200,
            delay: Duration::ZERO,
            retry_after: None,
            failing_chats: Vec::new(),
            reply_body: None,
        }
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    pub raw: String,
    pub body: Value,
    pub headers: HeaderMap,
    pub at: Instant,
    pub status: u16,
}

impl Hit {
    pub(crate) fn update_id(&self) -> i64 {
        self.body["update_id"].as_i64().unwrap_or(-1)
    }

    pub(crate) fn chat_id(&self) -> Option<i64> {
        self.body["message"]["chat"]["id"].as_i64()
    }
}

#[derive(Default)]
struct Inner {
    hits: Mutex<Vec<Hit>>,
    mode: Mutex<Mode>,
    current: AtomicUsize,
    max: AtomicUsize,
}

/// An axum webhook receiver on 127.0.0.1:0.
#[derive(Clone)]
pub(crate) struct Receiver {
    pub url: String,
    inner: Arc<Inner>,
}

async fn hook(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let now = inner.current.fetch_add(1, Ordering::SeqCst) + 1;
    inner.max.fetch_max(now, Ordering::SeqCst);
    let mode = inner.mode.lock().unwrap().clone();
    let raw = String::from_utf8_lossy(&body).into_owned();
    let v: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let chat = v["message"]["chat"]["id"].as_i64();
    let status = if chat.is_some_and(|c| mode.failing_chats.contains(&c)) {
        500
    } else {
        mode.status
    };
    if !mode.delay.is_zero() {
        tokio::time::sleep(mode.delay).await;
    }
    inner.hits.lock().unwrap().push(Hit {
        raw,
        body: v,
        headers,
        at: Instant::now(),
        status,
    });
    inner.current.fetch_sub(1, Ordering::SeqCst);
    let mut resp = match (&mode.reply_body, status) {
        (Some(b), 200..=299) => {
            let mut r = b.clone().into_response();
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            r
        }
        _ => "".into_response(),
    };
    *resp.status_mut() = StatusCode::from_u16(status).unwrap();
    if let Some(r) = mode.retry_after {
        resp.headers_mut().insert(
            "retry-after",
            HeaderValue::from_str(&r.to_string()).unwrap(),
        );
    }
    resp
}

impl Receiver {
    pub(crate) async fn start(mode: Mode) -> Self {
        let inner = Arc::new(Inner::default());
        *inner.mode.lock().unwrap() = mode;
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url: format!("http://{addr}/hook"),
            inner,
        }
    }

    pub(crate) fn set_mode(&self, mode: Mode) {
        *self.inner.mode.lock().unwrap() = mode;
    }

    pub(crate) fn hits(&self) -> Vec<Hit> {
        self.inner.hits.lock().unwrap().clone()
    }

    pub(crate) fn max_concurrent(&self) -> usize {
        self.inner.max.load(Ordering::SeqCst)
    }

    pub(crate) fn current(&self) -> usize {
        self.inner.current.load(Ordering::SeqCst)
    }

    pub(crate) fn reset_max(&self) {
        self.inner.max.store(0, Ordering::SeqCst);
    }
}

/// A port with nothing listening on it (bound, then released).
pub(crate) async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}
