//! The watchdog itself: one [`Watchdog`] built from a validated config, whose runs are
//! check → finding → rule → action → alert sink, and the commands built on it (`check`,
//! `preflight`, `verify`, `recover`, and the scheduled daemon).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use telbot_shared::action::ActionDetail;
use telbot_shared::lease::{LEADER_LOCK, Lease, LockError, owner_name};
use telbot_shared::store::StoreError;
use telbot_shared::telegram::{TelegramClient, TelegramError};
use tokio_util::sync::CancellationToken;

use crate::actions;
use crate::alert::{AlertSink, LogSink};
use crate::clock::{Clock, SystemClock};
use crate::config::WatchdogConfig;
use crate::context::Ctx;
use crate::failover;
use crate::gather::gather;
use crate::recovery;
use crate::report::{
    ActionKind, ActionReport, ActionResult, AlertDecision, Finding, Level, RunReport, incident,
};
use crate::rules::{self, Plan};
use crate::schedule::{self, RunKind, RunSet};
use crate::store::WdStore;

/// What can stop the watchdog from starting.
#[derive(Debug, thiserror::Error)]
pub enum WatchdogError {
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The Bot API client could not be built.
    #[error(transparent)]
    Telegram(#[from] TelegramError),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Http(String),
    /// The scheduler could not start.
    #[error("scheduler: {0}")]
    Schedule(String),
}

/// A run's report and what the alert sink made of it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunOutcome {
    /// Findings and actions.
    #[serde(flatten)]
    pub report: RunReport,
    /// The alert sink's decisions.
    pub alerts: Vec<AlertDecision>,
}

/// How long the leadership lasts unless renewed (its keeper renews it every third): a killed
/// leader is replaced by another watchdog on the same store within this, plus one run.
pub const LEADER_TTL: Duration = Duration::from_secs(30);

/// This watchdog's part in a run when several share one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// It holds the leadership (or is alone): it acts and alerts.
    Leader,
    /// Another watchdog (named) holds it: this one checks and reports, and leaves the actions
    /// and the alerts to it.
    Follower(String),
}

/// The watchdog.
pub struct Watchdog {
    pub(crate) ctx: Ctx,
    pub(crate) sink: Arc<dyn AlertSink>,
    pub(crate) stop: CancellationToken,
    /// The leadership lease while this watchdog holds it. Runs are one at a time, so the lock
    /// is only held to take the lease out or put it back, never across an await.
    leader: std::sync::Mutex<Option<Lease>>,
}

impl std::fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchdog")
            .field("ctx", &self.ctx)
            .finish_non_exhaustive()
    }
}

impl Watchdog {
    /// Connects the store (creating and migrating it) with the system clock and the log sink.
    pub async fn build(cfg: WatchdogConfig) -> Result<Self, WatchdogError> {
        Self::build_with(cfg, Arc::new(SystemClock), Arc::new(LogSink)).await
    }

    /// [`Self::build`] with an injected clock and alert sink.
    pub async fn build_with(
        cfg: WatchdogConfig,
        clock: Arc<dyn Clock>,
        sink: Arc<dyn AlertSink>,
    ) -> Result<Self, WatchdogError> {
        let db = telbot_shared::store::connect(&cfg.store).await?;
        Self::build_on(cfg, db, clock, sink)
    }

    /// [`Self::build_with`] on a store already open (shared with the alert pipeline).
    pub fn build_on(
        cfg: WatchdogConfig,
        db: telbot_shared::store::Db,
        clock: Arc<dyn Clock>,
        sink: Arc<dyn AlertSink>,
    ) -> Result<Self, WatchdogError> {
        let tg = TelegramClient::new(cfg.telegram.clone())?;
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.http_timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| WatchdogError::Http(e.to_string()))?;
        let ctx = Ctx {
            cfg: Arc::new(cfg),
            tg,
            http,
            store: WdStore::new(db),
            clock,
            generated_secret: Arc::default(),
        };
        Ok(Watchdog {
            ctx,
            sink,
            stop: CancellationToken::new(),
            leader: std::sync::Mutex::new(None),
        })
    }

    fn leader_slot(&self) -> std::sync::MutexGuard<'_, Option<Lease>> {
        self.leader.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes or keeps the leadership among the watchdogs on this store: several `watchdog run`
    /// processes (or a cron `watchdog check` beside one) then act once, not once each. A store
    /// that does not answer leaves the question open; the watchdog then acts as a lone one
    /// would (its actions need the store anyway, and say so when it is down).
    pub async fn role(&self) -> Role {
        let held = self.leader_slot().take();
        if let Some(lease) = held {
            if lease.is_held() {
                *self.leader_slot() = Some(lease);
                return Role::Leader;
            }
            tracing::warn!("this watchdog lost its leadership (its lease expired and was taken)");
        }
        match Lease::acquire_named(
            self.ctx.store.db(),
            LEADER_LOCK,
            &owner_name("watchdog"),
            LEADER_TTL,
        )
        .await
        {
            Ok(lease) => {
                *self.leader_slot() = Some(lease);
                Role::Leader
            }
            Err(LockError::Held { owner, .. }) => Role::Follower(owner),
            Err(LockError::Store(e)) => {
                tracing::warn!(error = %e, "cannot ask the store who leads; acting as a lone watchdog");
                Role::Leader
            }
        }
    }

    /// Gives the leadership back (at the end of `watchdog check`, and when the daemon stops),
    /// so another watchdog takes over at its next run rather than after the lease's ttl.
    pub async fn step_down(&self) {
        let held = self.leader_slot().take();
        if let Some(lease) = held
            && let Err(e) = lease.release().await
        {
            tracing::warn!(error = %e, "cannot give the leadership back; it expires by itself");
        }
    }

    /// What checks and actions reach the world through.
    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    /// Cancelling it stops the daemon; a recovery in progress stops draining and sets the
    /// webhook again before returning.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// One pass of every check, with recovery and alerts as configured (`watchdog check`).
    pub async fn check(&self) -> RunOutcome {
        self.run_once(RunSet::all()).await
    }

    /// One run: finish an interrupted recovery, run the checks of `set`, apply the rules within
    /// their limits, keep the report, hand it to the alert sink.
    pub async fn run_once(&self, set: RunSet) -> RunOutcome {
        let ctx = &self.ctx;
        ctx.refresh_secret().await;
        let role = self.role().await;
        if role == Role::Leader {
            self.sink.before_run().await;
        }
        let started_at = ctx.clock.now();
        // An interrupted recovery is the leader's to finish (not in a dry run: it touches
        // Telegram).
        let (mut findings, mut actions) = if role == Role::Leader && ctx.cfg.act {
            self.resume().await
        } else {
            (Vec::new(), Vec::new())
        };
        // Only the leader writes what the next run judges against (observations, samples).
        let seen = gather(ctx, set, role == Role::Leader).await;
        let mut fs = seen.findings;
        // A blind run acts on nothing: what it could not see is left for the next runs.
        if !seen.sight.blind() {
            let polling = seen.bot.polling();
            rules::soften_for_polling(&mut fs, polling);
            rules::soften_for_store(&mut fs, seen.bot.store_trouble());
            let holder = telbot_shared::lease::holder(ctx.store.db())
                .await
                .ok()
                .flatten()
                .map(|h| h.owner);
            rules::soften_for_recovery(&mut fs, holder.as_deref());
            let mut plans = rules::plan(&fs, polling, ctx.cfg.recovery.mode);
            let webhook_url = seen.info.as_ref().map(|i| i.url.as_str());
            if role == Role::Leader {
                failover::adjust(ctx, &mut fs, &mut plans, webhook_url).await;
            }
            for plan in &plans {
                let a = match &role {
                    Role::Leader if !ctx.cfg.act => actions::dry_run(ctx, plan).await,
                    Role::Leader => actions::execute(ctx, plan, &self.stop, true).await,
                    Role::Follower(owner) => ActionReport {
                        kind: plan.kind,
                        incident: plan.incident,
                        reason: plan.reason.clone(),
                        result: ActionResult::SkippedFollower,
                        detail: ActionDetail::why(format!("another watchdog acts: {owner}")),
                    },
                };
                apply(&mut fs, plan, &a);
                actions.push(a);
            }
            rules::soften_for_conflict(&mut fs);
        }
        // A new deploy of the bot is verified by the leader, one probe a run.
        if role == Role::Leader && !seen.sight.blind() {
            fs.extend(crate::deploy_watch::observe(ctx, seen.bot.health.as_ref()).await);
        }
        rules::soften_symptoms(&mut fs);
        fs.extend(failover::finding(ctx).await);
        findings.extend(fs);
        let report = RunReport {
            run: set.name().into(),
            started_at,
            finished_at: ctx.clock.now(),
            findings,
            actions,
        };
        // A full pass answers the dashboard's "Refresh status" request it started after.
        if set.integration {
            crate::manual::answer(ctx, &report, &owner_name("watchdog")).await;
        }
        match role {
            Role::Leader => self.close(report).await,
            Role::Follower(owner) => observed(report, &owner, &ctx.cfg.bot_name),
        }
    }

    async fn close(&self, report: RunReport) -> RunOutcome {
        if let Err(e) = self.ctx.store.save_run(&report).await {
            tracing::warn!(error = %e, "cannot keep the run report");
        }
        let alerts = self.sink.observe(&report).await;
        crate::metrics::record_run(&report, &self.ctx.cfg.bot_name);
        tracing::info!(run = %report.run, level = %report.level(), problems = report.problems().count(), actions = report.actions.len(), "run finished");
        RunOutcome { report, alerts }
    }

    /// Finishes a recovery an earlier watchdog left half done, as a finding and an action.
    async fn resume(&self) -> (Vec<Finding>, Vec<ActionReport>) {
        let ctx = &self.ctx;
        let prior = ctx.store.recovery().await.ok().flatten();
        let Some(r) = recovery::resume(ctx, &self.stop).await else {
            return (Vec::new(), Vec::new());
        };
        let (result, detail) = actions::recovery_result(r.clone());
        if let Some(id) = prior.and_then(|p| p.action_id) {
            let _ = ctx
                .store
                .action_finished(id, result, &detail, ctx.clock.now())
                .await;
        }
        let finding = if r.ok() {
            let mut f = Finding::new(
                "recovery",
                incident::RECOVERY_INTERRUPTED,
                Level::Warning,
                format!(
                    "finished a recovery an earlier watchdog left half done: drained {}, replayed {}, dropped 0; webhook set again",
                    r.drained, r.replayed
                ),
            );
            f.repaired = true;
            f
        } else {
            Finding::new(
                "recovery",
                incident::RECOVERY_INTERRUPTED,
                Level::Critical,
                format!(
                    "a recovery an earlier watchdog left half done could not be finished: {}",
                    r.errors.join("; ")
                ),
            )
        };
        let action = ActionReport {
            kind: ActionKind::LosslessRecovery,
            incident: incident::RECOVERY_INTERRUPTED,
            reason: "an interrupted recovery was found in the store".into(),
            result,
            detail,
        };
        (
            vec![finding.with_evidence(json!({ "resumed": true }))],
            vec![action],
        )
    }

    /// `watchdog recover`: recovery now, bypassing cooldowns (it is a person's decision) but
    /// recorded like any action. `drop` throws pending updates away and says how many.
    pub async fn recover(&self, drop: bool) -> RunOutcome {
        let ctx = &self.ctx;
        ctx.refresh_secret().await;
        let started_at = ctx.clock.now();
        let (findings, mut actions) = self.resume().await;
        let kind = if drop {
            ActionKind::DropPending
        } else {
            ActionKind::LosslessRecovery
        };
        let plan = Plan {
            kind,
            incident: incident::WEBHOOK_STUCK,
            reason: "asked for on the command line".into(),
        };
        actions.push(actions::execute(ctx, &plan, &self.stop, false).await);
        let report = RunReport {
            run: "manual".into(),
            started_at,
            finished_at: ctx.clock.now(),
            findings,
            actions,
        };
        self.close(report).await
    }

    /// One worker pass: the checks the set asks for, then (when due, and only on the leader)
    /// the drill and the daily digest.
    async fn scheduled(&self, set: RunSet) {
        let checks = set.liveness || set.performance || set.integration;
        if checks {
            self.run_once(set).await;
        }
        if set.drill || set.digest || set.weekly || set.backup {
            match self.role().await {
                Role::Leader => {
                    if set.drill {
                        self.drill().await;
                    }
                    if set.digest
                        && let Err(e) = self.digest(true).await
                    {
                        tracing::error!(error = %e, "cannot make the daily digest (store)");
                    }
                    if set.weekly
                        && let Err(e) = self.weekly(true).await
                    {
                        tracing::error!(error = %e, "cannot make the weekly report (store)");
                    }
                    if set.backup {
                        crate::backup::scheduled(self.ctx.store.db(), &self.ctx.cfg.store).await;
                    }
                }
                Role::Follower(owner) => {
                    tracing::info!(%owner, "drill, digest, weekly report and backup left to the acting watchdog");
                }
            }
        }
    }

    /// The daemon: one run now (finishing any interrupted recovery), then the schedules until
    /// the stop token is cancelled. A run in progress is finished (a recovery sets the webhook
    /// again) before this returns.
    pub async fn run_until_stopped(&self) -> Result<(), WatchdogError> {
        let (ticker, worker) = schedule::channel();
        let s = &self.ctx.cfg.schedules;
        let mut triggers = vec![
            (RunKind::Liveness, s.liveness.clone()),
            (RunKind::Performance, s.performance.clone()),
            (RunKind::Integration, s.integration.clone()),
        ];
        if let Some(d) = &s.drill {
            triggers.push((RunKind::Drill, d.clone()));
        }
        if let Some(d) = &s.digest {
            triggers.push((RunKind::Digest, d.clone()));
        }
        if let Some(w) = &s.weekly {
            triggers.push((RunKind::Weekly, w.clone()));
        }
        if let Some(b) = &s.backup {
            triggers.push((RunKind::Backup, b.clone()));
        }
        let sched = schedule::start(triggers, ticker.clone(), self.stop.clone())
            .await
            .map_err(|e| WatchdogError::Schedule(e.to_string()))?;
        tracing::info!("watchdog running");
        ticker.tick(RunKind::Liveness);
        let requests = tokio::spawn(crate::manual::watch(
            self.ctx.clone(),
            ticker.clone(),
            self.stop.clone(),
        ));
        worker
            .serve(self.stop.clone(), |set| self.scheduled(set))
            .await;
        if let Some(mut sched) = sched {
            let _ = sched.shutdown().await;
        }
        requests.abort();
        self.step_down().await;
        tracing::info!("watchdog stopped");
        Ok(())
    }
}

/// A follower's run: reported to the caller (`watchdog check` prints it) and counted, but not
/// kept as a run nor alerted on — the leader's runs are the record and its alerts the pages,
/// so two watchdogs still send one alert per incident.
fn observed(report: RunReport, leader: &str, bot: &str) -> RunOutcome {
    crate::metrics::record_run(&report, bot);
    tracing::info!(run = %report.run, level = %report.level(), problems = report.problems().count(), %leader, "run finished (observing: another watchdog acts and alerts)");
    RunOutcome {
        report,
        alerts: Vec::new(),
    }
}

/// Updates the plan's finding with what the action achieved.
fn apply(findings: &mut [Finding], plan: &Plan, a: &ActionReport) {
    let Some(f) = findings.iter_mut().find(|f| f.incident == plan.incident) else {
        return;
    };
    let why = a
        .detail
        .why
        .clone()
        .or_else(|| a.detail.error.clone())
        .unwrap_or_default();
    match a.result {
        ActionResult::Succeeded if a.kind == ActionKind::Restart => {
            f.reason = format!("{} — restart requested", f.reason);
        }
        ActionResult::Succeeded => {
            f.repaired = true;
            f.soften(format_args!("repaired by {}", a.kind.as_str()));
        }
        ActionResult::Failed => {
            f.level = Level::Critical;
            f.reason = format!("{} — {} failed: {why}", f.reason, a.kind.as_str());
        }
        ActionResult::SkippedCap | ActionResult::NotConfigured => {
            f.level = Level::Critical;
            f.reason = format!("{} — not repaired: {why}", f.reason);
        }
        ActionResult::SkippedCooldown => {
            f.reason = format!("{} — not repaired yet: {why}", f.reason);
        }
        ActionResult::SkippedFollower => {
            f.reason = format!("{} — left to the acting watchdog ({why})", f.reason);
        }
        ActionResult::DryRun => {
            f.reason = format!("{} — dry run: {} not taken", f.reason, a.kind.as_str());
        }
    }
}
