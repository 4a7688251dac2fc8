//! The webhook's answer with `webhook.reply_in_answer` (how it works: `crate::inbox::reply`).

use std::sync::Arc;
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::inbox::reply::Waiter;
use crate::inbox::{Status, Stored, sql};
use crate::state::AppState;

/// Answers a stored update: with its handler's reply when there is one, else an empty 200.
pub(super) async fn answer(app: &AppState, w: Waiter, update_id: i64, stored: Stored) -> Response {
    let wait = match stored {
        Stored::New => app.cfg.webhook.reply_wait,
        // A redelivery: a finished update is answered with the reply stored with it (the
        // handler does not run again); one still running is waited for like the first.
        Stored::Duplicate => match sql::stored_reply(&app.db, update_id).await {
            Ok(Some((status, reply))) if status != Status::Pending as i64 => {
                // A worker that took this request just now hands the same reply over.
                let handed = w.wait(Duration::ZERO).await;
                return respond(handed.or_else(|| reply.map(Arc::from)));
            }
            Ok(_) => app.cfg.webhook.reply_wait,
            Err(e) => {
                // Stored and maybe done with a reply: Telegram asks again later.
                tracing::warn!(update_id, error = %e, "cannot read a redelivered update's stored reply; answering 503");
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store unavailable, retry later\n",
                )
                    .into_response();
            }
        },
    };
    respond(w.wait(wait).await)
}

fn respond(reply: Option<Arc<str>>) -> Response {
    match reply {
        Some(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response(),
        None => StatusCode::OK.into_response(),
    }
}
