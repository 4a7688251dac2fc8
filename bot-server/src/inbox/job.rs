//! One update's run: the handler is called until it succeeds, is skipped, or gives up.
//!
//! - A **transient** failure (the Bot API unreachable, timing out, 5xx, 429; a handler that
//!   ran past its deadline) keeps the update, holding its chat's queue, and retries it with a
//!   back-off doubling from `inbox.retry_delay` up to `inbox.retry_max_delay`, until it
//!   succeeds or Telegram's own 24 h have passed since it arrived (then it is parked).
//! - A **permanent** failure (a 4xx other than 429, any other handler error) is retried the
//!   same way and parked after `inbox.max_attempts` of them.
//!
//! Parked rows stay in the store until an operator replays or discards them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::writer::{Finish, Writer};
use super::{Counters, Item, Status};

/// How one handler run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
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
    },
}

impl Outcome {
    /// A failure that is worth waiting out.
    pub fn transient(error: impl Into<String>) -> Self {
        Outcome::Failed {
            error: error.into(),
            transient: true,
        }
    }

    /// A failure that will not go away by itself.
    pub fn permanent(error: impl Into<String>) -> Self {
        Outcome::Failed {
            error: error.into(),
            transient: false,
        }
    }
}

/// Runs one update. The bot implements it with its teloxide handler tree.
pub trait Process: Send + Sync + 'static {
    /// Handles `item`.
    fn process<'a>(&'a self, item: &'a Item) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;
}

/// Telegram keeps an update this long; past it, retrying for the user makes no sense.
pub const TELEGRAM_KEEPS_S: i64 = 24 * 3600;

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
}

/// The delay before retry number `n` (1-based): `base` doubling, capped at `max`.
pub(crate) fn backoff(base: Duration, max: Duration, n: u32) -> Duration {
    base.saturating_mul(1u32 << n.saturating_sub(1).min(20))
        .min(max)
}

pub(crate) async fn run(ctx: &JobCtx, item: &Item) {
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
        let outcome =
            match tokio::time::timeout(ctx.handler_timeout, ctx.process.process(item)).await {
                Ok(o) => o,
                Err(_) => Outcome::transient(format!(
                    "handler timed out after {} s",
                    ctx.handler_timeout.as_secs()
                )),
            };
        let (status, error) = match outcome {
            Outcome::Done => (Status::Done, None),
            Outcome::Unknown => {
                Counters::add(&ctx.counters.unknown, 1);
                metrics::counter!("telbot_updates_unknown_total").increment(1);
                (Status::Skipped, None)
            }
            Outcome::Failed { error, transient } => {
                Counters::add(&ctx.counters.failed, 1);
                metrics::counter!("telbot_handler_failures_total").increment(1);
                failures += 1;
                let age = telbot_shared::unix_now() - item.received_at;
                let park = if transient {
                    (age >= TELEGRAM_KEEPS_S).then(|| {
                        format!(
                            "Telegram's 24 h passed while retrying a transient failure: {error}"
                        )
                    })
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
                    let delay = backoff(ctx.retry_delay, ctx.retry_max_delay, failures);
                    tracing::info!(update_id = item.update_id, attempts, transient, error = %error, delay_ms = delay.as_millis() as u64, "handler failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => continue,
                        _ = ctx.stop.cancelled() => {
                            // Left pending with its attempts; the next start retries it.
                            finish(ctx, item, Status::Pending, attempts, Some(error)).await;
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
        metrics::histogram!("telbot_update_processing_seconds")
            .record(started.elapsed().as_secs_f64());
        finish(ctx, item, status, attempts, error).await;
        drop(permit);
        return;
    }
}

async fn finish(ctx: &JobCtx, item: &Item, status: Status, attempts: u32, error: Option<String>) {
    if status != Status::Pending {
        Counters::sub(&ctx.counters.depth, 1);
    }
    ctx.writer
        .finish(Finish {
            seq: item.seq,
            status,
            attempts,
            error,
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_and_is_capped() {
        let s = Duration::from_secs;
        assert_eq!(backoff(s(1), s(60), 1), s(1));
        assert_eq!(backoff(s(1), s(60), 2), s(2));
        assert_eq!(backoff(s(1), s(60), 6), s(32));
        assert_eq!(backoff(s(1), s(60), 7), s(60));
        assert_eq!(backoff(s(1), s(60), 10_000), s(60));
    }
}
