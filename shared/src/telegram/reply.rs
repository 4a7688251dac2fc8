//! The reply that rides on the webhook answer (bot-server's opt-in `webhook.reply_in_answer`).
//!
//! Telegram executes a Bot API method found in a webhook's 2xx answer (`{"method": …}`), with
//! no result for the bot. While a handler runs inside [`ReplySlot::scope`], the first call it
//! makes through [`super::TelegramClient::send_ignoring_result`] (a call whose result the caller
//! does not read, such as `sendMessage` in the reference bot) is *held* instead of sent. When
//! the handler ends having made only that call, the inbox stores it with the update and the
//! webhook answers with it. Any other call made after it sends the held one first, so the
//! order of the handler's calls is kept, and nothing is answered in the webhook then.
//!
//! Telegram runs a webhook answer's method with no result for anyone: one it refuses (a text
//! over 4,096 characters, a group's 21st message in a minute) is silently lost. So a call is
//! held only if it will fit ([`fits_in_answer`]) and its chat's send slot is free now (the
//! client's limiter; the slot is taken then, so a held reply sent later as a request is not
//! paced twice). Anything else goes out as a normal request: it waits for its slot, and a
//! refusal fails the handler as without this mode (retried, or parked).

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use super::TelegramClient;
use super::error::TelegramError;
pub use super::fit::{MAX_CALLBACK_TEXT, MAX_CAPTION, MAX_TEXT, fits_in_answer};

tokio::task_local! {
    static SLOT: ReplySlot;
}

/// Where one handler run's first result-less call is held. Cheap to clone.
#[derive(Clone, Default)]
pub struct ReplySlot(Arc<Mutex<State>>);

#[derive(Default)]
enum State {
    /// Nothing held yet: the next result-less call is held.
    #[default]
    Open,
    /// One call held.
    Held(Held),
    /// A held call was sent because another call followed: nothing more is held.
    Spent,
}

/// A held Bot API call: answered in the webhook, or sent as a normal request.
pub struct Held {
    client: TelegramClient,
    method: &'static str,
    params: Bytes,
    /// Its send slot was taken when it was held.
    paced: bool,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// What the slot made of a call.
pub(super) enum Offer {
    /// Held: do not send it.
    Held,
    /// Send it; send this held call before it.
    SendAfter(Held),
    /// Send it.
    Send,
}

/// Whether Telegram runs `method` from a webhook answer (it ignores every `get…`,
/// `deleteWebhook`, `setWebhook`, `close` and `logOut`).
pub fn answerable(method: &str) -> bool {
    let m = method.to_ascii_lowercase();
    !(m.starts_with("get") || ["deletewebhook", "setwebhook", "close", "logout"].contains(&&*m))
}

/// Whether `method` is a reply: what a webhook answer legitimately carries for the update it
/// answers (a message sent, edited, copied or forwarded, a query answered, a reaction set).
/// The watchdog, replaying a drained update to the bot, runs the method of the bot's answer
/// with the bot's token; anything else there (banChatMember, deleteMessage, setWebhook,
/// promoteChatMember…) is refused: whoever answers on `BOT_URL` must not get the token's
/// write access.
pub fn is_reply(method: &str) -> bool {
    let m = method.to_ascii_lowercase();
    m.starts_with("send")
        || m.starts_with("answer")
        || m.starts_with("editmessage")
        || [
            "copymessage",
            "copymessages",
            "forwardmessage",
            "forwardmessages",
            "setmessagereaction",
            "stopmessagelivelocation",
            "stoppoll",
        ]
        .contains(&&*m)
}

impl ReplySlot {
    /// Runs `f` with this slot open for the result-less calls it makes.
    pub async fn scope<F: std::future::Future>(&self, f: F) -> F::Output {
        SLOT.scope(self.clone(), f).await
    }

    /// The held call, if the handler made exactly that one call (through the slot); the slot
    /// is spent afterwards.
    pub fn take_held(&self) -> Option<Held> {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *s, State::Spent) {
            State::Held(h) => Some(h),
            _ => None,
        }
    }

    /// Nothing held or sent through the slot yet: the next fitting call may be held.
    fn is_open(&self) -> bool {
        matches!(
            *self.0.lock().unwrap_or_else(PoisonError::into_inner),
            State::Open
        )
    }

    /// Holds `call` if nothing was held yet, else says what to send.
    fn offer(&self, call: Held) -> Offer {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *s, State::Spent) {
            State::Open => {
                *s = State::Held(call);
                Offer::Held
            }
            State::Held(h) => Offer::SendAfter(h),
            State::Spent => Offer::Send,
        }
    }

    /// Another call goes out now: the held one, if any, must go first. An open slot stays
    /// open: a call made before anything was held still comes before a later held one.
    pub fn before_call(&self) -> Option<Held> {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *s, State::Spent) {
            State::Held(h) => Some(h),
            State::Open => {
                *s = State::Open;
                None
            }
            State::Spent => None,
        }
    }
}

/// The slot's verdict on a result-less call made now (outside a slot: send it).
pub(super) fn offer(client: &TelegramClient, method: &'static str, params: &Bytes) -> Offer {
    SLOT.try_with(|slot| {
        if !answerable(method) {
            return slot.before_call().map_or(Offer::Send, Offer::SendAfter);
        }
        // Hold only what will fit and may go out now; the rest goes as a request (paced,
        // and refused loudly rather than dropped silently).
        if !slot.is_open()
            || !fits_in_answer(method, params)
            || !client.take_send_slot(method, params)
        {
            return slot.before_call().map_or(Offer::Send, Offer::SendAfter);
        }
        slot.offer(Held {
            client: client.clone(),
            method,
            params: params.clone(),
            paced: true,
        })
    })
    .unwrap_or(Offer::Send)
}

/// The slot of the handler run this task is in, if any.
pub fn current() -> Option<ReplySlot> {
    SLOT.try_with(ReplySlot::clone).ok()
}

/// A call whose result is read goes out now: the held call to send before it, if any.
pub(super) fn before_call() -> Option<Held> {
    SLOT.try_with(ReplySlot::before_call).ok().flatten()
}

impl Held {
    /// The Bot API method.
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The webhook answer's body: the parameters with `"method"` first.
    pub fn answer_body(&self) -> String {
        let params = String::from_utf8_lossy(&self.params);
        let rest = params
            .trim_start()
            .strip_prefix('{')
            .unwrap_or("}")
            .trim_start();
        let method = serde_json::Value::from(self.method).to_string();
        if rest.starts_with('}') {
            format!("{{\"method\":{method}}}")
        } else {
            format!("{{\"method\":{method},{rest}")
        }
    }

    /// Sends the call as a normal Bot API request (its result is not read).
    pub async fn send(self) -> Result<(), TelegramError> {
        self.client
            .send_held(self.method, self.params, self.paced)
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_replies_count_as_replies() {
        for m in [
            "sendMessage",
            "sendPhoto",
            "answerCallbackQuery",
            "answerInlineQuery",
            "editMessageText",
            "copyMessage",
            "setMessageReaction",
        ] {
            assert!(is_reply(m), "{m}");
        }
        for m in [
            "banChatMember",
            "deleteMessage",
            "setWebhook",
            "deleteWebhook",
            "promoteChatMember",
            "leaveChat",
            "setMyCommands",
            "getMe",
        ] {
            assert!(!is_reply(m), "{m}");
        }
    }

    fn client() -> TelegramClient {
        let cfg = crate::config::TelegramConfig {
            api_url: "http://127.0.0.1:9".parse().unwrap(),
            token: "123:abc".to_string().into(),
            request_timeout: std::time::Duration::from_secs(1),
            max_attempts: 1,
            backoff_base: std::time::Duration::from_millis(1),
            backoff_max: std::time::Duration::from_millis(1),
            max_retry_after: std::time::Duration::from_secs(1),
            rate: None,
        };
        TelegramClient::new(cfg).unwrap()
    }

    fn offer_in(slot: &ReplySlot, method: &'static str, holdable: bool) -> &'static str {
        let c = client();
        let params = Bytes::from_static(br#"{"chat_id":5,"text":"hi"}"#);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(slot.scope(async {
            if holdable {
                offer(&c, method, &params)
            } else {
                before_call().map_or(Offer::Send, Offer::SendAfter)
            }
        }))
        .into()
    }

    /// Offers `params` for `method` in `slot` with client `c`, under paused time.
    fn offer_with(c: &TelegramClient, slot: &ReplySlot, params: &str) -> &'static str {
        let params = Bytes::from(params.to_string());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(slot.scope(async { offer(c, "sendMessage", &params) }))
            .into()
    }

    #[test]
    fn a_text_telegram_would_refuse_is_not_held() {
        let c = client();
        let slot = ReplySlot::default();
        let long = format!(r#"{{"chat_id":5,"text":"{}"}}"#, "a".repeat(MAX_TEXT + 1));
        assert_eq!(offer_with(&c, &slot, &long), "send");
        // Nothing was held: a later call that fits still may be.
        assert_eq!(
            offer_with(&c, &slot, r#"{"chat_id":5,"text":"hi"}"#),
            "held"
        );
        let caption = format!(
            r#"{{"chat_id":5,"caption":"{}"}}"#,
            "é".repeat(MAX_CAPTION + 1)
        );
        assert!(!fits_in_answer("sendPhoto", caption.as_bytes()));
        let exactly = format!(r#"{{"chat_id":5,"text":"{}"}}"#, "é".repeat(MAX_TEXT));
        assert!(fits_in_answer("sendMessage", exactly.as_bytes()));
        let query = format!(
            r#"{{"callback_query_id":"1","text":"{}"}}"#,
            "a".repeat(201)
        );
        assert!(!fits_in_answer("answerCallbackQuery", query.as_bytes()));
    }

    #[test]
    fn a_reply_whose_chat_has_no_free_send_slot_now_is_not_held() {
        let mut cfg = client().inner.cfg.clone();
        cfg.rate = Some(crate::config::RateLimits {
            global_per_sec: 30,
            per_chat_per_sec: 1,
            per_chat_burst: 1,
        });
        let c = TelegramClient::new(cfg).unwrap();
        let msg = r#"{"chat_id":5,"text":"hi"}"#;
        // The chat's one slot goes to the first run's held reply…
        assert_eq!(offer_with(&c, &ReplySlot::default(), msg), "held");
        // …so the next run's reply to the same chat waits its turn as a request.
        assert_eq!(offer_with(&c, &ReplySlot::default(), msg), "send");
        // Another chat has its own slot.
        assert_eq!(
            offer_with(&c, &ReplySlot::default(), r#"{"chat_id":6,"text":"hi"}"#),
            "held"
        );
    }

    impl From<Offer> for &'static str {
        fn from(o: Offer) -> Self {
            match o {
                Offer::Held => "held",
                Offer::SendAfter(_) => "send-after-held",
                Offer::Send => "send",
            }
        }
    }

    #[test]
    fn the_first_result_less_call_is_held_and_a_second_sends_it_first() {
        let slot = ReplySlot::default();
        assert_eq!(offer_in(&slot, "sendMessage", true), "held");
        assert_eq!(offer_in(&slot, "sendMessage", true), "send-after-held");
        assert_eq!(offer_in(&slot, "sendMessage", true), "send");
        assert!(slot.take_held().is_none(), "two calls: nothing answered");
    }

    #[test]
    fn a_call_whose_result_is_read_sends_a_held_one_first() {
        let slot = ReplySlot::default();
        assert_eq!(offer_in(&slot, "getMe", false), "send");
        assert_eq!(offer_in(&slot, "sendMessage", true), "held");
        assert_eq!(offer_in(&slot, "getChat", false), "send-after-held");
        assert!(slot.take_held().is_none());
    }

    #[test]
    fn methods_telegram_ignores_in_an_answer_are_never_held() {
        let slot = ReplySlot::default();
        assert_eq!(offer_in(&slot, "setWebhook", true), "send");
        assert_eq!(offer_in(&slot, "getUpdates", true), "send");
        assert_eq!(offer_in(&slot, "sendMessage", true), "held");
        let held = slot.take_held().unwrap();
        assert_eq!(held.method(), "sendMessage");
        assert_eq!(
            held.answer_body(),
            r#"{"method":"sendMessage","chat_id":5,"text":"hi"}"#
        );
        let v: serde_json::Value = serde_json::from_str(&held.answer_body()).unwrap();
        assert_eq!(v["chat_id"], 5);
    }

    #[test]
    fn outside_a_slot_everything_is_sent() {
        let c = client();
        let params = Bytes::from_static(b"{}");
        assert!(matches!(offer(&c, "sendMessage", &params), Offer::Send));
        assert!(before_call().is_none());
    }

    #[test]
    fn an_empty_parameter_object_still_makes_a_valid_answer() {
        let h = Held {
            client: client(),
            method: "close",
            params: Bytes::from_static(b"{}"),
            paced: false,
        };
        assert_eq!(h.answer_body(), r#"{"method":"close"}"#);
    }
}
