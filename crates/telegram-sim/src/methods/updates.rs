//! getUpdates: offset confirmation, limit/timeout clamps, long polling that
//! new updates wake, and the 409s (webhook active, superseded poll,
//! setWebhook).
//!
//! Deliberately skipped: the 3-second throttling of repeated 409 answers
//! and the anti-busy-loop rules (forced 3 s timeout / limit 1 on rapid
//! repeats); tests restart bots quickly and would only get slower.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::api::{ApiError, ApiOk, ApiResult};
use crate::params::Params;
use crate::state::{LongPoll, Shared, State, Wake};

use super::webhook::parse_allowed;

const WEBHOOK_ACTIVE: &str = "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
const OTHER_POLL: &str = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";

fn result(batch: Vec<String>) -> ApiOk {
    ApiOk::raw(format!("[{}]", batch.join(",")))
}

/// Register a waiter, aborting the previous one.
fn register(st: &mut State) -> (u64, oneshot::Receiver<Wake>) {
    st.wake_long_poll(Wake::Aborted(OTHER_POLL));
    let (tx, rx) = oneshot::channel();
    let id = st.next_long_poll_id;
    st.next_long_poll_id += 1;
    st.long_poll = Some(LongPoll { id, tx });
    (id, rx)
}

pub(super) async fn get_updates(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    let offset = p.i64("offset").unwrap_or(0);
    let limit = usize::try_from(p.i64("limit").unwrap_or(100).clamp(1, 100)).unwrap_or(100);
    let timeout = u64::try_from(p.i64("timeout").unwrap_or(0).clamp(0, 50)).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(timeout);

    let (mut id, mut rx) = {
        let mut st = shared.lock();
        if st.webhook.is_some() {
            return Err(ApiError::conflict(WEBHOOK_ACTIVE));
        }
        if let Some(a) = p.json("allowed_updates").and_then(|v| parse_allowed(&v)) {
            st.allowed_updates = a;
        }
        st.queue.apply_offset(offset);
        st.gc();
        let batch = st.queue.batch(limit);
        if !batch.is_empty() || timeout == 0 {
            return Ok(result(batch));
        }
        register(&mut st)
    };

    // Bounded by the deadline (≤ 50 s) and by shutdown.
    loop {
        tokio::select! {
            wake = &mut rx => match wake {
                Ok(Wake::NewUpdates) => {
                    let mut st = shared.lock();
                    st.gc();
                    let batch = st.queue.batch(limit);
                    if !batch.is_empty() {
                        return Ok(result(batch));
                    }
                    (id, rx) = register(&mut st);
                }
                Ok(Wake::Aborted(desc)) => return Err(ApiError::new(409, desc)),
                Err(_) => return Ok(result(Vec::new())),
            },
            () = tokio::time::sleep_until(deadline) => {
                let mut st = shared.lock();
                if st.long_poll.as_ref().is_some_and(|lp| lp.id == id) {
                    st.long_poll = None;
                }
                st.gc();
                return Ok(result(st.queue.batch(limit)));
            }
            () = shared.shutdown.cancelled() => return Ok(result(Vec::new())),
        }
    }
}
