//! Telegram's queue key for an update, read from the raw JSON so kinds this build cannot
//! parse still get one: per chat for messages, per sender for callback queries, and so on
//! (reference §4.5). Updates with the same key are handled one at a time, in order — by the
//! bot's inbox and by the watchdog's replay of drained updates alike (one classifier for both).

use serde_json::Value;

/// The update's kind (its one non-`update_id` field) and its queue key.
pub fn classify(update: &Value) -> (String, String) {
    let Some(obj) = update.as_object() else {
        return ("unknown".into(), "none".into());
    };
    let Some((kind, body)) = obj.iter().find(|(k, _)| k.as_str() != "update_id") else {
        return ("empty".into(), "none".into());
    };
    let chat = || body.pointer("/chat/id").and_then(Value::as_i64);
    let from = || body.pointer("/from/id").and_then(Value::as_i64);
    let user = || body.pointer("/user/id").and_then(Value::as_i64);
    let key = match kind.as_str() {
        "message"
        | "edited_message"
        | "channel_post"
        | "edited_channel_post"
        | "business_message"
        | "edited_business_message"
        | "my_chat_member"
        | "message_reaction"
        | "message_reaction_count"
        | "chat_boost"
        | "removed_chat_boost" => chat().map(|c| format!("c{c}")),
        "callback_query"
        | "inline_query"
        | "chosen_inline_result"
        | "shipping_query"
        | "pre_checkout_query"
        | "chat_member"
        | "chat_join_request" => from().or_else(user).map(|u| format!("u{u}")),
        "poll" => body
            .get("id")
            .and_then(Value::as_str)
            .map(|p| format!("p{p}")),
        "poll_answer" => body
            .get("poll_id")
            .and_then(Value::as_str)
            .map(|p| format!("p{p}")),
        _ => chat()
            .map(|c| format!("c{c}"))
            .or_else(|| from().map(|u| format!("u{u}"))),
    };
    let key = key.unwrap_or_else(|| {
        let id = obj
            .get("update_id")
            .and_then(Value::as_i64)
            .unwrap_or_default();
        format!("x{id}")
    });
    (kind.clone(), key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_follow_telegrams_queues() {
        let cases = [
            (
                json!({"update_id":1,"message":{"chat":{"id":5},"from":{"id":9}}}),
                "message",
                "c5",
            ),
            (
                json!({"update_id":2,"edited_message":{"chat":{"id":-100}}}),
                "edited_message",
                "c-100",
            ),
            (
                json!({"update_id":3,"callback_query":{"id":"x","from":{"id":9},"message":{"chat":{"id":5}}}}),
                "callback_query",
                "u9",
            ),
            (
                json!({"update_id":4,"my_chat_member":{"chat":{"id":7},"from":{"id":8}}}),
                "my_chat_member",
                "c7",
            ),
            (
                json!({"update_id":5,"future_thing":{"chat":{"id":3}}}),
                "future_thing",
                "c3",
            ),
            (
                json!({"update_id":6,"future_thing":{"x":1}}),
                "future_thing",
                "x6",
            ),
        ];
        for (u, kind, key) in cases {
            assert_eq!(classify(&u), (kind.to_string(), key.to_string()), "{u}");
        }
    }
}
