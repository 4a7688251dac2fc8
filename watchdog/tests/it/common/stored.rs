//! The stand-in bot's stored replies, as bot-server keeps them with `webhook.reply_in_answer`:
//! a new update's reply goes into the store's inbox row (status done) and rides on the 200; a
//! redelivery is answered with the reply still stored there (`NULL` once another path carried
//! it, see `telbot_shared::stored_reply`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use telbot_shared::store::Db;

pub(super) async fn answer(
    db: &Db,
    update: &Value,
    new: bool,
    method: Option<&str>,
) -> axum::response::Response {
    let id = update["update_id"].as_i64().unwrap();
    if new {
        let chat = update.pointer("/message/chat/id").and_then(Value::as_i64);
        let text = update
            .pointer("/message/text")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let reply = chat.map(|chat| {
            json!({"method": method.unwrap_or("sendMessage"), "chat_id": chat, "text": format!("echo: {text}")})
                .to_string()
        });
        sqlx::query(
            "INSERT INTO inbox (update_id, kind, queue_key, payload, received_at, status, reply) \
             VALUES ($1, 'message', 'c', '{}', 0, 1, $2)",
        )
        .bind(id)
        .bind(reply.clone())
        .execute(&db.pool)
        .await
        .unwrap();
        return respond(reply);
    }
    let stored: Option<(Option<String>,)> =
        sqlx::query_as("SELECT reply FROM inbox WHERE update_id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await
            .unwrap();
    respond(stored.and_then(|(r,)| r))
}

fn respond(reply: Option<String>) -> axum::response::Response {
    match reply {
        Some(body) => Json(serde_json::from_str::<Value>(&body).unwrap()).into_response(),
        None => StatusCode::OK.into_response(),
    }
}
