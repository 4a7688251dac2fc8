//! Operations shared by the Rust handle ([`crate::Sim`]) and the HTTP
//! control API: injecting updates, faults, clock, read-backs.

use serde_json::Value;
use tokio::time::Instant;

use crate::faults::{ApiFault, WebhookFault};
use crate::methods::webhook_info_value;
use crate::queue::{is_allowed, kind_of};
use crate::state::{Shared, State, Wake, Webhook};
use crate::updates::Upd;
use crate::webhook_url;

/// Queue one update (or consume an id and drop it when `allowed_updates`
/// filters its type out); wakes a waiting long poll.
fn enqueue(st: &mut State, mut payload: Value) -> i64 {
    if let Some(obj) = payload.as_object_mut() {
        obj.remove("update_id");
    }
    let id = st.queue.alloc_id();
    let kind = kind_of(&payload);
    if is_allowed(&kind, st.allowed_updates.as_deref()) {
        let now_unix = st.now_unix();
        st.queue.push(id, payload, now_unix, Instant::now());
        st.wake_long_poll(Wake::NewUpdates);
    }
    id
}

impl Shared {
    pub(crate) fn inject(&self, u: Upd) -> i64 {
        let id = {
            let mut st = self.lock();
            let payload = u.build(&mut st, &self.config);
            enqueue(&mut st, payload)
        };
        self.delivery_wake.notify_one();
        id
    }

    pub(crate) fn inject_json(&self, payload: Value) -> i64 {
        let id = enqueue(&mut self.lock(), payload);
        self.delivery_wake.notify_one();
        id
    }

    pub(crate) fn break_webhook(&self, f: WebhookFault) {
        self.lock().webhook_fault = Some(f);
        self.delivery_wake.notify_one();
    }

    pub(crate) fn heal_webhook(&self) {
        self.lock().webhook_fault = None;
        self.delivery_wake.notify_one();
    }

    pub(crate) fn fail_method(&self, method: &str, f: ApiFault, times: u32) {
        let key = method.to_ascii_lowercase();
        let mut st = self.lock();
        if times == 0 {
            st.api_faults.remove(&key);
        } else {
            st.api_faults.insert(key, (f, times));
        }
    }

    /// Point the webhook elsewhere without telling the bot (URL drift). An
    /// empty url removes the webhook; an unparsable one is ignored.
    pub(crate) fn set_webhook_url_behind_back(&self, url: &str) {
        let mut st = self.lock();
        if url.is_empty() {
            st.webhook = None;
        } else if let Ok(parsed) = webhook_url::parse(url) {
            match st.webhook.as_mut() {
                Some(w) => {
                    w.url = url.to_owned();
                    w.parsed = parsed;
                }
                None => {
                    st.webhook = Some(Webhook {
                        url: url.to_owned(),
                        parsed,
                        secret: None,
                        max_connections: 40,
                        has_custom_certificate: false,
                        ip_address: None,
                    });
                    st.new_delivery_epoch();
                    st.wake_long_poll(Wake::Aborted("Conflict: terminated by setWebhook request"));
                }
            }
        } else {
            tracing::warn!(url, "telegram-sim: ignoring unparsable webhook url");
        }
        drop(st);
        self.delivery_wake.notify_one();
    }

    pub(crate) fn set_now_offset(&self, secs: i64) {
        self.lock().now_offset = secs;
        self.delivery_wake.notify_one();
    }

    pub(crate) fn webhook_info(&self) -> Value {
        webhook_info_value(&mut self.lock())
    }

    pub(crate) fn pending_update_count(&self) -> usize {
        let mut st = self.lock();
        st.gc();
        st.queue.len()
    }
}
