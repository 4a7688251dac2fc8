//! The ledger of the periodic jobs (the ops notes' "validate cleanup job execution"): each
//! job says when it ran and what it removed, and `/health`'s `jobs.*` shows it with whether
//! it is late, so the watchdog can warn about a sweep that silently stopped.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use telbot_shared::health::JobStatus;
use tokio_util::sync::CancellationToken;

/// The old finished updates' prune (`inbox.keep_done`).
pub(crate) const INBOX_PRUNE: &str = "inbox_prune";
/// The expired dialogues' sweep (`bot.sweep_interval`).
pub(crate) const DIALOGUE_SWEEP: &str = "dialogue_sweep";
/// The store ping and the open-dialogue count, every 2 s.
pub(crate) const STORE_PING: &str = "store_ping";

#[derive(Debug, Clone)]
struct Entry {
    every: Duration,
    /// The last successful run.
    last_ok: Option<i64>,
    last_removed: u64,
    removed_total: u64,
    runs: u64,
    last_error: Option<String>,
}

/// The jobs' state. The lock is a std mutex held only to copy in or out.
#[derive(Debug)]
pub(crate) struct Jobs {
    started: i64,
    entries: Mutex<BTreeMap<&'static str, Entry>>,
}

impl Jobs {
    /// An empty ledger; jobs are late counted from `started` (unix seconds) until they first
    /// run.
    pub(crate) fn new(started: i64) -> Jobs {
        Jobs {
            started,
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    /// Announces `name`, due every `every`.
    pub(crate) fn register(&self, name: &'static str, every: Duration) {
        if let Ok(mut e) = self.entries.lock() {
            e.entry(name).or_insert(Entry {
                every,
                last_ok: None,
                last_removed: 0,
                removed_total: 0,
                runs: 0,
                last_error: None,
            });
        }
    }

    /// `name` ran at `now` and removed `removed` rows.
    pub(crate) fn ran(&self, name: &'static str, now: i64, removed: u64) {
        self.with(name, |e| {
            e.runs += 1;
            e.last_ok = Some(now);
            e.last_removed = removed;
            e.removed_total = e.removed_total.saturating_add(removed);
            e.last_error = None;
        });
    }

    /// `name` ran and failed with `error` (no secret in it: store errors carry none).
    pub(crate) fn failed(&self, name: &'static str, error: String) {
        self.with(name, |e| {
            e.runs += 1;
            e.last_error = Some(error);
        });
    }

    fn with(&self, name: &'static str, f: impl FnOnce(&mut Entry)) {
        if let Ok(mut e) = self.entries.lock()
            && let Some(entry) = e.get_mut(name)
        {
            f(entry);
        }
    }

    /// `/health`'s `jobs`: a job is late when its last success (or the start) is more than
    /// twice its interval, plus 30 s of slack, before `now`.
    pub(crate) fn snapshot(&self, now: i64) -> BTreeMap<String, JobStatus> {
        let Ok(entries) = self.entries.lock() else {
            return BTreeMap::new();
        };
        entries
            .iter()
            .map(|(name, e)| {
                let every = e.every.as_secs();
                let since = e.last_ok.unwrap_or(self.started);
                let allowed = i64::try_from(every.saturating_mul(2)).unwrap_or(i64::MAX) + 30;
                let status = JobStatus {
                    every_s: every,
                    last_run: e.last_ok,
                    last_removed: e.last_removed,
                    removed_total: e.removed_total,
                    runs: e.runs,
                    last_error: e.last_error.clone(),
                    late: now.saturating_sub(since) > allowed,
                };
                ((*name).to_string(), status)
            })
            .collect()
    }
}

/// Runs `job` every `every` until `stop`, recording each run as `name` in `jobs`.
pub(crate) async fn every<F, Fut, E>(
    jobs: Arc<Jobs>,
    name: &'static str,
    every: Duration,
    stop: CancellationToken,
    job: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<u64, E>>,
    E: std::fmt::Display,
{
    jobs.register(name, every);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => match job().await {
                Ok(n) => {
                    if n > 0 {
                        tracing::info!(job = name, removed = n, "periodic job removed rows");
                    }
                    jobs.ran(name, telbot_shared::unix_now(), n);
                }
                Err(e) => {
                    tracing::warn!(job = name, error = %e, "periodic job failed");
                    jobs.failed(name, e.to_string());
                }
            },
            _ = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_late_past_twice_its_interval_and_a_failure_does_not_count_as_a_run() {
        let jobs = Jobs::new(1_000);
        jobs.register(INBOX_PRUNE, Duration::from_secs(600));
        let at = |now| jobs.snapshot(now)[INBOX_PRUNE].clone();
        assert!(
            !at(1_000 + 1_230).late,
            "within 2 × 600 s + 30 s of the start"
        );
        assert!(at(1_000 + 1_231).late, "never ran");
        jobs.ran(INBOX_PRUNE, 2_000, 7);
        let s = at(2_100);
        assert_eq!(
            (s.last_run, s.last_removed, s.removed_total, s.runs, s.late),
            (Some(2_000), 7, 7, 1, false)
        );
        jobs.failed(INBOX_PRUNE, "database is locked".into());
        let s = at(2_000 + 1_231);
        assert_eq!((s.runs, s.last_run, s.late), (2, Some(2_000), true));
        assert_eq!(s.last_error.as_deref(), Some("database is locked"));
    }
}
