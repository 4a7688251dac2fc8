//! `GET /metrics`: Prometheus text; admin-only unless METRICS_PUBLIC=true.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::auth::{Admin, Refusal};
use crate::state::AppState;

pub(super) async fn metrics(
    admin: Result<Admin, Refusal>,
    State(app): State<AppState>,
) -> Response {
    if !app.cfg.server.metrics_public
        && let Err(r) = admin
    {
        return r.into_response();
    }
    crate::telemetry::refresh_gauges(&app).await;
    let mut body = app.metrics.render();
    body.push_str(&crate::telemetry::process_text(&app.figures));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
