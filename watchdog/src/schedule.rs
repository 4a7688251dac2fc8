//! When runs fire. Each schedule (cron with seconds, UTC, via tokio-cron-scheduler; or a plain
//! interval for tests and the benchmark) only *requests* a run of its [`RunKind`]; one worker
//! performs them one at a time, merging requests that arrive together (at :00 all three fire).
//! A tick that arrives while a run is in flight is skipped with a log line, so runs never
//! overlap and a slow run cannot pile up work.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use telbot_shared::config::ConfigError;
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

/// What fires a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A 6-field cron expression with seconds, in UTC (validated at load).
    Cron(String),
    /// A fixed interval (tests, benchmarks); missed ticks are skipped.
    Every(Duration),
}

impl Trigger {
    /// Validates a cron expression (seconds required), naming `key` on failure.
    pub fn cron(expr: &str, key: &str) -> Result<Self, ConfigError> {
        let expr = expr.trim();
        let fields = expr.split_whitespace().count();
        if !(6..=7).contains(&fields) {
            return Err(ConfigError::invalid(
                key,
                format!(
                    "{expr:?} has {fields} fields; write 6 with seconds first, e.g. \"*/30 * * * * *\""
                ),
            ));
        }
        Job::new_async(expr, |_, _| Box::pin(async {})).map_err(|_| {
            ConfigError::invalid(
                key,
                format!("{expr:?} is not a valid cron expression (sec min hour dom mon dow)"),
            )
        })?;
        Ok(Trigger::Cron(expr.to_string()))
    }
}

/// The kinds of run, each a set of checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RunKind {
    /// Telegram (getMe, getWebhookInfo) and bot liveness.
    Liveness,
    /// Response time, store, success rate.
    Performance,
    /// Everything, plus the integration probes.
    Integration,
    /// A recovery drill (`watchdog.schedule.drill`).
    Drill,
    /// The daily digest (`watchdog.schedule.digest`).
    Digest,
}

impl RunKind {
    /// `liveness`, `performance`, `integration`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Liveness => "liveness",
            RunKind::Performance => "performance",
            RunKind::Integration => "integration",
            RunKind::Drill => "drill",
            RunKind::Digest => "digest",
        }
    }
}

/// The set of run kinds one worker pass performs (merged requests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSet {
    /// Telegram + liveness.
    pub liveness: bool,
    /// Performance checks.
    pub performance: bool,
    /// Integration probes (implies the other two).
    pub integration: bool,
    /// A recovery drill (run after the checks of the same pass, if any).
    pub drill: bool,
    /// The daily digest (sent after the checks and the drill of the same pass).
    pub digest: bool,
}

impl RunSet {
    /// Adds one kind.
    pub fn add(&mut self, k: RunKind) {
        match k {
            RunKind::Liveness => self.liveness = true,
            RunKind::Performance => self.performance = true,
            RunKind::Integration => self.integration = true,
            RunKind::Drill => self.drill = true,
            RunKind::Digest => self.digest = true,
        }
    }

    /// Everything (the `check` command).
    pub fn all() -> Self {
        RunSet {
            liveness: true,
            performance: true,
            integration: true,
            drill: false,
            digest: false,
        }
    }

    /// The name of the widest kind, for reports.
    pub fn name(&self) -> &'static str {
        if self.integration {
            "integration"
        } else if self.performance && self.liveness {
            "liveness+performance"
        } else if self.performance {
            "performance"
        } else {
            "liveness"
        }
    }
}

/// Requests runs; drops a request (with a log line) while a run is in flight.
#[derive(Debug, Clone)]
pub struct Ticker {
    tx: mpsc::Sender<RunKind>,
    busy: Arc<AtomicBool>,
}

impl Ticker {
    /// Asks for a run of `kind`.
    pub fn tick(&self, kind: RunKind) {
        if self.busy.load(Ordering::Acquire) {
            tracing::info!(
                run = kind.as_str(),
                "previous run still in flight; skipping this tick"
            );
            return;
        }
        if self.tx.try_send(kind).is_err() {
            tracing::info!(
                run = kind.as_str(),
                "a run is already queued; skipping this tick"
            );
        }
    }
}

/// The worker side: receives requests and marks itself busy while running.
#[derive(Debug)]
pub struct Worker {
    rx: mpsc::Receiver<RunKind>,
    busy: Arc<AtomicBool>,
}

/// A connected ticker/worker pair.
pub fn channel() -> (Ticker, Worker) {
    let (tx, rx) = mpsc::channel(8);
    let busy = Arc::new(AtomicBool::new(false));
    (
        Ticker {
            tx,
            busy: busy.clone(),
        },
        Worker { rx, busy },
    )
}

/// How long the worker waits after the first request for others firing at the same second.
const MERGE_WINDOW: Duration = Duration::from_millis(50);

impl Worker {
    /// Performs runs until `stop` is cancelled; `run` is awaited to completion (never aborted
    /// half way, so a recovery always finishes), and ticks arriving meanwhile are skipped.
    pub async fn serve<F, Fut>(mut self, stop: CancellationToken, mut run: F)
    where
        F: FnMut(RunSet) -> Fut,
        Fut: std::future::Future,
    {
        loop {
            let first = tokio::select! {
                _ = stop.cancelled() => return,
                k = self.rx.recv() => match k { Some(k) => k, None => return },
            };
            let mut set = RunSet::default();
            set.add(first);
            tokio::time::sleep(MERGE_WINDOW).await;
            while let Ok(k) = self.rx.try_recv() {
                set.add(k);
            }
            self.busy.store(true, Ordering::Release);
            let _ = run(set).await;
            self.busy.store(false, Ordering::Release);
        }
    }
}

/// Starts the triggers of the schedules, feeding `ticker`. The returned scheduler (if
/// any cron trigger is used) must be shut down by the caller; interval tasks stop with `stop`.
pub async fn start(
    triggers: Vec<(RunKind, Trigger)>,
    ticker: Ticker,
    stop: CancellationToken,
) -> Result<Option<JobScheduler>, tokio_cron_scheduler::JobSchedulerError> {
    let mut sched: Option<JobScheduler> = None;
    for (kind, trigger) in triggers {
        match trigger {
            Trigger::Cron(expr) => {
                if sched.is_none() {
                    sched = Some(JobScheduler::new().await?);
                }
                let t = ticker.clone();
                let job = Job::new_async(expr.as_str(), move |_, _| {
                    t.tick(kind);
                    Box::pin(async {})
                })?;
                if let Some(s) = &sched {
                    s.add(job).await?;
                }
            }
            Trigger::Every(period) => {
                let t = ticker.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut iv = tokio::time::interval(period);
                    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                    loop {
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = iv.tick() => t.tick(kind),
                        }
                    }
                });
            }
        }
    }
    if let Some(s) = &sched {
        s.start().await?;
    }
    Ok(sched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_field_cron_is_refused_with_the_key() {
        let e = Trigger::cron("*/5 * * * *", "watchdog.schedule.liveness")
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref()
                .is_some_and(|m| m.contains("watchdog.schedule.liveness") && m.contains("seconds")),
            "{e:?}"
        );
        assert!(Trigger::cron("*/30 * * * * *", "k").is_ok());
        assert!(Trigger::cron("*/30 * * * * x", "k").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn ticks_during_a_run_are_skipped_and_simultaneous_ones_merge() {
        let (ticker, worker) = channel();
        let stop = CancellationToken::new();
        let runs = Arc::new(std::sync::Mutex::new(Vec::new()));
        let r = runs.clone();
        let t2 = ticker.clone();
        let handle = tokio::spawn(worker.serve(stop.clone(), move |set| {
            let r = r.clone();
            let t2 = t2.clone();
            async move {
                r.lock().map(|mut v| v.push(set)).ok();
                // While this run is in flight, more ticks arrive: all skipped.
                for _ in 0..5 {
                    t2.tick(RunKind::Liveness);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }));
        ticker.tick(RunKind::Liveness);
        ticker.tick(RunKind::Integration);
        tokio::time::sleep(Duration::from_secs(20)).await;
        stop.cancel();
        let _ = handle.await;
        let runs = runs.lock().map(|v| v.clone()).unwrap_or_default();
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert!(runs[0].integration && runs[0].liveness);
    }
}
