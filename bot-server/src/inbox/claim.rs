//! The worker pool on PostgreSQL: several bot-servers share one inbox by *claiming* rows in
//! the store instead of following a cursor in memory (which made every instance run every
//! row, and skipped BIGSERIAL values that commit out of order).
//!
//! - A claim takes, with `FOR UPDATE SKIP LOCKED`, only the *head* of a queue key — a pending
//!   row with no earlier pending row of its key and no live claim on its key — together with
//!   the next `inbox.max_loaded_per_key` rows of that key, which run after it in order on this
//!   instance. One chat's updates therefore run one at a time and in update order across the
//!   whole fleet, and a busy chat costs one claim per run of rows, not one per update.
//! - A claim is a lease: `claimed_by` (this instance) and `claimed_until` (unix ms on the
//!   database's clock, so instances' clocks do not matter). It is extended every third of
//!   `inbox.claim_lease` while the handler or its retries run.
//! - The finish is fenced (`claimed_by` must still be this instance, see [`super::sql`]): an
//!   instance that stalled past its lease cannot overwrite the row another one took over.
//! - An expired claim (a killed instance) is taken over by the next claim anywhere:
//!   at-least-once, with the doubles bounded by the handlers that were running there.
//! - Instances wake each other: a commit that stored new rows sends `NOTIFY` on [`CHANNEL`]
//!   (inside its transaction, so it arrives with the rows), and every instance LISTENs on a
//!   connection of its own. Through a transaction-mode pooler (Supabase's Supavisor on port
//!   6543) LISTEN is not available or hears nothing; every instance also polls every
//!   [`POLL`], so that costs latency, not correctness. Session advisory locks are not used
//!   anywhere: the leases are rows.
//! - On a graceful stop the claims still held are released, so a rolling deploy does not
//!   leave chats waiting for a lease to expire.
//!
//! `/health`'s inbox depth is the fleet's: it is read from the store every second.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use super::claim_sql::{claim, claim_of, extend, release};
use super::job::{self, Pool};
use super::{Counters, Item, Wakeup, sql};

/// How often an idle instance looks for rows that arrived at another instance.
pub const POLL: Duration = Duration::from_millis(100);
pub use super::sql::CHANNEL;
/// Pause before connecting the LISTEN connection again.
const LISTEN_RETRY: Duration = Duration::from_secs(30);
/// Pause after a failed claim.
const RETRY: Duration = Duration::from_millis(500);
/// How often `/health`'s inbox depth is read from the store.
const DEPTH_EVERY: Duration = Duration::from_secs(1);

/// The worker pool of one of several instances on one PostgreSQL. Rows this instance stored
/// arrive on `pool.rx` only as a wake-up: the row itself is claimed from the store.
pub(crate) struct Claimer {
    pub pool: Pool,
    /// This instance's name in `claimed_by`.
    pub owner: Arc<str>,
    /// The store's URL, for the LISTEN connection.
    pub listen_url: Option<secrecy::SecretString>,
}

impl Claimer {
    /// Runs until `stop` is cancelled and in-flight handlers are done, then releases the
    /// claims this instance still holds.
    pub(crate) async fn run(mut self) {
        let ctx = self.pool.job_ctx();
        let listener = self.listen_url.take().map(|url| {
            self.pool.tasks.spawn(listen(
                url,
                self.pool.wakeup.clone(),
                self.pool.stop.clone(),
            ))
        });
        let (done_tx, mut done_rx) = mpsc::channel::<()>(self.pool.cfg.workers + 1);
        let mut inflight = 0usize;
        let mut want = true;
        let mut poll = interval(POLL);
        let mut keep = interval(self.pool.cfg.claim_lease / 3);
        let mut depth = interval(DEPTH_EVERY);
        loop {
            let stopping = self.pool.stop.is_cancelled();
            if stopping && inflight == 0 {
                break;
            }
            let room = self.pool.cfg.workers.saturating_sub(inflight);
            if !stopping && want && worth_a_claim(self.pool.cfg.workers, inflight) {
                let claimed = claim(
                    &self.pool.db,
                    &self.owner,
                    room,
                    self.pool.cfg.max_loaded_per_key,
                    self.pool.cfg.claim_lease,
                )
                .await;
                match claimed {
                    Ok(items) => {
                        let runs = by_key(items);
                        want = runs.len() == room;
                        for run in runs {
                            inflight += 1;
                            Counters::add(&self.pool.counters.running, 1);
                            Counters::add(&self.pool.counters.loaded, run.len() as u64);
                            let (ctx, done) = (ctx.clone(), done_tx.clone());
                            let tasks = ctx.tasks.clone();
                            tasks.spawn(async move {
                                let mut left = run.len() as u64;
                                for item in run {
                                    // Rows not started are released with the rest at the end.
                                    if ctx.stop.is_cancelled() {
                                        break;
                                    }
                                    job::run(&ctx, &item).await;
                                    left -= 1;
                                    Counters::sub(&ctx.counters.loaded, 1);
                                }
                                Counters::sub(&ctx.counters.loaded, left);
                                Counters::sub(&ctx.counters.running, 1);
                                let _ = done.send(()).await;
                            });
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot claim work from the inbox; retrying");
                        want = true;
                        tokio::time::sleep(RETRY).await;
                    }
                }
            }
            tokio::select! {
                biased;
                Some(()) = done_rx.recv() => {
                    inflight -= 1;
                    want = true;
                    if inflight == 0 {
                        // Every finish of this instance is committed now (a job's finish
                        // waits for it): a read taken while one was queued counted it.
                        self.refresh_depth().await;
                    }
                }
                item = self.pool.rx.recv() => match item {
                    Some(_) => want = true,
                    None => self.pool.stop.cancel(),
                },
                _ = self.pool.wakeup.wake.notified() => want = true,
                _ = keep.tick(), if inflight > 0 => {
                    if let Err(e) = extend(&self.pool.db, &self.owner, self.pool.cfg.claim_lease).await {
                        tracing::warn!(error = %e, "cannot extend this instance's inbox claims");
                    }
                }
                _ = depth.tick() => self.refresh_depth().await,
                _ = poll.tick(), if !stopping => want = true,
                _ = self.pool.stop.cancelled(), if !stopping => {}
            }
        }
        match release(&self.pool.db, &self.owner).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(released = n, "released this instance's inbox claims"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot release this instance's inbox claims; they expire after inbox.claim_lease")
            }
        }
        if let Some(l) = listener {
            l.abort();
        }
        tracing::info!("inbox workers stopped");
    }
}

/// LISTENs on [`CHANNEL`] and wakes the claimer at each notification, until `stop`; where
/// LISTEN is not available it says so once and tries again every [`LISTEN_RETRY`].
async fn listen(url: secrecy::SecretString, wakeup: Arc<Wakeup>, stop: CancellationToken) {
    use secrecy::ExposeSecret;
    let mut told = false;
    loop {
        let connected = tokio::time::timeout(Duration::from_secs(10), async {
            let mut l = sqlx::postgres::PgListener::connect(url.expose_secret()).await?;
            l.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        })
        .await;
        match connected {
            Ok(Ok(mut l)) => {
                told = false;
                loop {
                    tokio::select! {
                        n = l.recv() => match n {
                            Ok(_) => wakeup.wake.notify_one(),
                            Err(_) => break,
                        },
                        _ = stop.cancelled() => return,
                    }
                }
            }
            _ if !told => {
                // No error text: it may carry the database URL.
                tracing::info!(
                    "cannot LISTEN for other instances' rows (a transaction-mode pooler?); polling every 100 ms"
                );
                told = true;
            }
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(LISTEN_RETRY) => {}
            _ = stop.cancelled() => return,
        }
    }
}

impl Claimer {
    /// `/health`'s inbox depth from the store: the fleet's pending rows.
    async fn refresh_depth(&self) {
        if let Ok(n) = sql::pending_count(&self.pool.db).await {
            self.pool.counters.depth.store(n, Ordering::Relaxed);
        }
    }
}

/// One queue per key, each in arrival order; the keys in the order of their first rows.
fn by_key(items: Vec<Item>) -> Vec<Vec<Item>> {
    let mut runs: Vec<Vec<Item>> = Vec::new();
    let mut at: std::collections::HashMap<Arc<str>, usize> = std::collections::HashMap::new();
    for item in items {
        match at.get(&item.key) {
            Some(&i) => runs[i].push(item),
            None => {
                at.insert(item.key.clone(), runs.len());
                runs.push(vec![item]);
            }
        }
    }
    runs
}

/// Whether to claim now. A claim reads the head of every pending key, so under a backlog it is
/// made for a quarter of the workers at once, not for each run that finishes (one claim per
/// finished run held PostgreSQL at ~280 updates/s with 100k pending: BENCHMARKS.md). With
/// nothing running, any room is worth it, so a lone update never waits.
fn worth_a_claim(workers: usize, inflight: usize) -> bool {
    let room = workers.saturating_sub(inflight);
    let batch = (workers / 4).max(1);
    room > 0 && (room >= batch || inflight == 0)
}

fn interval(every: Duration) -> tokio::time::Interval {
    let mut i = tokio::time::interval(every.max(Duration::from_millis(10)));
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    i
}

#[cfg(test)]
mod tests {
    use super::worth_a_claim;

    #[test]
    fn under_load_a_claim_waits_for_a_quarter_of_the_workers() {
        // 128 workers: a claim for 1 or 31 free slots waits; 32 free slots claim.
        assert!(!worth_a_claim(128, 127));
        assert!(!worth_a_claim(128, 97));
        assert!(worth_a_claim(128, 96));
        assert!(!worth_a_claim(128, 128), "no room");
        // Nothing running: any room claims, so a lone update never waits.
        assert!(worth_a_claim(128, 0));
        assert!(worth_a_claim(1, 0));
        assert!(!worth_a_claim(1, 1));
        // Fewer than 4 workers: every free slot is a batch.
        assert!(worth_a_claim(3, 2));
    }
}
