//! The canary: a synthetic update the watchdog posts to the bot's webhook (with the secret)
//! to test the whole path an update takes — webhook → inbox → a worker → completion — every
//! integration run.
//!
//! A canary is told apart by its `update_id`: Telegram numbers updates from 1 upwards, so a
//! negative id is never Telegram's. Its chat is [`CHAT_ID`], outside every range Telegram
//! gives (users, groups, supergroups and channels), so it has a queue of its own. bot-server
//! stores it like any update, runs a built-in step instead of the user's handlers (nothing is
//! sent to Telegram), and finishes the row; the watchdog reads the row's state back from the
//! shared store ([`state_of`]). It never counts in the bot's figures and is pruned like any
//! done update.

use serde_json::json;

use crate::store::{Db, StoreError};

/// The chat of every canary: beyond the ids Telegram gives (supergroups and channels are
/// −100…, about −1.0 × 10¹²).
pub const CHAT_ID: i64 = -1_000_000_000_000_000;

/// The text of a canary's message (for a person reading the inbox).
pub const TEXT: &str = "telbot canary (watchdog integration test; never reaches the handlers)";

/// Whether `update_id` is in the canaries' range.
pub fn is_canary(update_id: i64) -> bool {
    update_id < 0
}

/// A fresh canary id from the time now in microseconds (unique per watchdog run).
pub fn new_id(unix_micros: i64) -> i64 {
    -(unix_micros.max(1))
}

/// The update as the watchdog posts it: a private text message in [`CHAT_ID`].
pub fn update(update_id: i64, unix_now: i64) -> String {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": unix_now,
            "chat": { "id": CHAT_ID, "type": "private", "first_name": "telbot canary" },
            "from": { "id": CHAT_ID, "is_bot": true, "first_name": "telbot canary" },
            "text": TEXT,
        }
    })
    .to_string()
}

/// Where a canary is in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not in the inbox (never stored, or already pruned).
    Absent,
    /// Stored, not finished yet.
    Pending,
    /// Finished by the canary step.
    Done,
    /// Given up (the canary step failed on every attempt): the cause.
    Parked(String),
}

/// The inbox state of canary `update_id`.
pub async fn state_of(db: &Db, update_id: i64) -> Result<State, StoreError> {
    let row: Option<(i64, Option<String>)> =
        sqlx::query_as("SELECT status, last_error FROM inbox WHERE update_id = $1")
            .bind(update_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(match row {
        None => State::Absent,
        Some((0, _)) => State::Pending,
        Some((2, e)) => State::Parked(e.unwrap_or_default()),
        Some(_) => State::Done,
    })
}

/// The count behind [`users_pending`]. `status <> 1`: SQLite's partial index of the inbox rows
/// not done is used only when a query writes its condition out (migration
/// `0010_inbox_partial_indexes`).
pub const USERS_PENDING: &str =
    "SELECT COUNT(*) FROM inbox WHERE status = 0 AND status <> 1 AND update_id >= 0";

/// Users' updates (no canaries) stored and not finished yet.
pub async fn users_pending(db: &Db) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(USERS_PENDING)
        .fetch_one(&db.pool)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_canary_is_a_message_telegram_could_never_send() {
        let id = new_id(1_733_000_000_000_000);
        assert!(is_canary(id));
        assert!(!is_canary(1) && !is_canary(0));
        let body = update(id, 1_733_000_000);
        let head = crate::queue_key::scan(body.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(head.update_id, Some(id));
        assert_eq!(head.kind, "message");
        assert!(
            head.key.contains(&CHAT_ID.unsigned_abs().to_string()),
            "{}",
            head.key
        );
    }
}
