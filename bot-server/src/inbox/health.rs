//! How the inbox's commits are going, for `/health`'s `checks.store`: a ping that answers says
//! little when the writes fail (a full disk still answers `SELECT 1`), so the writer records
//! every batch commit here and `/health` judges the store by both.

use std::sync::Mutex;
use std::time::Duration;

use telbot_shared::health::Status;
use tokio::time::Instant;

/// Consecutive failed commits after which the store counts as down.
pub(crate) const DOWN_AFTER: u32 = 3;
/// Successful commits after a failure that make the store `ok` again.
pub(crate) const OK_AFTER: u32 = 3;
/// A failure older than this no longer degrades the status on its own.
pub(crate) const RECENT: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    successes_since_failure: u32,
    failures_total: u64,
    last_failure: Option<Instant>,
    last_error: Option<String>,
}

/// The writer's record of its commits.
#[derive(Debug, Default)]
pub struct CommitHealth(Mutex<State>);

impl CommitHealth {
    /// A batch committed.
    pub fn record_ok(&self) {
        let mut s = self.lock();
        s.consecutive_failures = 0;
        s.successes_since_failure = s.successes_since_failure.saturating_add(1);
    }

    /// A batch did not commit (`error` is the store's text; it never holds the URL).
    pub fn record_failure(&self, error: &str, now: Instant) {
        let mut s = self.lock();
        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
        s.successes_since_failure = 0;
        s.failures_total += 1;
        s.last_failure = Some(now);
        s.last_error = Some(error.chars().take(200).collect());
    }

    /// Failed commits since start.
    pub fn failures_total(&self) -> u64 {
        self.lock().failures_total
    }

    /// `down` while commits keep failing (the last [`DOWN_AFTER`] failed, the last one recently),
    /// `degraded` after a recent failure until [`OK_AFTER`] commits succeeded, else `ok`.
    pub fn status(&self, now: Instant) -> (Status, Option<String>) {
        let s = self.lock();
        let Some(last) = s.last_failure else {
            return (Status::Ok, None);
        };
        let recent = now.saturating_duration_since(last) < RECENT;
        let err = s.last_error.clone().unwrap_or_default();
        if s.consecutive_failures >= DOWN_AFTER && recent {
            return (
                Status::Down,
                Some(format!(
                    "the last {} inbox commits failed ({err}); webhook calls get 503",
                    s.consecutive_failures
                )),
            );
        }
        if s.consecutive_failures > 0 || (recent && s.successes_since_failure < OK_AFTER) {
            return (
                Status::Degraded,
                Some(format!(
                    "inbox commits failed recently ({err}); those webhook calls got 503"
                )),
            );
        }
        (Status::Ok, None)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the counters inconsistent enough to matter.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_degrade_then_take_the_store_down_and_successes_bring_it_back() {
        let h = CommitHealth::default();
        let t0 = Instant::now();
        assert_eq!(h.status(t0).0, Status::Ok);
        h.record_failure("database or disk is full", t0);
        assert_eq!(h.status(t0).0, Status::Degraded);
        h.record_failure("database or disk is full", t0);
        h.record_failure("database or disk is full", t0);
        let (s, detail) = h.status(t0);
        assert_eq!(s, Status::Down);
        assert!(detail.unwrap_or_default().contains("disk is full"));
        // Half of the commits failing keeps it degraded.
        h.record_ok();
        assert_eq!(h.status(t0).0, Status::Degraded);
        h.record_failure("x", t0);
        h.record_ok();
        assert_eq!(h.status(t0).0, Status::Degraded);
        for _ in 0..OK_AFTER {
            h.record_ok();
        }
        assert_eq!(h.status(t0).0, Status::Ok);
        assert_eq!(h.failures_total(), 4);
    }

    #[test]
    fn old_failures_without_new_commits_are_not_down() {
        let h = CommitHealth::default();
        let t0 = Instant::now();
        for _ in 0..DOWN_AFTER {
            h.record_failure("x", t0);
        }
        // No traffic since: nothing proves the store is still failing; still not ok.
        assert_eq!(h.status(t0 + RECENT * 2).0, Status::Degraded);
    }
}
