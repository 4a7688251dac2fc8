//! When runs fire. Each schedule (cron with seconds, UTC, via tokio-cron-scheduler; or a plain
//! interval for tests and the benchmark) only *requests* a run of its [`RunKind`]; one worker
//! performs them one at a time, merging requests that arrive together (at :00 all three fire).
//! Runs never overlap, and no tick is lost: one that arrives while a run is in flight waits
//! for it and runs right after, and several ticks of one kind during a run coalesce into one
//! run of that kind (different kinds merge into one [`RunSet`]), so a slow run cannot pile up
//! work either. A drill or a digest that had to wait is logged (warn) with how late it runs.
//! The requests wait in a map of at most one entry per kind behind a std mutex (never held
//! across an await), and a [`Notify`] wakes the worker.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use telbot_shared::config::ConfigError;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

/// What fires a schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// A 6-field cron expression with seconds, in UTC, parsed at load (with croner, the parser
    /// tokio-cron-scheduler uses, set the same way: seconds required, day-of-month and
    /// day-of-week both required to match).
    Cron(Box<croner::Cron>),
    /// A fixed interval (tests, benchmarks); a tick the timer itself missed is skipped (the
    /// run it asks for is already waiting).
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
        croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(expr)
            .map(|c| Trigger::Cron(Box::new(c)))
            .map_err(|e| {
                ConfigError::invalid(
                    key,
                    format!(
                        "{expr:?} is not a valid cron expression (sec min hour dom mon dow): {e}"
                    ),
                )
            })
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
    /// The weekly report (`watchdog.schedule.weekly`).
    Weekly,
    /// A SQLite backup (`watchdog.schedule.backup`).
    Backup,
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
            RunKind::Weekly => "weekly",
            RunKind::Backup => "backup",
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
    /// The weekly report (sent after the digest of the same pass).
    pub weekly: bool,
    /// A SQLite backup (after the digest of the same pass).
    pub backup: bool,
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
            RunKind::Weekly => self.weekly = true,
            RunKind::Backup => self.backup = true,
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
            weekly: false,
            backup: false,
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

/// A kind's request waiting for the worker: when it was first asked for (later ticks of the
/// same kind coalesce into it), and whether a run was in flight then (so it runs late).
#[derive(Debug, Clone, Copy)]
struct Request {
    since: Instant,
    during_run: bool,
}

/// What the ticker and the worker share, behind one std mutex that is never held across an
/// await: the requests not yet taken (at most one per kind, so it is bounded by
/// construction) and whether a run is in flight.
#[derive(Debug, Default)]
struct Queue {
    waiting: BTreeMap<RunKind, Request>,
    busy: bool,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Wakes the worker; a wake-up sent while it runs is kept (one permit), so the requests
    /// that arrived during a run are taken as soon as it ends.
    wake: Notify,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Requests runs. A request is never dropped: one that arrives while a run is in flight waits
/// for it, and several of one kind coalesce into one run of that kind.
#[derive(Debug, Clone)]
pub(crate) struct Ticker {
    shared: Arc<Shared>,
}

impl Ticker {
    /// Asks for a run of `kind`.
    pub(crate) fn tick(&self, kind: RunKind) {
        {
            let mut q = self.shared.queue();
            let busy = q.busy;
            match q.waiting.get(&kind) {
                Some(_) => {
                    tracing::debug!(
                        run = kind.as_str(),
                        "a run of this kind is already waiting; this tick joins it"
                    );
                }
                None => {
                    if busy {
                        tracing::info!(
                            run = kind.as_str(),
                            "a run is in flight; this tick runs after it"
                        );
                    }
                    q.waiting.insert(
                        kind,
                        Request {
                            since: Instant::now(),
                            during_run: busy,
                        },
                    );
                }
            }
        }
        self.shared.wake.notify_one();
    }
}

/// The worker side: takes the waiting requests as one [`RunSet`] and performs it.
#[derive(Debug)]
pub(crate) struct Worker {
    shared: Arc<Shared>,
}

/// A connected ticker/worker pair.
pub(crate) fn channel() -> (Ticker, Worker) {
    let shared = Arc::new(Shared::default());
    (
        Ticker {
            shared: shared.clone(),
        },
        Worker { shared },
    )
}

/// How long the worker waits after the first request for others firing at the same second.
const MERGE_WINDOW: Duration = Duration::from_millis(50);

/// The kinds whose lateness is worth a warning: they fire rarely (a drill weekly, the digest
/// daily), so one that waited for a run is news; a liveness check that waited is not.
const WARN_WHEN_LATE: [RunKind; 4] = [
    RunKind::Drill,
    RunKind::Digest,
    RunKind::Weekly,
    RunKind::Backup,
];

impl Worker {
    /// Performs runs until `stop` is cancelled; `run` is awaited to completion (never aborted
    /// half way, so a recovery always finishes). Requests that arrive meanwhile are performed
    /// right after it, merged into one [`RunSet`]; what still waits when `stop` is cancelled
    /// is not started.
    pub(crate) async fn serve<F, Fut>(self, stop: CancellationToken, mut run: F)
    where
        F: FnMut(RunSet) -> Fut,
        Fut: std::future::Future,
    {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                () = self.shared.wake.notified() => {}
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                () = tokio::time::sleep(MERGE_WINDOW) => {}
            }
            let Some((set, late)) = self.take() else {
                // A wake-up for requests an earlier pass already took.
                continue;
            };
            for (kind, by) in late {
                let by = Duration::from_millis(by.as_millis() as u64);
                tracing::warn!(
                    run = kind.as_str(),
                    late_ms = by.as_millis() as u64,
                    "the {} runs {} late: it fell due while another run was in flight",
                    kind.as_str(),
                    humantime::format_duration(by)
                );
            }
            let _ = run(set).await;
            self.shared.queue().busy = false;
        }
    }

    /// Takes every waiting request as one set and marks the worker busy; with it, the drill
    /// and digest that fell due during a run, and how long ago. `None` when nothing waits.
    fn take(&self) -> Option<(RunSet, Vec<(RunKind, Duration)>)> {
        let waiting = {
            let mut q = self.shared.queue();
            if q.waiting.is_empty() {
                return None;
            }
            q.busy = true;
            std::mem::take(&mut q.waiting)
        };
        let mut set = RunSet::default();
        let mut late = Vec::new();
        for (kind, req) in waiting {
            set.add(kind);
            if req.during_run && WARN_WHEN_LATE.contains(&kind) {
                late.push((kind, req.since.elapsed()));
            }
        }
        Some((set, late))
    }
}

/// Starts the triggers of the schedules, feeding `ticker`. The returned scheduler (if
/// any cron trigger is used) must be shut down by the caller; interval tasks stop with `stop`.
pub(crate) async fn start(
    triggers: Vec<(RunKind, Trigger)>,
    ticker: Ticker,
    stop: CancellationToken,
) -> Result<Option<JobScheduler>, tokio_cron_scheduler::JobSchedulerError> {
    let mut sched: Option<JobScheduler> = None;
    for (kind, trigger) in triggers {
        match trigger {
            Trigger::Cron(cron) => {
                if sched.is_none() {
                    sched = Some(JobScheduler::new().await?);
                }
                let t = ticker.clone();
                let job = Job::new_async(cron.as_str(), move |_, _| {
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
#[path = "schedule_tests.rs"]
mod tests;
