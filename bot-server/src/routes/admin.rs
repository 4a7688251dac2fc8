//! Admin routes: `POST /webhook/recover` and `POST /shutdown`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use telbot_shared::recovery::LockError;

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
    // One recovery at a time, across processes; it runs in its own task so a dropped
    // request cannot stop it half way.
    let task = match crate::recovery::start(&app).await {
        Ok(t) => t,
        Err(e @ LockError::Held { .. }) => {
            return (StatusCode::CONFLICT, format!("{e}\n")).into_response();
        }
        Err(LockError::Store(e)) => {
            tracing::warn!(error = %e, "cannot take the recovery lock");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the store cannot take the recovery lock; nothing was changed\n",
            )
                .into_response();
        }
    };
    match tokio::time::timeout(crate::recovery::REQUEST_WAIT, task).await {
        Ok(Ok(report)) => {
            let code = if report.webhook_restored && report.errors.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::BAD_GATEWAY
            };
            (code, Json(report)).into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the recovery task failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the recovery task failed\n",
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::ACCEPTED,
            "the recovery is still running in the background; see /bot/dashboard\n",
        )
            .into_response(),
    }
}

pub(super) async fn shutdown(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = check_admin_write(&app, &headers) {
        return r.into_response();
    }
    tracing::info!("shutdown requested over HTTP");
    app.shutdown.cancel();
    (StatusCode::ACCEPTED, "shutting down\n").into_response()
}
