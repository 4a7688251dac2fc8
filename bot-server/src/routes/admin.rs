//! Admin routes: `POST /webhook/recover`, `POST /shutdown`, and the parked updates:
//! `GET /admin/parked` → `{"parked":[{"update_id","kind","attempts","last_error","received_at"}]}`;
//! `POST /admin/parked/replay` and `POST /admin/parked/discard` with an optional JSON body
//! `{"update_ids":[…]}` (absent: all) → `{"count": n}`. `watchdog replay-parked` uses these.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use telbot_shared::lease::LockError;

use crate::auth::{Admin, AdminWrite};
use crate::config::Mode;
use crate::inbox::parked;
use crate::state::AppState;

pub(super) async fn recover(_: AdminWrite, State(app): State<AppState>) -> Response {
    if app.cfg.webhook.url.is_none() {
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

pub(super) async fn shutdown(_: AdminWrite, State(app): State<AppState>) -> Response {
    tracing::info!("shutdown requested over HTTP");
    app.shutdown.cancel();
    (StatusCode::ACCEPTED, "shutting down\n").into_response()
}

/// The optional body of the parked-update POSTs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Selection {
    /// Which updates; absent means all parked ones.
    update_ids: Option<Vec<i64>>,
}

/// The selected update_ids (`None`: all), or why the body is refused.
fn selection(body: &Bytes) -> Result<Option<Vec<i64>>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice::<Selection>(body)
        .map(|s| s.update_ids)
        .map_err(|e| format!("expected {{\"update_ids\": [..]}} or no body: {e}\n"))
}

fn store_error(e: telbot_shared::store::StoreError) -> Response {
    tracing::warn!(error = %e, "parked updates: store error");
    (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response()
}

pub(super) async fn parked_list(_: Admin, State(app): State<AppState>) -> Response {
    match parked::list(&app.db).await {
        Ok(rows) => Json(serde_json::json!({ "parked": rows })).into_response(),
        Err(e) => store_error(e),
    }
}

/// The selection of a parked-updates POST, read from its body; a body that is neither empty
/// nor `{"update_ids": [...]}` is answered 400.
pub(super) struct Selected(Option<Vec<i64>>);

impl<S: Send + Sync> FromRequest<S> for Selected {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        selection(&body)
            .map(Selected)
            .map_err(|why| (StatusCode::BAD_REQUEST, why).into_response())
    }
}

/// `{"count": n}`, or the store's error.
fn counted(r: Result<u64, telbot_shared::store::StoreError>) -> Response {
    match r {
        Ok(n) => Json(serde_json::json!({ "count": n })).into_response(),
        Err(e) => store_error(e),
    }
}

pub(super) async fn parked_replay(
    _: AdminWrite,
    State(app): State<AppState>,
    Selected(ids): Selected,
) -> Response {
    counted(parked::replay(&app.db, &app.writer, &app.counters, ids.as_deref()).await)
}

pub(super) async fn parked_discard(
    _: AdminWrite,
    State(app): State<AppState>,
    Selected(ids): Selected,
) -> Response {
    counted(parked::discard(&app.db, &app.counters, ids.as_deref()).await)
}
