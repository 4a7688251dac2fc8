//! Everything one simulated bot holds, behind one `std::sync::Mutex` that is
//! never held across an `.await`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::clock;
use crate::faults::{ApiFault, WebhookFault};
use crate::queue::UpdateQueue;
use crate::records::{Call, Delivery, Log, SentMessage};

/// Settings fixed at start.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The only token the sim accepts.
    pub token: String,
    /// Accept (and deliver to) `http://` webhooks on loopback hosts.
    pub allow_http_loopback: bool,
    /// Multiplier for Telegram's delays (back-off, read timeout, degraded window).
    pub time_scale: f64,
    /// Enforce the 1/s limit on setWebhook with a non-empty url.
    pub set_webhook_rate_limit: bool,
}

impl Config {
    /// The bot's user, as in `from` of its messages.
    pub(crate) fn bot_user(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.bot_id(),
            "is_bot": true,
            "first_name": "Sim Bot",
            "username": "sim_test_bot",
        })
    }
}

impl Config {
    /// The bot's user id: the numeric prefix of the token.
    pub(crate) fn bot_id(&self) -> i64 {
        self.token
            .split(':')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(123_456)
    }

    /// A Telegram delay in seconds, scaled.
    pub(crate) fn scaled(&self, secs: f64) -> Duration {
        clock::scaled(secs, self.time_scale)
    }
}

/// The current webhook.
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    /// URL exactly as given to setWebhook (what getWebhookInfo shows).
    pub url: String,
    /// Parsed form used for delivery.
    pub parsed: Url,
    /// Value for `X-Telegram-Bot-Api-Secret-Token`, if set.
    pub secret: Option<String>,
    /// Max parallel deliveries (1–100).
    pub max_connections: u32,
    /// A certificate was uploaded with setWebhook.
    pub has_custom_certificate: bool,
    /// The fixed IP address given to setWebhook, if any (delivery still goes to the URL's
    /// host: the sim only talks to loopback).
    pub ip_address: Option<String>,
}

/// Why a waiting long poll was woken.
#[derive(Debug)]
pub(crate) enum Wake {
    /// New updates were queued.
    NewUpdates,
    /// Aborted with this 409 description.
    Aborted(&'static str),
}

/// A `getUpdates` request that is waiting for updates.
#[derive(Debug)]
pub(crate) struct LongPoll {
    /// Identifies the waiter so only it removes itself.
    pub id: u64,
    /// Wakes it.
    pub tx: oneshot::Sender<Wake>,
}

/// Delivery bookkeeping shared by the delivery task and its attempts.
#[derive(Debug)]
pub(crate) struct DeliveryState {
    /// Bumped whenever the webhook changes; results of older attempts are ignored.
    pub epoch: u64,
    /// Last 2xx answer (for degraded mode); `None` right after setWebhook.
    pub last_success: Option<Instant>,
    /// Attempts running in this epoch.
    pub in_flight: usize,
}

/// Mutable state of the simulated bot.
#[derive(Debug)]
pub(crate) struct State {
    /// Current webhook, if any.
    pub webhook: Option<Webhook>,
    /// `allowed_updates`; `None` = the default set.
    pub allowed_updates: Option<Vec<String>>,
    /// Last delivery error (sim unix date, message), reset by a changing setWebhook/deleteWebhook.
    pub last_error: Option<(i64, String)>,
    /// Earliest time the next non-empty setWebhook is allowed.
    pub next_set_webhook_at: Option<Instant>,
    /// The update queue.
    pub queue: UpdateQueue,
    /// Waiting `getUpdates`, if any.
    pub long_poll: Option<LongPoll>,
    /// Source of long-poll ids.
    pub next_long_poll_id: u64,
    /// Calls received.
    pub calls: Log<Call>,
    /// Messages sent by the bot.
    pub sent: Log<SentMessage>,
    /// Webhook delivery attempts.
    pub deliveries: Log<Delivery>,
    /// Updates dropped (expired or given up).
    pub dropped: Log<i64>,
    /// Last message id per chat (shared by the bot's and the users' messages).
    pub last_message_id: HashMap<i64, i64>,
    /// Active webhook fault.
    pub webhook_fault: Option<WebhookFault>,
    /// Pending method faults by lowercase method name: (fault, remaining count).
    pub api_faults: HashMap<String, (ApiFault, u32)>,
    /// Seconds added to real time to get sim time.
    pub now_offset: i64,
    /// Commands set with setMyCommands.
    pub commands: Value,
    /// Delivery bookkeeping.
    pub delivery: DeliveryState,
    /// Source of callback query ids.
    pub next_callback_id: u64,
}

impl State {
    pub(crate) fn new(first_update_id: i64, log_cap: usize) -> Self {
        Self {
            webhook: None,
            allowed_updates: None,
            last_error: None,
            next_set_webhook_at: None,
            queue: UpdateQueue::new(first_update_id),
            long_poll: None,
            next_long_poll_id: 1,
            calls: Log::with_cap(log_cap),
            sent: Log::with_cap(log_cap),
            deliveries: Log::with_cap(log_cap),
            dropped: Log::with_cap(log_cap),
            last_message_id: HashMap::new(),
            webhook_fault: None,
            api_faults: HashMap::new(),
            now_offset: 0,
            commands: Value::Array(Vec::new()),
            delivery: DeliveryState {
                epoch: 0,
                last_success: None,
                in_flight: 0,
            },
            next_callback_id: 1,
        }
    }

    /// Sim unix time.
    pub(crate) fn now_unix(&self) -> i64 {
        clock::sim_unix_now(self.now_offset)
    }

    /// Next message id in a chat.
    pub(crate) fn next_message_id(&mut self, chat_id: i64) -> i64 {
        let id = self.last_message_id.entry(chat_id).or_insert(0);
        *id += 1;
        *id
    }

    /// Drop expired updates that are not in flight.
    pub(crate) fn gc(&mut self) {
        let now = self.now_unix();
        for id in self.queue.gc(now) {
            self.dropped.push(id);
        }
    }

    /// Wake the waiting long poll (if any) with `wake`.
    pub(crate) fn wake_long_poll(&mut self, wake: Wake) {
        if let Some(lp) = self.long_poll.take() {
            let _ = lp.tx.send(wake);
        }
    }

    /// The webhook changed: start delivery afresh (degraded, no history).
    pub(crate) fn new_delivery_epoch(&mut self) {
        self.delivery.epoch += 1;
        self.delivery.last_success = None;
        self.delivery.in_flight = 0;
        let now = Instant::now();
        for p in &mut self.queue.items {
            p.reset_delivery(now);
        }
    }
}

/// What every task of one sim shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Fixed settings.
    pub config: Config,
    /// The bot's state.
    pub state: Mutex<State>,
    /// Wakes the delivery task (new updates, finished attempts, config changes).
    pub delivery_wake: Notify,
    /// Stops the server, the delivery task and waiting requests.
    pub shutdown: CancellationToken,
    /// Client for webhook delivery (no redirects, 60 s × scale timeout).
    pub http: reqwest::Client,
    /// Where the server listens.
    pub addr: SocketAddr,
}

impl Shared {
    /// Lock the state; a poisoned lock is still usable (state stays consistent
    /// because no code panics while holding it on purpose).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
