//! Telegram's queue key for an update, read from the raw JSON so kinds this build cannot
//! parse still get one: per chat for messages, per sender for callback queries, and so on
//! (reference §4.5). Updates with the same key are handled one at a time, in order — by the
//! bot's inbox and by the watchdog's replay of drained updates alike (one classifier for both).

use serde_json::Value;

mod scan;

pub use scan::{Head, scan};

/// The ids a queue key is made of, read from the kind's body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Refs {
    /// `chat.id`.
    pub chat: Option<i64>,
    /// `from.id`.
    pub from: Option<i64>,
    /// `user.id`.
    pub user: Option<i64>,
    /// `id` when it is a string (polls).
    pub id: Option<String>,
    /// `poll_id` when it is a string (poll answers).
    pub poll_id: Option<String>,
}

impl Refs {
    fn of(body: &Value) -> Self {
        let int = |p: &str| body.pointer(p).and_then(Value::as_i64);
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
        Refs {
            chat: int("/chat/id"),
            from: int("/from/id"),
            user: int("/user/id"),
            id: text("id"),
            poll_id: text("poll_id"),
        }
    }
}

/// The update's kind (its one non-`update_id` field) and its queue key.
pub fn classify(update: &Value) -> (String, String) {
    let Some(obj) = update.as_object() else {
        return ("unknown".into(), "none".into());
    };
    let Some((kind, body)) = obj.iter().find(|(k, _)| k.as_str() != "update_id") else {
        return ("empty".into(), "none".into());
    };
    let update_id = obj.get("update_id").and_then(Value::as_i64);
    (kind.clone(), key_of(kind, &Refs::of(body), update_id))
}

/// The queue key of an update of `kind` whose body holds `refs`.
pub(crate) fn key_of(kind: &str, refs: &Refs, update_id: Option<i64>) -> String {
    let chat = || refs.chat.map(|c| format!("c{c}"));
    let sender = || refs.from.or(refs.user).map(|u| format!("u{u}"));
    let key = match kind {
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
        | "removed_chat_boost" => chat(),
        "callback_query"
        | "inline_query"
        | "chosen_inline_result"
        | "shipping_query"
        | "pre_checkout_query"
        | "chat_member"
        | "chat_join_request" => sender(),
        "poll" => refs.id.as_ref().map(|p| format!("p{p}")),
        "poll_answer" => refs.poll_id.as_ref().map(|p| format!("p{p}")),
        _ => chat().or_else(|| refs.from.map(|u| format!("u{u}"))),
    };
    key.unwrap_or_else(|| format!("x{}", update_id.unwrap_or_default()))
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
