//! sendDice: a message with an animated emoji whose value Telegram picks.
//!
//! Telegram picks the value at random; the sim derives it from the message id
//! (`(message_id - 1) % max + 1`), so a test that knows the chat's message ids knows the
//! value. The range is the emoji's: 1–6 for 🎲 🎯 🎳, 1–5 for 🏀 ⚽, 1–64 for 🎰.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use super::messages::chat_id;
use crate::api::{ApiError, ApiOk, ApiResult};
use crate::params::Params;
use crate::state::Shared;
use crate::updates::chat;

/// The emoji Telegram accepts, with the highest value each can show.
const EMOJI: &[(&str, i64)] = &[
    ("🎲", 6),
    ("🎯", 6),
    ("🏀", 5),
    ("⚽", 5),
    ("🎳", 6),
    ("🎰", 64),
];

/// A dice Message as Telegram returns it (field order kept).
#[derive(Debug, Serialize)]
struct DiceMessageOut {
    message_id: i64,
    from: Value,
    chat: Value,
    date: i64,
    dice: Value,
}

/// The value shown for message `message_id` with an emoji whose values go up to `max`.
fn value(message_id: i64, max: i64) -> i64 {
    (message_id - 1).rem_euclid(max) + 1
}

pub(super) fn send_dice(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    let chat_id = chat_id(p)?;
    let emoji = p.str("emoji").unwrap_or_else(|| "🎲".to_owned());
    let Some(&(_, max)) = EMOJI.iter().find(|(e, _)| *e == emoji) else {
        return Err(ApiError::bad_request("invalid dice emoji specified"));
    };
    let mut st = shared.lock();
    let message_id = st.next_message_id(chat_id);
    let date = st.now_unix();
    drop(st);
    Ok(ApiOk::json(&DiceMessageOut {
        message_id,
        from: shared.config.bot_user(),
        chat: chat(chat_id),
        date,
        dice: json!({ "emoji": emoji, "value": value(message_id, max) }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::test_shared;

    fn params(v: Value) -> Params {
        match v {
            Value::Object(m) => Params(m),
            _ => Params::default(),
        }
    }

    #[test]
    fn a_dice_is_a_message_teloxide_reads_with_a_value_in_the_emojis_range() {
        let shared = test_shared();
        let ok = send_dice(&shared, &params(json!({"chat_id": 5})));
        let body: Value =
            serde_json::from_str(&ok.map(|o| o.result).unwrap_or_default()).unwrap_or_default();
        assert_eq!(body["chat"]["id"], 5);
        assert_eq!(body["dice"], json!({"emoji": "🎲", "value": 1}));
        let msg: teloxide::types::Message =
            serde_json::from_value(body).expect("teloxide parses it");
        assert_eq!(msg.dice().map(|d| d.value), Some(1));

        let ok = send_dice(&shared, &params(json!({"chat_id": "5", "emoji": "🏀"})));
        let body: Value =
            serde_json::from_str(&ok.map(|o| o.result).unwrap_or_default()).unwrap_or_default();
        assert_eq!(body["message_id"], 2);
        assert_eq!(body["dice"], json!({"emoji": "🏀", "value": 2}));
        assert_eq!(value(6, 5), 1, "basketball wraps at 5");
        assert_eq!(value(64, 64), 64);
    }

    #[test]
    fn a_wrong_emoji_or_chat_is_a_bad_request() {
        let shared = test_shared();
        let e = send_dice(&shared, &params(json!({"chat_id": 5, "emoji": "x"}))).map(|_| ());
        assert_eq!(
            e.map_err(|e| e.description),
            Err("Bad Request: invalid dice emoji specified".to_owned())
        );
        let e = send_dice(&shared, &params(json!({"emoji": "🎲"}))).map(|_| ());
        assert_eq!(
            e.map_err(|e| e.description),
            Err("Bad Request: chat_id is empty".to_owned())
        );
    }
}
