//! Replies that ride on the webhook answer (opt-in: `webhook.reply_in_answer`).
//!
//! 1. The webhook registers a [`Waiter`] for the update_id *before* storing the update, so a
//!    worker that finishes first still finds it.
//! 2. The worker runs the handler inside a [`ReplySlot`]: its first result-less call through
//!    telbot's client is held, not sent (`telbot_shared::telegram::reply`).
//! 3. If the handler succeeded with exactly that call held and the webhook is still waiting,
//!    the worker takes the waiter, commits the completion *with the reply*, and only then
//!    hands the reply to the webhook, which answers Telegram's POST with it. Telegram
//!    executes it; its result is not reported to anyone.
//! 4. Nobody waiting (the wait ran out, the update came by polling, a replay after a
//!    restart, another instance on PostgreSQL took the update): the held call is sent as a
//!    normal request before the completion is written, as without this mode.
//! 5. A redelivery of a done update (Telegram did not get the answer; the watchdog's replay)
//!    is answered with the stored reply: the handler does not run again. If the webhook that
//!    was handed a reply went away before answering (the client hung up), the reply is sent
//!    as a normal request and the stored copy cleared.
//!
//! 6. A duplicate met through getUpdates (the polling fallback, the dashboard's recovery)
//!    whose stored reply is still there: Telegram never got the answer that carried it (it
//!    would have confirmed the update), and no answer carries anything on this path, so
//!    [`carry_stored`] sends it as a request, exactly once (`telbot_shared::stored_reply`).
//!
//! A handler failure drops the held call (it was never sent; the retry makes it again) and
//! answers the webhook with an empty 200.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use telbot_shared::store::Db;
use telbot_shared::telegram::reply::{Held, ReplySlot};
use tokio::sync::oneshot;

use super::Outcome;

/// What a waiting webhook is handed: the answer's body, or `None` for an empty 200.
type Answer = Option<Arc<str>>;

/// The webhook requests waiting for their update's reply, by update_id.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    /// update_id → (registration number, the waiting request).
    map: Mutex<HashMap<i64, (u64, oneshot::Sender<Answer>)>>,
    registrations: std::sync::atomic::AtomicU64,
}

/// A webhook request waiting for its update's reply. Dropping it (the client hung up)
/// unregisters it.
#[derive(Debug)]
pub(crate) struct Waiter {
    update_id: i64,
    registration: u64,
    rx: oneshot::Receiver<Answer>,
    waiters: Arc<Waiters>,
}

impl Waiters {
    #[allow(clippy::type_complexity)]
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, (u64, oneshot::Sender<Answer>)>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a wait for `update_id`; `None` if another request already waits for it.
    pub(crate) fn register(self: &Arc<Self>, update_id: i64) -> Option<Waiter> {
        let mut map = self.lock();
        if map.contains_key(&update_id) {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        let registration = self
            .registrations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        map.insert(update_id, (registration, tx));
        Some(Waiter {
            update_id,
            registration,
            rx,
            waiters: self.clone(),
        })
    }

    /// The waiting request of `update_id`, taken: from now on only this worker answers it.
    fn take(&self, update_id: i64) -> Option<oneshot::Sender<Answer>> {
        self.lock().remove(&update_id).map(|(_, tx)| tx)
    }

    /// Requests waiting now.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    #[cfg(test)]
    /// Nobody waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Waiter {
    /// The reply to answer with, waiting up to `wait` for the worker to take this request;
    /// once taken, until the worker hands the reply over (it commits it first).
    pub(crate) async fn wait(mut self, wait: Duration) -> Answer {
        if let Ok(r) = tokio::time::timeout(wait, &mut self.rx).await {
            return r.ok().flatten();
        }
        if self.waiters.take(self.update_id).is_some() {
            // Still ours: the worker will find nobody and send the reply itself.
            return None;
        }
        (&mut self.rx).await.ok().flatten()
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let mut map = self.waiters.lock();
        // Only our own registration (a later request may have registered since).
        if map
            .get(&self.update_id)
            .is_some_and(|(r, _)| *r == self.registration)
        {
            map.remove(&self.update_id);
        }
    }
}

/// A reply to hand over once the completion that stores it is committed.
pub(crate) struct Pending {
    tx: oneshot::Sender<Answer>,
    body: Arc<str>,
    held: Held,
    seq: i64,
}

/// Tells a waiting webhook (if any) to answer with an empty 200.
fn answer_empty(waiters: &Waiters, update_id: i64) {
    if let Some(tx) = waiters.take(update_id) {
        let _ = tx.send(None);
    }
}

/// After the handler: decides where the held call goes. Returns the outcome to record (a
/// held call that could not be sent makes it a transient failure), the reply to store, and
/// what to hand the webhook after the commit.
pub(crate) async fn settle(
    waiters: &Waiters,
    slot: &ReplySlot,
    seq: i64,
    update_id: i64,
    outcome: Outcome,
) -> (Outcome, Option<Arc<str>>, Option<Pending>) {
    // A failed run's held call was never sent (a retry makes it again); no held call means
    // nothing to answer with. Either way the update is on disk: an empty 200.
    let (Outcome::Done, Some(held)) = (&outcome, slot.take_held()) else {
        answer_empty(waiters, update_id);
        return (outcome, None, None);
    };
    if let Some(tx) = waiters.take(update_id) {
        let body: Arc<str> = Arc::from(held.answer_body());
        return (
            outcome,
            Some(body.clone()),
            Some(Pending {
                tx,
                body,
                held,
                seq,
            }),
        );
    }
    match held.send().await {
        Ok(()) => (outcome, None, None),
        Err(e) => (
            Outcome::Failed {
                error: e.to_string(),
                transient: e.is_transient(),
                retry_after: e.retry_after(),
            },
            None,
            None,
        ),
    }
}

/// After the commit: the webhook answers with the reply. If it hung up meanwhile, the reply
/// goes out as a normal request and the stored copy is cleared, so no redelivery repeats it.
pub(crate) async fn hand_over(db: &Db, p: Pending) {
    if p.tx.send(Some(p.body)).is_ok() {
        metrics::counter!("telbot_replies_in_answer_total").increment(1);
        return;
    }
    tracing::info!(
        seq = p.seq,
        "the webhook request went away before its answer; sending the reply as a request"
    );
    if let Err(e) = p.held.send().await {
        tracing::warn!(seq = p.seq, error = %e, "a reply whose webhook answer was lost could not be sent either");
        return;
    }
    if let Err(e) = super::sql::clear_reply(db, p.seq).await {
        tracing::warn!(seq = p.seq, error = %e, "cannot clear a reply sent as a request; a redelivery would answer it again");
    }
}

/// Why a stored reply could not be carried (it is back in the store for the next path).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CarryError {
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] telbot_shared::store::StoreError),
    /// The request failed for a transient reason.
    #[error("sending a stored reply: {0}")]
    Send(#[from] telbot_shared::telegram::TelegramError),
}

/// Sends the reply stored with a handled `update_id` as a request, if one is still stored:
/// the update came back through getUpdates, so no webhook answer carried it. Exactly once:
/// the reply is taken from the store first (a redelivery then answers empty); a request
/// that fails for a transient reason gives it back and returns the error, so the caller
/// leaves the update unconfirmed at Telegram and the next poll (or a webhook redelivery)
/// carries it. A refused request (a 4xx) is carried: Telegram running the answer would
/// have been refused alike. True when a reply was sent.
pub(crate) async fn carry_stored(
    db: &Db,
    api: &telbot_shared::telegram::TelegramClient,
    update_id: i64,
) -> Result<bool, CarryError> {
    use telbot_shared::stored_reply;
    let Some(reply) = stored_reply::take(db, update_id).await? else {
        return Ok(false);
    };
    let Some((method, params)) = stored_reply::as_call(&reply) else {
        tracing::warn!(update_id, "a stored reply is not a Bot API call; dropped");
        return Ok(false);
    };
    match api.call::<serde::de::IgnoredAny>(&method, &params).await {
        Ok(_) => {
            tracing::info!(update_id, method = %method, "a stored reply no answer carried was sent as a request");
            metrics::counter!("telbot_stored_replies_sent_total").increment(1);
            Ok(true)
        }
        Err(e) if e.is_transient() => {
            if let Err(pe) = stored_reply::put_back(db, update_id, &reply).await {
                tracing::warn!(update_id, error = %pe, "cannot give back a stored reply whose request failed; it is lost");
            }
            Err(e.into())
        }
        Err(e) => {
            tracing::warn!(update_id, method = %method, error = %e, "a stored reply sent as a request was refused");
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn one_waiter_per_update_and_a_dropped_one_unregisters() {
        let w = Arc::new(Waiters::default());
        let first = w.register(1).unwrap();
        assert!(
            w.register(1).is_none(),
            "a second request does not take over"
        );
        assert!(w.register(2).is_some_and(|_| true));
        drop(first);
        assert!(w.is_empty(), "dropped waiters are gone: {}", w.len());
        assert!(w.register(1).is_some());
    }

    #[tokio::test]
    async fn a_taken_waiter_gets_the_reply_even_after_its_wait_ran_out() {
        let w = Arc::new(Waiters::default());
        let waiter = w.register(7).unwrap();
        let tx = w.take(7).unwrap();
        let answer = tokio::spawn(waiter.wait(Duration::from_millis(10)));
        tokio::time::sleep(Duration::from_millis(50)).await;
        tx.send(Some(Arc::from("{\"method\":\"sendMessage\"}")))
            .unwrap();
        assert_eq!(
            answer.await.unwrap().as_deref(),
            Some("{\"method\":\"sendMessage\"}")
        );
    }

    #[tokio::test]
    async fn an_untaken_waiter_gives_up_after_its_wait_and_the_worker_finds_nobody() {
        let w = Arc::new(Waiters::default());
        let waiter = w.register(9).unwrap();
        assert_eq!(waiter.wait(Duration::from_millis(10)).await, None);
        assert!(w.take(9).is_none(), "the worker sends the reply itself");
    }

    #[tokio::test]
    async fn a_late_drop_does_not_unregister_a_newer_request() {
        let w = Arc::new(Waiters::default());
        let old = w.register(3).unwrap();
        let _tx = w.take(3).unwrap();
        let newer = w.register(3).unwrap();
        drop(old);
        assert_eq!(w.len(), 1, "the newer registration stays");
        drop(newer);
        assert!(w.is_empty());
    }
}
