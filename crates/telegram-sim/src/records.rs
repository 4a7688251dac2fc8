//! What the sim saw and did, kept for tests to read back: Bot API calls,
//! messages the bot sent, and webhook delivery attempts. Each log is capped so
//! a long demo run cannot grow memory without bound.

use std::collections::VecDeque;
use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;

/// How many entries each log keeps by default ([`crate::SimBuilder::log_cap`]); older ones
/// are forgotten.
pub(crate) const LOG_CAP: usize = 20_000;

/// One Bot API request that reached a valid token.
#[derive(Debug, Clone, Serialize)]
pub struct Call {
    /// Canonical camelCase name (`sendMessage`), or the name as sent if unknown.
    pub method: String,
    /// Query string and body parameters merged (body wins).
    pub params: Value,
    /// When the request arrived.
    pub at: SystemTime,
}

/// A message the bot sent with `sendMessage`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentMessage {
    /// Target chat.
    pub chat_id: i64,
    /// Message text as sent.
    pub text: String,
    /// The id the sim assigned (increments per chat).
    pub message_id: i64,
    /// `reply_markup` parsed as JSON, if any.
    pub reply_markup: Option<Value>,
}

/// One webhook delivery attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// The update that was sent.
    pub update_id: i64,
    /// The URL it was sent to.
    pub url: String,
    /// HTTP status of the answer, if an answer (or a faked one) came.
    pub status: Option<u16>,
    /// The error Telegram would record, `None` on success.
    pub error: Option<String>,
    /// When the attempt finished.
    pub at: SystemTime,
}

/// A bounded append-only log.
#[derive(Debug)]
pub(crate) struct Log<T> {
    items: VecDeque<T>,
    cap: usize,
}

impl<T: Clone> Log<T> {
    /// A log keeping the last `cap` entries (at least one).
    pub(crate) fn with_cap(cap: usize) -> Self {
        Self {
            items: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    pub(crate) fn push(&mut self, item: T) {
        if self.items.len() >= self.cap {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    pub(crate) fn to_vec(&self) -> Vec<T> {
        self.items.iter().cloned().collect()
    }
}
