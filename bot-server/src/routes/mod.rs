//! The HTTP routes (DESIGN.md's bot-server table); admin ones take [`crate::auth::Admin`].

mod admin;
pub(crate) mod health;
mod metrics;
mod webhook;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// Every route, ready to serve (also usable with `oneshot` in tests).
pub(crate) fn router(app: AppState) -> Router {
    // The webhook reads its body itself, after the secret (limit, whole-body timeout, budget).
    let webhook = Router::new().route(&app.cfg.webhook.path, post(webhook::receive));
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
        .route("/bot/dashboard/logout", post(crate::dashboard::logout))
        .route(
            "/bot/dashboard/check",
            post(crate::dashboard::status::ask).get(crate::dashboard::status::result),
        )
        .merge(webhook)
        .with_state(app)
}
