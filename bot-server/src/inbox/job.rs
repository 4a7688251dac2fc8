//! One update's run: the handler is called until it succeeds, is skipped, or gives up.
//!
//! - A **transient** failure (the Bot API unreachable, timing out, 5xx, 429; a handler that
//!   ran past its deadline) keeps the update, holding its chat's queue, and retries it with a
//!   back-off doubling from `inbox.retry_delay` up to `inbox.retry_max_delay`, until it
//!   succeeds or Telegram's own 24 h have passed since it arrived (then it is parked).
//! - A **permanent** failure (a 4xx other than 429, any other handler error) is retried the
//!   same way and parked after `inbox.max_attempts` of them.
//!
//! - A **query** (callback, inline, shipping, pre-checkout) is answerable only for minutes:
//!   Telegram drops it after its lifetime ([`answer_window`]: 150 s, an inline query 30 s),
//!   so a transient failure is retried only while the next attempt still falls inside it,
//!   then parked, not retried for 24 h.
//!
//! Parked rows stay in the store until an operator replays or discards them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use telbot_shared::backoff::Backoff;
use telbot_shared::store::Db;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::reply::Waiters;
use super::request::Finish;
use super::writer::Writer;
use super::{Counters, Item, Status, Wakeup};
use crate::config::InboxConfig;

/// How one handler run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Handled.
    Done,
    /// A kind this build cannot parse: counted and skipped.
    Unknown,
    /// The handler failed.
    Failed {
        /// What went wrong (no secrets: Bot API errors are redacted by the client).
        error: String,
        /// Worth waiting out (network, timeout, 5xx, 429): retried until Telegram's 24 h pass.
        /// Otherwise parked after `inbox.max_attempts`.
        transient: bool,
        /// Telegram asked to wait this long (a 429's `retry_after` the handler gave up on):
        /// the next attempt comes after it, not on the inbox's own back-off.
        retry_after: Option<Duration>,
    },
}

impl Outcome {
    /// A failure that is worth waiting out.
    pub(crate) fn transient(error: impl Into<String>) -> Self {
        Outcome::Failed {
            error: error.into(),
            transient: true,
            retry_after: None,
        }
    }

    /// A failure that will not go away by itself.
    pub(crate) fn permanent(error: impl Into<String>) -> Self {
        Outcome::Failed {
            error: error.into(),
            transient: false,
            retry_after: None,
        }
    }
}

/// Runs one update. The bot implements it with its teloxide handler tree.
pub(crate) trait Process: Send + Sync + 'static {
    /// Handles `item`.
    fn process<'a>(&'a self, item: &'a Item) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

    /// `text` with the secrets this processor knows masked (a panic's message is stored as
    /// the failure's cause).
    fn redact(&self, text: &str) -> String {
        text.to_string()
    }
}

/// Telegram keeps an update this long; past it, retrying for the user makes no sense.
pub(crate) const TELEGRAM_KEEPS_S: i64 = 24 * 3600;

/// How long after it arrived an update of `kind` can still be answered, in seconds: the
/// lifetime Telegram's Bot API server gives it (callback, shipping and pre-checkout queries
/// 150 s, inline queries 30 s; an answer later is refused with "query is too old"), else
/// [`TELEGRAM_KEEPS_S`].
pub(crate) fn answer_window(kind: &str) -> i64 {
    match kind {
        "callback_query" | "shipping_query" | "pre_checkout_query" => 150,
        "inline_query" => 30,
        _ => TELEGRAM_KEEPS_S,
    }
}

/// Why a transient failure of an update of `kind`, `age_s` old, is given up rather than
/// retried in `delay`: the retry would come after the update can still be answered.
pub(crate) fn too_late(kind: &str, age_s: i64, delay: Duration) -> Option<String> {
    let window = answer_window(kind);
    if window == TELEGRAM_KEEPS_S {
        return (age_s >= window)
            .then(|| "Telegram's 24 h passed while retrying a transient failure".to_string());
    }
    let next = age_s.saturating_add(i64::try_from(delay.as_secs()).unwrap_or(i64::MAX));
    (next >= window)
        .then(|| format!("a {kind} can be answered for {window} s only; not retried past it"))
}

/// What a job needs besides its update.
#[derive(Clone)]
pub(crate) struct JobCtx {
    pub sem: Arc<Semaphore>,
    pub process: Arc<dyn Process>,
    pub writer: Writer,
    pub counters: Arc<Counters>,
    pub max_attempts: u32,
    pub retry_delay: Duration,
    pub retry_max_delay: Duration,
    pub handler_timeout: Duration,
    pub stop: CancellationToken,
    pub tasks: TaskTracker,
    /// `webhook.reply_in_answer`: the waiting webhooks, and the store to clear a lost reply.
    pub replies: Option<(Arc<Waiters>, Db)>,
}

/// What a worker pool ([`super::cursor::CursorPool`] or [`super::claim::Claimer`]) is made of.
pub(crate) struct Pool {
    pub db: Db,
    pub writer: Writer,
    /// Rows the writer stored, handed over while there is room.
    pub rx: mpsc::Receiver<Item>,
    pub wakeup: Arc<Wakeup>,
    pub cfg: InboxConfig,
    pub process: Arc<dyn Process>,
    pub counters: Arc<Counters>,
    /// Stop taking new work; in-flight work finishes.
    pub stop: CancellationToken,
    /// Where the handler tasks are spawned (the app waits for them at shutdown).
    pub tasks: TaskTracker,
    /// `webhook.reply_in_answer`: the webhook requests waiting for their update's reply.
    pub replies: Option<Arc<Waiters>>,
}

impl Pool {
    /// What each handler task needs.
    pub(crate) fn job_ctx(&self) -> JobCtx {
        JobCtx {
            sem: Arc::new(Semaphore::new(self.cfg.workers)),
            process: self.process.clone(),
            writer: self.writer.clone(),
            counters: self.counters.clone(),
            max_attempts: self.cfg.max_attempts,
            retry_delay: self.cfg.retry_delay,
            retry_max_delay: self.cfg.retry_max_delay,
            handler_timeout: self.cfg.handler_timeout,
            stop: self.stop.clone(),
            tasks: self.tasks.clone(),
            replies: self.replies.clone().map(|w| (w, self.db.clone())),
        }
    }
}

/// When the next attempt of a failed update comes: after Telegram's `retry_after` when it
/// named one (a 429), else on the inbox's own back-off.
fn next_delay(ctx: &JobCtx, failures: u32, retry_after: Option<Duration>) -> Duration {
    retry_after
        .unwrap_or_else(|| Backoff::new(ctx.retry_delay, ctx.retry_max_delay).delay(failures))
}

pub(crate) async fn run(ctx: &JobCtx, item: &Item) {
    if telbot_shared::canary::is_canary(item.update_id) {
        return canary(ctx, item).await;
    }
    let mut attempts = item.attempts;
    let mut permanent = 0u32;
    let mut failures = 0u32;
    let started = tokio::time::Instant::now();
    loop {
        attempts = attempts.saturating_add(1);
        // The permit is held until the completion is committed: at any moment at most
        // `workers` updates are between "handler ran" and "recorded as done".
        let Ok(permit) = ctx.sem.acquire().await else {
            return;
        };
        // With replies in the webhook answer, the handler's first result-less call is held.
        let slot = ctx
            .replies
            .as_ref()
            .map(|_| telbot_shared::telegram::reply::ReplySlot::default());
        // A panicking handler is a permanent failure with the panic's message (redacted) and
        // place, so no panic can leave a key busy, a permit taken or a claim extended.
        let handler = Box::pin(async {
            crate::host::panic::catching(ctx.process.process(item))
                .await
                .unwrap_or_else(|panic| {
                    metrics::counter!("telbot_handler_panics_total").increment(1);
                    let cause = format!("the handler panicked: {panic}");
                    Outcome::permanent(ctx.process.redact(&cause))
                })
        });
        let handler: Pin<Box<dyn Future<Output = Outcome> + Send + '_>> = match &slot {
            Some(s) => Box::pin(s.scope(handler)),
            None => handler as Pin<Box<dyn Future<Output = Outcome> + Send + '_>>,
        };
        let outcome = match tokio::time::timeout(ctx.handler_timeout, handler).await {
            Ok(o) => o,
            Err(_) => Outcome::transient(format!(
                "handler timed out after {} s",
                ctx.handler_timeout.as_secs()
            )),
        };
        let (outcome, reply, hand_over) = match (&ctx.replies, &slot) {
            (Some((waiters, _)), Some(slot)) => {
                super::reply::settle(waiters, slot, item.seq, item.update_id, outcome).await
            }
            _ => (outcome, None, None),
        };
        let (status, error) = match outcome {
            Outcome::Done => (Status::Done, None),
            Outcome::Unknown => {
                Counters::add(&ctx.counters.unknown, 1);
                metrics::counter!("telbot_updates_unknown_total").increment(1);
                (Status::Skipped, None)
            }
            Outcome::Failed {
                error,
                transient,
                retry_after,
            } => {
                Counters::add(&ctx.counters.failed, 1);
                metrics::counter!("telbot_handler_failures_total").increment(1);
                failures += 1;
                let age = telbot_shared::unix_now() - item.received_at;
                let delay = next_delay(ctx, failures, retry_after);
                let park = if transient {
                    too_late(&item.kind, age, delay).map(|why| format!("{why}: {error}"))
                } else {
                    permanent += 1;
                    (permanent >= ctx.max_attempts).then(|| error.clone())
                };
                if let Some(reason) = park {
                    Counters::add(&ctx.counters.parked, 1);
                    metrics::counter!("telbot_updates_parked_total").increment(1);
                    tracing::warn!(update_id = item.update_id, attempts, transient, error = %reason, "update parked; replay or discard it with /admin/parked");
                    (Status::Parked, Some(reason))
                } else {
                    drop(permit);
                    tracing::info!(update_id = item.update_id, attempts, transient, error = %error, delay_ms = delay.as_millis() as u64, "handler failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => continue,
                        _ = ctx.stop.cancelled() => {
                            // Left pending with its attempts; the next start retries it.
                            finish(ctx, item, Status::Pending, attempts, Some(error), None).await;
                            return;
                        }
                    }
                }
            }
        };
        if status != Status::Parked {
            Counters::add(&ctx.counters.processed, 1);
            metrics::counter!("telbot_updates_processed_total").increment(1);
        }
        // As the user felt it: stored → handler finished (its replies sent), retries included.
        let now_ms = telbot_shared::unix_now_ms();
        ctx.counters.hour.record(
            now_ms / 1000,
            u64::try_from(now_ms.saturating_sub(item.received_ms)).unwrap_or(0),
            status == Status::Parked,
        );
        metrics::histogram!("telbot_update_processing_seconds")
            .record(started.elapsed().as_secs_f64());
        finish(ctx, item, status, attempts, error, reply).await;
        drop(permit);
        if let (Some(p), Some((_, db))) = (hand_over, &ctx.replies) {
            super::reply::hand_over(db, p).await;
        }
        return;
    }
}

/// The canary step, instead of the user's handlers: it takes a worker's permit like any
/// update (so a saturated pool delays it as it delays users) and finishes the row. Nothing
/// is sent to Telegram and no figure of the bot's users counts it.
async fn canary(ctx: &JobCtx, item: &Item) {
    let Ok(permit) = ctx.sem.acquire().await else {
        return;
    };
    metrics::counter!("telbot_canary_processed_total").increment(1);
    let attempts = item.attempts.saturating_add(1);
    finish(ctx, item, Status::Done, attempts, None, None).await;
    drop(permit);
}

async fn finish(
    ctx: &JobCtx,
    item: &Item,
    status: Status,
    attempts: u32,
    error: Option<String>,
    reply: Option<Arc<str>>,
) {
    if status != Status::Pending {
        Counters::sub(&ctx.counters.depth, 1);
    }
    ctx.writer
        .finish(Finish {
            seq: item.seq,
            status,
            attempts,
            error,
            reply,
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_given_up_once_telegram_would_refuse_their_answer() {
        let d = Duration::from_secs(10);
        assert!(too_late("callback_query", 100, d).is_none());
        let why = too_late("callback_query", 145, d).unwrap();
        assert!(why.contains("150 s"), "{why}");
        assert!(too_late("inline_query", 25, d).is_some());
        assert!(too_late("inline_query", 5, d).is_none());
        // A message is retried for Telegram's 24 h.
        assert!(too_late("message", 3600, Duration::from_secs(60)).is_none());
        assert!(too_late("message", TELEGRAM_KEEPS_S, d).is_some());
    }
}
