//! [`Upd`]: builders of realistic update payloads (shapes from real
//! fixtures). The sim fills in message ids (per chat, shared with the bot's
//! own messages), dates from its clock and callback ids at injection time.

use serde_json::{Value, json};

use crate::state::{Config, State};

/// One update to inject, without its `update_id` (the sim assigns it).
#[derive(Debug, Clone)]
pub struct Upd {
    kind: Kind,
    date: Option<i64>,
    message_id: Option<i64>,
    from: Option<i64>,
}

#[derive(Debug, Clone)]
enum Kind {
    Text { chat_id: i64, text: String },
    Command { chat_id: i64, text: String },
    EditedText { chat_id: i64, text: String },
    Callback { user_id: i64, data: String },
    InlineQuery { user_id: i64, query: String },
    Location { chat_id: i64, lat: f64, lon: f64 },
    MemberUpdate { chat_id: i64 },
    Future { chat_id: i64 },
    Raw(Value),
}

impl Upd {
    fn new(kind: Kind) -> Self {
        Self {
            kind,
            date: None,
            message_id: None,
            from: None,
        }
    }

    /// A text message. Private chat (`from.id == chat_id`) for positive ids;
    /// negative ids are groups (sender from [`Upd::from_user`], default 1000).
    pub fn text(chat_id: i64, text: impl Into<String>) -> Self {
        Self::new(Kind::Text {
            chat_id,
            text: text.into(),
        })
    }

    /// A command such as `/start` or `/start payload`, with a `bot_command` entity.
    pub fn command(chat_id: i64, text: impl Into<String>) -> Self {
        Self::new(Kind::Command {
            chat_id,
            text: text.into(),
        })
    }

    /// An `edited_message` (edits the chat's last message unless
    /// [`Upd::message_id`] says which).
    pub fn edited_text(chat_id: i64, text: impl Into<String>) -> Self {
        Self::new(Kind::EditedText {
            chat_id,
            text: text.into(),
        })
    }

    /// A `callback_query` from `user_id` pressing a button with `data` on the
    /// bot's last message in that private chat (or [`Upd::message_id`]).
    pub fn callback(user_id: i64, data: impl Into<String>) -> Self {
        Self::new(Kind::Callback {
            user_id,
            data: data.into(),
        })
    }

    /// An `inline_query` from `user_id` typing `@bot query` in a private chat with someone
    /// (`chat_type: "sender"`, empty `offset`). Its id is drawn from the same counter as
    /// callback query ids.
    pub fn inline_query(user_id: i64, query: impl Into<String>) -> Self {
        Self::new(Kind::InlineQuery {
            user_id,
            query: query.into(),
        })
    }

    /// A message carrying a location.
    pub fn location(chat_id: i64, lat: f64, lon: f64) -> Self {
        Self::new(Kind::Location { chat_id, lat, lon })
    }

    /// A `my_chat_member` update: the user blocked the bot (member → kicked).
    pub fn member_update(chat_id: i64) -> Self {
        Self::new(Kind::MemberUpdate { chat_id })
    }

    /// A kind teloxide 0.17 does not know:
    /// `{"future_thing":{"chat":{"id":…,"type":"private"},"date":…}}`.
    pub fn unknown_kind(chat_id: i64) -> Self {
        Self::new(Kind::Future { chat_id })
    }

    /// Any update object without `update_id`, e.g. `{"message":{…}}`.
    pub fn raw(update_without_id: Value) -> Self {
        Self::new(Kind::Raw(update_without_id))
    }

    /// Set the message date (unix seconds); default: the sim's now.
    pub fn date(mut self, unix_secs: i64) -> Self {
        self.date = Some(unix_secs);
        self
    }

    /// Use this message id instead of the next one of the chat.
    pub fn message_id(mut self, id: i64) -> Self {
        self.message_id = Some(id);
        self
    }

    /// Sender id for group messages (private chats use the chat id).
    pub fn from_user(mut self, user_id: i64) -> Self {
        self.from = Some(user_id);
        self
    }

    /// Build the payload against the sim's state.
    pub(crate) fn build(self, st: &mut State, config: &Config) -> Value {
        let date = self.date.unwrap_or_else(|| st.now_unix());
        let sender = |chat_id: i64| {
            self.from
                .unwrap_or(if chat_id > 0 { chat_id } else { 1000 })
        };
        let new_id = |st: &mut State, chat_id: i64| match self.message_id {
            Some(id) => id,
            None => st.next_message_id(chat_id),
        };
        match self.kind {
            Kind::Raw(v) => v,
            Kind::Text { chat_id, text } => {
                let id = new_id(st, chat_id);
                let mut m = message(id, sender(chat_id), chat_id, date);
                m["text"] = json!(text);
                json!({ "message": m })
            }
            Kind::Command { chat_id, text } => {
                let id = new_id(st, chat_id);
                let mut m = message(id, sender(chat_id), chat_id, date);
                let len: usize = text
                    .split_whitespace()
                    .next()
                    .map(|w| w.encode_utf16().count())
                    .unwrap_or(0);
                m["entities"] = json!([{ "offset": 0, "length": len, "type": "bot_command" }]);
                m["text"] = json!(text);
                json!({ "message": m })
            }
            Kind::EditedText { chat_id, text } => {
                let id = self
                    .message_id
                    .or_else(|| st.last_message_id.get(&chat_id).copied())
                    .unwrap_or_else(|| st.next_message_id(chat_id));
                let mut m = message(id, sender(chat_id), chat_id, date);
                m["edit_date"] = json!(date);
                m["text"] = json!(text);
                json!({ "edited_message": m })
            }
            Kind::Location { chat_id, lat, lon } => {
                let id = new_id(st, chat_id);
                let mut m = message(id, sender(chat_id), chat_id, date);
                m["location"] = json!({ "latitude": lat, "longitude": lon });
                json!({ "message": m })
            }
            Kind::Callback { user_id, data } => {
                let last_sent = st.sent.to_vec().into_iter().rev().find(|s| {
                    s.chat_id == user_id && self.message_id.is_none_or(|id| id == s.message_id)
                });
                let mut m = match &last_sent {
                    Some(s) => {
                        let mut m = message(s.message_id, 0, user_id, date);
                        m["text"] = json!(s.text);
                        if let Some(rm) = &s.reply_markup {
                            m["reply_markup"] = rm.clone();
                        }
                        m
                    }
                    None => {
                        let id = self
                            .message_id
                            .unwrap_or_else(|| st.next_message_id(user_id));
                        let mut m = message(id, 0, user_id, date);
                        m["text"] = json!("Choose:");
                        m
                    }
                };
                m["from"] = config.bot_user();
                st.next_callback_id += 1;
                let cb_id = format!(
                    "{}{:06}",
                    config.bot_id().unsigned_abs(),
                    st.next_callback_id
                );
                json!({ "callback_query": {
                    "id": cb_id,
                    "from": user(user_id),
                    "message": m,
                    "chat_instance": format!("{}", 5_665_609_217_735_090_123_i64 ^ user_id),
                    "data": data,
                }})
            }
            Kind::InlineQuery { user_id, query } => {
                st.next_callback_id += 1;
                let id = format!(
                    "{}{:06}",
                    config.bot_id().unsigned_abs(),
                    st.next_callback_id
                );
                json!({ "inline_query": {
                    "id": id,
                    "from": user(user_id),
                    "query": query,
                    "offset": "",
                    "chat_type": "sender",
                }})
            }
            Kind::MemberUpdate { chat_id } => {
                let bot = config.bot_user();
                json!({ "my_chat_member": {
                    "chat": chat(chat_id),
                    "from": user(sender(chat_id)),
                    "date": date,
                    "old_chat_member": { "user": bot, "status": "member" },
                    "new_chat_member": { "user": config.bot_user(), "status": "kicked", "until_date": 0 },
                }})
            }
            Kind::Future { chat_id } => json!({ "future_thing": {
                "chat": { "id": chat_id, "type": "private" },
                "date": date,
            }}),
        }
    }
}

/// A user object like Telegram's.
pub(crate) fn user(id: i64) -> Value {
    json!({
        "id": id,
        "is_bot": false,
        "first_name": "Test",
        "last_name": format!("User{id}"),
        "username": format!("user{}", id.unsigned_abs()),
        "language_code": "en",
    })
}

/// A chat object: private for positive ids, supergroup for `-100…`, else group.
pub(crate) fn chat(id: i64) -> Value {
    if id > 0 {
        json!({
            "id": id,
            "first_name": "Test",
            "last_name": format!("User{id}"),
            "username": format!("user{id}"),
            "type": "private",
        })
    } else if id <= -1_000_000_000_000 {
        json!({ "id": id, "title": "Test Supergroup", "type": "supergroup" })
    } else {
        json!({ "id": id, "title": "Test Group", "type": "group" })
    }
}

/// The common part of a message; `from_id == 0` leaves `from` out.
fn message(message_id: i64, from_id: i64, chat_id: i64, date: i64) -> Value {
    let mut m = json!({
        "message_id": message_id,
        "chat": chat(chat_id),
        "date": date,
    });
    if from_id != 0 {
        m["from"] = user(from_id);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            token: "4242:test".to_owned(),
            allow_http_loopback: true,
            time_scale: 1.0,
            set_webhook_rate_limit: false,
        }
    }

    #[test]
    fn an_inline_query_is_what_telegram_sends_and_teloxide_reads() {
        let mut st = State::new(1, 16);
        let cfg = config();
        let a = Upd::inline_query(7, "weather").build(&mut st, &cfg);
        let b = Upd::inline_query(7, "").build(&mut st, &cfg);
        let q = &a["inline_query"];
        assert_eq!(q["from"]["id"], 7);
        assert_eq!(q["query"], "weather");
        assert_eq!(q["offset"], "");
        assert_eq!(q["chat_type"], "sender");
        assert_ne!(q["id"], b["inline_query"]["id"], "ids are unique");
        let mut with_id = a.clone();
        with_id["update_id"] = json!(1);
        // From text, as a bot reads it (teloxide's `UpdateKind` wants borrowed keys).
        let upd: teloxide::types::Update =
            serde_json::from_str(&with_id.to_string()).expect("teloxide parses it");
        let teloxide::types::UpdateKind::InlineQuery(iq) = upd.kind else {
            panic!("not an inline query: {:?}", upd.kind);
        };
        assert_eq!(iq.query, "weather");
        assert_eq!(iq.id.0, q["id"].as_str().unwrap_or_default());
    }
}
