//! `GET /health` (cheap: no Telegram call) and `GET /webhook/health` (cached getWebhookInfo).

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use telbot_shared::health::Status;

use crate::health::{expectation, snapshot};
use crate::state::AppState;

/// `GET /ready`: whether a load balancer should send requests here. 503 from the shutdown
/// signal on (`draining`, during `server.drain_delay` and the drain after it) and while the
/// store does not answer; `/health` stays the liveness check.
pub(crate) async fn ready(State(app): State<AppState>) -> Response {
    let reason = if app.draining.load(Ordering::Acquire) {
        Some("draining")
    } else if !app.store_up.load(Ordering::Relaxed) {
        Some("store down")
    } else {
        None
    };
    let body = serde_json::json!({
        "ready": reason.is_none(),
        "reason": reason,
        "instance": &*app.instance,
        "leader": app.leader.load(Ordering::Relaxed),
    });
    let code = if reason.is_none() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

pub(super) async fn health(State(app): State<AppState>) -> Response {
    let h = snapshot(&app).await;
    let code = if h.status == Status::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(h)).into_response()
}

pub(super) async fn webhook_health(State(app): State<AppState>) -> Response {
    let (body, healthy) = app
        .webhook_health
        .get(&app.api, &expectation(&app), app.cfg.webhook.health_cache)
        .await;
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}
