//! One send path for teloxide's `Bot`: the handlers' `Bot` is pointed at this loopback
//! gateway (`http://127.0.0.1:<port>/r/<run>`), which hands every call to telbot's
//! [`TelegramClient::forward`]. So a teloxide call is paced at the instance's share of the
//! bot's limits (no Throttle worker, no 250 ms tick), a 429 is waited out and a 5xx or a
//! network failure retried inside the call, the token is redacted from every error, and a
//! reply held for the webhook answer (`webhook.reply_in_answer`) goes out before the run's
//! next call, in order. `<run>` names the handler run, so the gateway finds its reply slot.
//!
//! teloxide reads only the body, and sleeps 10 s before reading any 5xx: the gateway always
//! answers 200 with Telegram's envelope, or with one of its own when no envelope came back
//! (`Bad Gateway: …` / `Gateway Timeout: …`, which telbot counts as transient).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use telbot_shared::telegram::TelegramClient;
use telbot_shared::telegram::TelegramError;
use telbot_shared::telegram::reply::ReplySlot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Largest body a handler can send through the gateway (Telegram's own upload limit is 50 MB).
const MAX_BODY: usize = 52 * 1024 * 1024;

/// The reply slots of the handler runs now going on, by run.
#[derive(Default)]
pub(crate) struct Runs(Mutex<HashMap<i64, ReplySlot>>);

impl Runs {
    /// Makes `slot` the reply slot of `run` until the guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>, run: i64, slot: ReplySlot) -> RunGuard {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(run, slot);
        RunGuard {
            runs: self.clone(),
            run,
        }
    }

    fn slot(&self, run: i64) -> Option<ReplySlot> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&run)
            .cloned()
    }
}

/// Removes a run's slot when the run ends.
pub(crate) struct RunGuard {
    runs: Arc<Runs>,
    run: i64,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        self.runs
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.run);
    }
}

#[derive(Clone)]
struct Gate {
    api: TelegramClient,
    /// `bot<token>`: a call must name it, so nobody else on this host can send as the bot.
    bot_segment: Arc<SecretString>,
    runs: Arc<Runs>,
}

/// Binds 127.0.0.1:0 and serves until `stop`; returns the base URL handlers' `Bot` uses
/// (with `/r/<run>` after it).
pub(crate) async fn start(
    api: TelegramClient,
    token: &SecretString,
    runs: Arc<Runs>,
    tasks: &TaskTracker,
    stop: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let gate = Gate {
        api,
        bot_segment: Arc::new(SecretString::from(format!("bot{}", token.expose_secret()))),
        runs,
    };
    let app = Router::new()
        .route("/r/{run}/{bot}/{method}", axum::routing::post(call))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(gate);
    tasks.spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the Bot API gateway for teloxide's Bot stopped");
        }
    });
    Ok(addr)
}

async fn call(
    State(gate): State<Gate>,
    Path((run, bot, method)): Path<(i64, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use subtle::ConstantTimeEq;
    let expected = gate.bot_segment.expose_secret().as_bytes();
    if !bool::from(bot.as_bytes().ct_eq(expected)) {
        return envelope(401, "Unauthorized", None);
    }
    // The run's held reply goes out before this call, as with telbot's own client.
    if let Some(held) = gate.runs.slot(run).and_then(|s| s.before_call())
        && let Err(e) = held.send().await
    {
        return failure(&e);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    match gate.api.forward(&method, content_type, body).await {
        Ok(answer) => ([(header::CONTENT_TYPE, "application/json")], answer).into_response(),
        Err(e) => failure(&e),
    }
}

/// Telegram's envelope for a failure that has none of Telegram's own.
fn failure(e: &TelegramError) -> Response {
    let (code, description, retry_after) = super::classify::wire_failure(e);
    envelope(code, &description, retry_after)
}

fn envelope(code: u16, description: &str, retry_after: Option<u64>) -> Response {
    let mut v = serde_json::json!({"ok": false, "error_code": code, "description": description});
    if let Some(r) = retry_after {
        v["parameters"] = serde_json::json!({ "retry_after": r });
    }
    axum::Json(v).into_response()
}
