//! HTTP control API under `/_sim/` (for the binary and the demo). No token
//! is needed; the sim only listens on 127.0.0.1. Every answer is
//! `{"ok":true,"result":…}` or HTTP 400 `{"ok":false,"description":…}`.
//!
//! | route | body / answer |
//! |---|---|
//! | `POST /_sim/inject` | `{"kind":"text","chat_id":1,"text":"hi"}` — kinds `text`, `command`, `edited_text` (`chat_id`, `text`), `callback` (`user_id`, `data`), `location` (`chat_id`, `lat`, `lon`), `member_update`, `unknown_kind` (`chat_id`); optional `date`, `message_id`, `from_user`. Any object without `kind` is injected as a raw update (e.g. `{"message":{…}}`). Answer: `{"update_id":N}` |
//! | `POST /_sim/webhook/break` | `{"status":500}` or `{"mode":"refuse"\|"hang"\|"redirect"}` |
//! | `POST /_sim/webhook/heal` | — |
//! | `POST /_sim/fail` | `{"method":"setWebhook","fault":"500"\|"429"\|"slow"\|"drop","times":3,"retry_after":2,"delay_ms":1500}` |
//! | `POST /_sim/webhook/url` | `{"url":"http://127.0.0.1:9/x"}` (change it behind the bot's back) |
//! | `POST /_sim/clock` | `{"offset_secs":86400}` |
//! | `GET /_sim/calls`, `/_sim/messages`, `/_sim/deliveries` | the recorded lists |
//! | `GET /_sim/state` | `{"webhook_info":{…},"pending_update_count":N}` |

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::faults::{ApiFault, WebhookFault};
use crate::state::Shared;
use crate::updates::Upd;

type St = State<Arc<Shared>>;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/inject", post(inject))
        .route("/webhook/break", post(break_webhook))
        .route("/webhook/heal", post(heal_webhook))
        .route("/webhook/url", post(webhook_url))
        .route("/fail", post(fail))
        .route("/clock", post(clock))
        .route("/calls", get(calls))
        .route("/messages", get(messages))
        .route("/deliveries", get(deliveries))
        .route("/state", get(state))
}

fn ok(result: Value) -> Response {
    Json(json!({ "ok": true, "result": result })).into_response()
}

fn bad(description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "ok": false, "description": description })),
    )
        .into_response()
}

fn body_json(body: &str) -> Result<Value, Box<Response>> {
    if body.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(body).map_err(|e| Box::new(bad(&format!("invalid JSON body: {e}"))))
}

/// Build an [`Upd`] from the simple `{"kind":…}` shape.
fn simple_upd(v: &Value, kind: &str) -> Result<Upd, String> {
    let int = |k: &str| v.get(k).and_then(Value::as_i64);
    let need = |k: &str| int(k).ok_or_else(|| format!("`{k}` (integer) is required"));
    let text = || {
        v.get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let float = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let mut u = match kind {
        "text" => Upd::text(need("chat_id")?, text()),
        "command" => Upd::command(need("chat_id")?, text()),
        "edited_text" => Upd::edited_text(need("chat_id")?, text()),
        "callback" => {
            let data = v.get("data").and_then(Value::as_str).unwrap_or("");
            Upd::callback(need("user_id")?, data)
        }
        "location" => Upd::location(need("chat_id")?, float("lat"), float("lon")),
        "member_update" => Upd::member_update(need("chat_id")?),
        "unknown_kind" => Upd::unknown_kind(need("chat_id")?),
        other => return Err(format!("unknown kind `{other}`")),
    };
    if let Some(d) = int("date") {
        u = u.date(d);
    }
    if let Some(m) = int("message_id") {
        u = u.message_id(m);
    }
    if let Some(f) = int("from_user") {
        u = u.from_user(f);
    }
    Ok(u)
}

async fn inject(State(s): St, body: String) -> Response {
    let v = match body_json(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if !v.is_object() {
        return bad("body must be a JSON object");
    }
    let id = match v.get("kind").and_then(Value::as_str) {
        Some(kind) => match simple_upd(&v, kind) {
            Ok(u) => s.inject(u),
            Err(e) => return bad(&e),
        },
        None => s.inject_json(v),
    };
    ok(json!({ "update_id": id }))
}

async fn break_webhook(State(s): St, body: String) -> Response {
    let v = match body_json(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let fault = if let Some(code) = v.get("status").and_then(Value::as_u64) {
        match u16::try_from(code) {
            Ok(c) => WebhookFault::Status(c),
            Err(_) => return bad("status out of range"),
        }
    } else {
        match v.get("mode").and_then(Value::as_str) {
            Some("refuse") => WebhookFault::Refuse,
            Some("hang") => WebhookFault::Hang,
            Some("redirect") => WebhookFault::Redirect,
            _ => return bad("need {\"status\":N} or {\"mode\":\"refuse\"|\"hang\"|\"redirect\"}"),
        }
    };
    s.break_webhook(fault);
    ok(json!(true))
}

async fn heal_webhook(State(s): St) -> Response {
    s.heal_webhook();
    ok(json!(true))
}

async fn webhook_url(State(s): St, body: String) -> Response {
    let v = match body_json(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(url) = v.get("url").and_then(Value::as_str) else {
        return bad("`url` (string) is required");
    };
    s.set_webhook_url_behind_back(url);
    ok(json!(true))
}

async fn fail(State(s): St, body: String) -> Response {
    let v = match body_json(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(method) = v.get("method").and_then(Value::as_str) else {
        return bad("`method` (string) is required");
    };
    let num = |k: &str, d: u64| v.get(k).and_then(Value::as_u64).unwrap_or(d);
    let fault_name = match v.get("fault") {
        Some(Value::String(f)) => f.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return bad("`fault` is required: \"500\", \"429\", \"slow\", \"drop\" or \"proxy\""),
    };
    let fault = match fault_name.as_str() {
        "500" => ApiFault::Status500,
        "429" => ApiFault::TooManyRequests {
            retry_after: u32::try_from(num("retry_after", 1)).unwrap_or(u32::MAX),
        },
        "slow" => ApiFault::Slow(Duration::from_millis(num("delay_ms", 1000))),
        "drop" => ApiFault::Drop,
        "proxy" => ApiFault::ProxyPage(u16::try_from(num("status", 502)).unwrap_or(502)),
        _ => return bad("`fault` must be \"500\", \"429\", \"slow\", \"drop\" or \"proxy\""),
    };
    let times = u32::try_from(num("times", 1)).unwrap_or(u32::MAX);
    s.fail_method(method, fault, times);
    ok(json!(true))
}

async fn clock(State(s): St, body: String) -> Response {
    let v = match body_json(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let Some(secs) = v.get("offset_secs").and_then(Value::as_i64) else {
        return bad("`offset_secs` (integer) is required");
    };
    s.set_now_offset(secs);
    ok(json!(true))
}

async fn calls(State(s): St) -> Response {
    ok(json!(s.lock().calls.to_vec()))
}

async fn messages(State(s): St) -> Response {
    ok(json!(s.lock().sent.to_vec()))
}

async fn deliveries(State(s): St) -> Response {
    ok(json!(s.lock().deliveries.to_vec()))
}

async fn state(State(s): St) -> Response {
    let info = s.webhook_info();
    let pending = s.pending_update_count();
    ok(json!({ "webhook_info": info, "pending_update_count": pending }))
}
