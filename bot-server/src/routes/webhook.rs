//! `POST /webhook`: secret check (constant time) → JSON with an integer update_id → stored in
//! the inbox → 200. A duplicate is acknowledged; a kind this build cannot parse is stored raw
//! and acknowledged (refusing it would block every update behind it); 503 while the store
//! cannot take it, so Telegram keeps it and redelivers.

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use crate::inbox::{NewUpdate, key};
use crate::state::AppState;

const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

pub(super) async fn receive(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let resp = match body {
        Ok(body) => handle(&app, &headers, body).await,
        Err(r) => body_error(r),
    };
    let code = resp.status().as_u16();
    metrics::counter!("telbot_webhook_requests_total", "status" => status_label(code)).increment(1);
    if code == 200 {
        let took = started.elapsed();
        metrics::histogram!("telbot_webhook_ack_seconds").record(took.as_secs_f64());
        crate::dashboard_feed::record_ack(&app, took);
    }
    resp
}

/// A body that could not be read: too big (413), too slow (408), or broken (400).
fn body_error(r: BytesRejection) -> Response {
    let text = r.body_text();
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        (StatusCode::PAYLOAD_TOO_LARGE, "body too large\n").into_response()
    } else if text.contains("timed out") || text.contains("timeout") {
        (StatusCode::REQUEST_TIMEOUT, "body not received in time\n").into_response()
    } else {
        (
            StatusCode::BAD_REQUEST,
            format!("cannot read the body: {text}\n"),
        )
            .into_response()
    }
}

fn status_label(code: u16) -> &'static str {
    match code {
        200 => "200",
        400 => "400",
        408 => "408",
        401 => "401",
        413 => "413",
        503 => "503",
        _ => "other",
    }
}

async fn handle(app: &AppState, headers: &HeaderMap, body: Bytes) -> Response {
    if let Some(secret) = &app.cfg.webhook_secret {
        let given = headers
            .get(SECRET_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or(b"");
        if !bool::from(given.ct_eq(secret.expose_secret().as_bytes())) {
            return (StatusCode::UNAUTHORIZED, "wrong or missing secret token\n").into_response();
        }
    }
    let value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("body is not JSON: {e}\n")).into_response();
        }
    };
    let Some(update_id) = value.get("update_id").and_then(serde_json::Value::as_i64) else {
        return (StatusCode::BAD_REQUEST, "body has no integer update_id\n").into_response();
    };
    let (kind, key) = key::classify(&value);
    // Store the bytes as Telegram sent them.
    let payload = String::from_utf8_lossy(&body).into_owned();
    match app
        .writer
        .insert(NewUpdate {
            update_id,
            kind,
            key,
            payload,
        })
        .await
    {
        Ok(_) => {
            app.store_up.store(true, Ordering::Relaxed);
            StatusCode::OK.into_response()
        }
        Err(e) => {
            // checks.store judges this from the writer's commits (inbox::health) and the ping.
            tracing::warn!(update_id, error = %e, "cannot store an update; answering 503 so Telegram redelivers it");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "store unavailable, retry later\n",
            )
                .into_response()
        }
    }
}
