//! The dashboard's "Refresh status" (the ops notes' manual health check trigger): `POST
//! /bot/dashboard/check` (admin, CSRF) asks the watchdog for a full check pass through the
//! shared store ([`telbot_shared::check_request`]); `GET /bot/dashboard/check?id=…` says
//! whether it answered and with what. A watchdog daemon answers within seconds; a cron
//! watchdog at its next full run; with none, the page says so after [`WAIT`].

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use telbot_shared::check_request;

use crate::auth::{Admin, AdminWrite, guard};
use crate::state::AppState;

/// After this long without an answer the page stops waiting and says why, seconds.
pub const WAIT: i64 = 90;

/// `POST /bot/dashboard/check`: a new request; answers `{"id": …}`.
pub(crate) async fn ask(_: AdminWrite, State(app): State<AppState>) -> Response {
    let id = guard::random_hex(8);
    match check_request::ask(&app.db, id, telbot_shared::unix_now()).await {
        Ok(r) => {
            tracing::info!("dashboard: status check requested from the watchdog");
            (
                StatusCode::ACCEPTED,
                Json(json!({ "id": r.id, "wait_s": WAIT })),
            )
                .into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: the store did not take the status request");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the store did not take the request; the watchdog cannot be asked\n",
            )
                .into_response()
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct Which {
    id: String,
}

/// `GET /bot/dashboard/check?id=…`: `{"state": "pending" | "done" | "no_answer" |
/// "replaced", …}`, the findings with `done`.
pub(crate) async fn result(
    _: Admin,
    State(app): State<AppState>,
    Query(which): Query<Which>,
) -> Response {
    let (req, answer) = match (
        check_request::request(&app.db).await,
        check_request::answer(&app.db).await,
    ) {
        (Ok(r), Ok(a)) => (r, a),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "dashboard: cannot read the status answer");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "the store does not answer\n",
            )
                .into_response();
        }
    };
    let body = match (req, answer) {
        (_, Some(a)) if a.id == which.id => json!({
            "state": "done",
            "at": a.at,
            "level": a.level,
            "by": a.by,
            "findings": a.findings,
        }),
        (Some(r), _) if r.id == which.id => {
            if telbot_shared::unix_now() - r.at > WAIT {
                json!({
                    "state": "no_answer",
                    "why": format!("no watchdog answered within {WAIT} s: is `watchdog run` running on the same DATABASE_URL? (a watchdog run from cron answers at its next full check)"),
                })
            } else {
                json!({ "state": "pending", "asked_at": r.at })
            }
        }
        _ => json!({ "state": "replaced", "why": "a newer status request replaced this one" }),
    };
    let text = app.redactor.redact(&body.to_string());
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response()
}
