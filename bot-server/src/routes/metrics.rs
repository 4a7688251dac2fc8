//! `GET /metrics`: Prometheus text; admin-only unless METRICS_PUBLIC=true.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::check_admin;
use crate::state::AppState;

pub(super) async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if !app.cfg.metrics_public
        && let Err(r) = check_admin(&app, &headers)
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
