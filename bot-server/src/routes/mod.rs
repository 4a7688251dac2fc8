//! The HTTP routes (DESIGN.md's bot-server table) and the admin guard.

mod admin;
pub(crate) mod health;
mod metrics;
mod webhook;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::dashboard::guard::Via;
use crate::state::AppState;

/// Every route, ready to serve (also usable with `oneshot` in tests).
pub fn router(app: AppState) -> Router {
    // The webhook reads its body itself, after the secret (limit, whole-body timeout, budget).
    let webhook = Router::new().route(&app.cfg.webhook_path, post(webhook::receive));
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/webhook/health", get(health::webhook_health))
        .route("/webhook/recover", post(admin::recover))
        .route("/shutdown", post(admin::shutdown))
        .route("/admin/parked", get(admin::parked_list))
        .route("/admin/parked/replay", post(admin::parked_replay))
        .route("/admin/parked/discard", post(admin::parked_discard))
        .route("/metrics", get(metrics::metrics))
        .route("/bot/dashboard", get(crate::dashboard::page))
        .route("/bot/dashboard/data", get(crate::dashboard::data))
        .merge(webhook)
        .with_state(app)
}

/// Why an admin request was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No ADMIN_TOKEN configured: admin routes are off.
    Disabled,
    /// Wrong or missing token.
    Unauthorized,
    /// A POST with browser credentials but no valid CSRF token, or from another site.
    Forbidden(&'static str),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Disabled => (
                StatusCode::FORBIDDEN,
                "admin routes are disabled: set ADMIN_TOKEN to enable them\n",
            )
                .into_response(),
            Refusal::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                [(
                    header::WWW_AUTHENTICATE,
                    "Basic realm=\"telbot\", charset=\"UTF-8\"",
                )],
                "admin token required\n",
            )
                .into_response(),
            Refusal::Forbidden(why) => (StatusCode::FORBIDDEN, why).into_response(),
        }
    }
}

/// Accepts `Authorization: Bearer <ADMIN_TOKEN>`, Basic with any user and ADMIN_TOKEN as the
/// password (compared in constant time), or the dashboard's session cookie.
pub(crate) fn check_admin(app: &AppState, headers: &HeaderMap) -> Result<(), Refusal> {
    admin_via(app, headers).map(|_| ())
}

/// [`check_admin`] for POSTs: browser credentials (Basic, the session cookie) also need the
/// dashboard's `X-CSRF-Token`, and a cross-site `Origin` is refused (see `dashboard::guard`).
pub(crate) fn check_admin_write(app: &AppState, headers: &HeaderMap) -> Result<(), Refusal> {
    let via = admin_via(app, headers)?;
    match crate::dashboard::guard::write_refusal(headers, via, app.dashboard.csrf()) {
        Some(why) => Err(Refusal::Forbidden(why)),
        None => Ok(()),
    }
}

fn admin_via(app: &AppState, headers: &HeaderMap) -> Result<Via, Refusal> {
    let Some(token) = &app.cfg.admin_token else {
        return Err(Refusal::Disabled);
    };
    let want = token.expose_secret().as_bytes();
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Auth schemes are case-insensitive (RFC 9110 §11.1).
    let (scheme, rest) = auth.trim_start().split_once(' ').unwrap_or(("", ""));
    let (via, given): (Via, Vec<u8>) = if scheme.eq_ignore_ascii_case("bearer") {
        (Via::Bearer, rest.trim().as_bytes().to_vec())
    } else if scheme.eq_ignore_ascii_case("basic") {
        let b = rest;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .unwrap_or_default();
        match decoded.iter().position(|&c| c == b':') {
            Some(i) => (Via::Basic, decoded[i + 1..].to_vec()),
            None => (Via::Basic, Vec::new()),
        }
    } else if app.dashboard.has_session(headers) {
        return Ok(Via::Session);
    } else {
        (Via::Bearer, Vec::new())
    };
    if bool::from(given.as_slice().ct_eq(want)) {
        Ok(via)
    } else {
        Err(Refusal::Unauthorized)
    }
}
