//! Admin routes: `POST /webhook/recover` and `POST /shutdown`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::check_admin_write;
use crate::config::Mode;
use crate::state::AppState;

pub(super) async fn recover(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = check_admin_write(&app, &headers) {
        return r.into_response();
    }
    if app.cfg.webhook_url.is_none() {
        return (
            StatusCode::CONFLICT,
            "no PUBLIC_URL: this bot polls and has no webhook to recover\n",
        )
            .into_response();
    }
    if app.cfg.mode == Mode::Polling {
        return (
            StatusCode::CONFLICT,
            "BOT_MODE=polling: there is no webhook to recover\n",
        )
            .into_response();
    }
    let Ok(_guard) = app.recovery_lock.try_lock() else {
        return (StatusCode::CONFLICT, "a recovery is already running\n").into_response();
    };
    let report = crate::recovery::recover(&app).await;
    let code = if report.webhook_restored && report.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    (code, Json(report)).into_response()
}

pub(super) async fn shutdown(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = check_admin_write(&app, &headers) {
        return r.into_response();
    }
    tracing::info!("shutdown requested over HTTP");
    app.shutdown.cancel();
    (StatusCode::ACCEPTED, "shutting down\n").into_response()
}
