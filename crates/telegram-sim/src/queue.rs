//! The bot's update queue: ids, per-type lifetimes, webhook queue keys, the
//! `getUpdates` offset rules and each update's retry state.

use std::collections::VecDeque;

use serde_json::Value;
use tokio::time::Instant;

/// Canonical update type names in the server's order (used to print
/// `allowed_updates`).
pub(crate) const UPDATE_TYPES: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
    "message_reaction",
    "message_reaction_count",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "purchased_paid_media",
];

/// Types that are only delivered when listed explicitly.
const OPT_IN_TYPES: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];

const DAY: i64 = 86_400;

/// Whether `kind` passes the `allowed_updates` setting (`None` = default set).
pub(crate) fn is_allowed(kind: &str, allowed: Option<&[String]>) -> bool {
    match allowed {
        None => !OPT_IN_TYPES.contains(&kind),
        Some(list) => list.iter().any(|k| k == kind),
    }
}

/// One queued update and its delivery state.
#[derive(Debug)]
pub(crate) struct Pending {
    /// Assigned update_id.
    pub id: i64,
    /// The object without `update_id`, e.g. `{"message":{…}}`.
    pub payload: Value,
    /// Webhook queue: updates sharing a key are delivered one at a time, in order.
    pub queue_key: String,
    /// Sim unix time after which the update is dropped.
    pub expires_at: i64,
    /// Failed delivery attempts so far.
    pub fail_count: u32,
    /// Current back-off (Telegram seconds), doubled per failure from the 2nd on.
    pub delay_secs: u64,
    /// Earliest time of the next delivery attempt.
    pub next_attempt: Instant,
    /// A delivery attempt is running.
    pub in_flight: bool,
}

impl Pending {
    /// Forget delivery history (a new webhook starts afresh).
    pub(crate) fn reset_delivery(&mut self, now: Instant) {
        self.fail_count = 0;
        self.delay_secs = 1;
        self.next_attempt = now;
        self.in_flight = false;
    }

    /// The update as sent to the bot: `update_id` first, then the payload.
    pub(crate) fn to_json(&self) -> String {
        update_json(self.id, &self.payload)
    }
}

/// `{"update_id":N,\n"<kind>":{…}}` — update_id first, like the real server.
pub(crate) fn update_json(id: i64, payload: &Value) -> String {
    let inner = serde_json::to_string(payload).unwrap_or_else(|_| "{}".to_owned());
    let inner = inner
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or("");
    if inner.is_empty() {
        format!("{{\"update_id\":{id}}}")
    } else {
        format!("{{\"update_id\":{id},\n{inner}}}")
    }
}

/// The update's type: its first key other than `update_id`.
pub(crate) fn kind_of(payload: &Value) -> String {
    payload
        .as_object()
        .and_then(|m| m.keys().find(|k| k.as_str() != "update_id").cloned())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn int_at(v: &Value, path: &[&str]) -> Option<i64> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_i64()
}

/// Webhook queue key and expiry (sim unix time) for an update, per the
/// reference's §3 lifetimes and §4.5 queues.
pub(crate) fn classify(kind: &str, payload: &Value, id: i64, now: i64) -> (String, i64) {
    let body = payload.get(kind).unwrap_or(&Value::Null);
    let chat = int_at(body, &["chat", "id"]);
    let from = int_at(body, &["from", "id"]);
    let date = int_at(body, &["edit_date"])
        .or_else(|| int_at(body, &["date"]))
        .unwrap_or(now);
    let by = |scope: &str, key: Option<i64>| match key {
        Some(k) => format!("{scope}:{k}"),
        None => format!("own:{id}"),
    };
    match kind {
        "message"
        | "edited_message"
        | "channel_post"
        | "edited_channel_post"
        | "business_message"
        | "edited_business_message" => (by("chat", chat), date + DAY),
        "callback_query" => (by("callback_user", from), now + 150),
        "inline_query" => (by("inline_user", from), now + 30),
        "chosen_inline_result" => (by("chosen_user", from), now + 600),
        "shipping_query" | "pre_checkout_query" => (by("payment_user", from), now + 150),
        "my_chat_member" => (by("my_member_chat", chat), date + DAY),
        "chat_member" | "chat_join_request" => {
            (by("member_user", int_at(body, &["from", "id"])), date + DAY)
        }
        "chat_boost" | "removed_chat_boost" | "message_reaction" | "message_reaction_count" => {
            (by(&format!("{kind}_chat"), chat), date + DAY)
        }
        _ => {
            let key = match chat {
                Some(c) => format!("{kind}_chat:{c}"),
                None => format!("own:{id}"),
            };
            (key, now + DAY)
        }
    }
}

/// The queue itself, ordered by update_id.
#[derive(Debug)]
pub(crate) struct UpdateQueue {
    /// Id the next update gets.
    pub next_id: i64,
    /// Pending updates, ascending id.
    pub items: VecDeque<Pending>,
}

impl UpdateQueue {
    pub(crate) fn new(first_id: i64) -> Self {
        Self {
            next_id: first_id,
            items: VecDeque::new(),
        }
    }

    /// Take the next id (ids only grow).
    pub(crate) fn alloc_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        id
    }

    pub(crate) fn push(&mut self, id: i64, payload: Value, now_unix: i64, now: Instant) {
        let kind = kind_of(&payload);
        let (queue_key, expires_at) = classify(&kind, &payload, id, now_unix);
        self.items.push_back(Pending {
            id,
            payload,
            queue_key,
            expires_at,
            fail_count: 0,
            delay_secs: 1,
            next_attempt: now,
            in_flight: false,
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn clear(&mut self) {
        self.items.clear();
    }

    pub(crate) fn get_mut(&mut self, id: i64) -> Option<&mut Pending> {
        self.items.iter_mut().find(|p| p.id == id)
    }

    pub(crate) fn remove(&mut self, id: i64) -> Option<Pending> {
        let pos = self.items.iter().position(|p| p.id == id)?;
        self.items.remove(pos)
    }

    /// Remove expired updates that are not being delivered; returns their ids.
    pub(crate) fn gc(&mut self, now_unix: i64) -> Vec<i64> {
        let mut dropped = Vec::new();
        self.items.retain(|p| {
            let keep = p.in_flight || p.expires_at > now_unix;
            if !keep {
                dropped.push(p.id);
            }
            keep
        });
        dropped
    }

    /// `getUpdates` offset rules: positive confirms ids below it (ignored when
    /// far in the future), negative keeps the last `|offset|` updates.
    pub(crate) fn apply_offset(&mut self, offset: i64) {
        if offset > 0 {
            if offset > self.next_id.saturating_add(10) {
                return;
            }
            self.items.retain(|p| p.id >= offset);
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            while self.items.len() > keep {
                self.items.pop_front();
            }
        }
    }

    /// Up to `limit` updates from the head, as JSON texts.
    pub(crate) fn batch(&self, limit: usize) -> Vec<String> {
        self.items
            .iter()
            .take(limit)
            .map(Pending::to_json)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn update_json_puts_update_id_first() {
        let s = update_json(7, &json!({"message": {"text": "x"}}));
        assert!(s.starts_with("{\"update_id\":7,"));
        let v: Value = serde_json::from_str(&s).unwrap_or_default();
        assert_eq!(v["message"]["text"], "x");
    }

    #[test]
    fn classify_messages_by_chat_and_callbacks_by_user() {
        let m = json!({"message": {"chat": {"id": 5}, "date": 100}});
        assert_eq!(classify("message", &m, 1, 50), ("chat:5".into(), 100 + DAY));
        let c = json!({"callback_query": {"from": {"id": 9}}});
        assert_eq!(
            classify("callback_query", &c, 1, 50),
            ("callback_user:9".into(), 200)
        );
        let u = json!({"future_thing": {}});
        assert_eq!(classify("future_thing", &u, 3, 0).0, "own:3");
    }

    #[test]
    fn default_allowed_set_excludes_opt_in_types() {
        assert!(is_allowed("message", None));
        assert!(!is_allowed("chat_member", None));
        let list = vec!["chat_member".to_owned()];
        assert!(!is_allowed("message", Some(&list)));
    }
}
