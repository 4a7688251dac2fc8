//! [`Sim`]: the cheap-to-clone handle tests hold: inject updates, inject
//! faults, read back what happened, stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::faults::{ApiFault, WebhookFault};
use crate::records::{Call, Delivery, SentMessage};
use crate::state::Shared;
use crate::updates::Upd;

/// Stops the sim when the last [`Sim`] clone is dropped.
#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

/// A running simulated Bot API server (one bot). Clones share it.
#[derive(Debug, Clone)]
pub struct Sim {
    handle: Arc<Handle>,
}

impl Sim {
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Self {
        Self {
            handle: Arc::new(Handle { shared }),
        }
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// `http://127.0.0.1:PORT` (no trailing slash); the Bot API lives at
    /// `{base}/bot<token>/<method>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.shared().addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.shared().addr
    }

    /// The valid token.
    pub fn token(&self) -> String {
        self.shared().config.token.clone()
    }

    /// Queue an update; returns its update_id (ids strictly increase). If
    /// `allowed_updates` excludes its type, the id is used up but nothing is queued.
    pub fn inject(&self, u: Upd) -> i64 {
        self.shared().inject(u)
    }

    /// Queue a raw update object like `{"message":{…}}` (any `update_id` in
    /// it is replaced).
    pub fn inject_json(&self, update_without_id: Value) -> i64 {
        self.shared().inject_json(update_without_id)
    }

    /// Make webhook delivery fail this way until [`Sim::heal_webhook`].
    pub fn break_webhook(&self, f: WebhookFault) {
        self.shared().break_webhook(f);
    }

    /// Deliver to the real URL again.
    pub fn heal_webhook(&self) {
        self.shared().heal_webhook();
    }

    /// Fail the next `times` calls of `method` (case-insensitive); `times == 0` clears.
    pub fn fail_method(&self, method: &str, f: ApiFault, times: u32) {
        self.shared().fail_method(method, f, times);
    }

    /// Change the webhook URL without the bot knowing (keeps errors and
    /// settings; sets a webhook if none was set; `""` removes it).
    pub fn set_webhook_url_behind_back(&self, url: &str) {
        self.shared().set_webhook_url_behind_back(url);
    }

    /// Calls `method` with JSON `params` over HTTP as another client of this token would
    /// (someone's setWebhook with other settings, a dev instance's deleteWebhook); returns
    /// Telegram's answer envelope. The call is recorded like any other.
    pub async fn call_as_client(&self, method: &str, params: Value) -> Result<Value, String> {
        let url = format!("{}/bot{}/{method}", self.base_url(), self.token());
        let resp = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?
            .post(url)
            .json(&params)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        resp.json().await.map_err(|e| e.to_string())
    }

    /// Sim "now" = real unix time + `secs` (dates of new messages, expiry).
    pub fn set_now_offset(&self, secs: i64) {
        self.shared().set_now_offset(secs);
    }

    /// Every Bot API call with a valid token, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared().lock().calls.to_vec()
    }

    /// Calls of one method (case-insensitive).
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method.eq_ignore_ascii_case(method))
            .collect()
    }

    /// Messages sent with sendMessage.
    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.shared().lock().sent.to_vec()
    }

    /// The object getWebhookInfo returns.
    pub fn webhook_info(&self) -> Value {
        self.shared().webhook_info()
    }

    /// Updates queued or being delivered.
    pub fn pending_update_count(&self) -> usize {
        self.shared().pending_update_count()
    }

    /// Ids of the updates queued or being delivered (not yet acknowledged by a 2xx delivery
    /// or confirmed by a getUpdates offset), oldest first.
    pub fn pending_update_ids(&self) -> Vec<i64> {
        let mut st = self.shared().lock();
        st.gc();
        st.queue.items.iter().map(|p| p.id).collect()
    }

    /// Every webhook delivery attempt, in completion order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared().lock().deliveries.to_vec()
    }

    /// Ids of updates dropped because they expired (or would have before
    /// their next retry).
    pub fn dropped_updates(&self) -> Vec<i64> {
        self.shared().lock().dropped.to_vec()
    }

    /// Poll `f` every 10 ms until it is true (→ true) or `timeout` passes (→ false).
    pub async fn wait_for<F: Fn(&Sim) -> bool>(&self, timeout: Duration, f: F) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if f(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stop the server, the delivery task and waiting requests.
    pub fn shutdown(&self) {
        self.shared().shutdown.cancel();
    }
}
