//! `watchdog drill` (and `watchdog.schedule.drill`): the ops notes' weekly "test emergency
//! recovery procedures", made safe. On a healthy bot only, it runs the lossless recovery on
//! purpose (delete → drain → replay → set), probes the bot's `/health` all the while, then
//! checks that nothing was dropped, the webhook is set as it should be and the bot is still
//! healthy. The report is kept like a run and sent through every alert channel as a `[DRILL]`
//! message, passed or failed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::actions;
use crate::checks;
use crate::report::{ActionKind, ActionResult, Finding, Level, RunReport, incident};
use crate::rules::Plan;
use crate::watchdog::{RunOutcome, Watchdog};

/// How often the bot's `/health` is probed while the drill runs.
const PROBE_EVERY: Duration = Duration::from_millis(250);

impl Watchdog {
    /// Runs a recovery drill; the outcome's level is `ok` when it passed, `critical` when it
    /// failed or was not run (a bot that is not healthy, a dry run, another recovery running).
    pub async fn drill(&self) -> RunOutcome {
        let ctx = &self.ctx;
        ctx.refresh_secret().await;
        let started_at = ctx.clock.now();
        let mut actions = Vec::new();
        let finding = match self.drill_refusal().await {
            Some(why) => drill_finding(Level::Critical, format!("drill not run: {why}")),
            None => {
                let (action, probes) = self.recover_while_probing().await;
                let f = self.judge(&action, probes).await;
                actions.push(action);
                f
            }
        };
        let report = RunReport {
            run: "drill".into(),
            started_at,
            finished_at: ctx.clock.now(),
            findings: vec![finding],
            actions,
        };
        if let Err(e) = ctx.store.save_run(&report).await {
            tracing::warn!(error = %e, "cannot keep the drill's report");
        }
        crate::metrics::record_run(&report, &ctx.cfg.bot_name);
        let channels = self.sink.report(&report).await;
        tracing::info!(
            passed = report.findings.iter().all(|f| f.level == Level::Ok),
            ?channels,
            "drill finished"
        );
        RunOutcome {
            report,
            alerts: Vec::new(),
        }
    }

    /// Why a drill must not run now, if it must not.
    async fn drill_refusal(&self) -> Option<String> {
        let ctx = &self.ctx;
        if !ctx.cfg.act {
            return Some(
                "this is a dry run (watchdog.act = false), and a drill changes the webhook".into(),
            );
        }
        let (level, pre) = self.preflight().await;
        let bot = checks::bot::liveness(ctx).await;
        let bad: Vec<String> = pre
            .iter()
            .chain(bot.findings.iter())
            .filter(|f| f.level >= Level::Warning)
            .map(|f| f.reason.clone())
            .collect();
        if level >= Level::Warning || !bad.is_empty() {
            return Some(format!("the bot is not healthy: {}", bad.join("; ")));
        }
        None
    }

    /// The lossless recovery, with the bot's `/health` probed until it ends: (action,
    /// (probes, failed probes)).
    async fn recover_while_probing(&self) -> (crate::report::ActionReport, (u64, u64)) {
        let ctx = &self.ctx;
        let plan = Plan {
            kind: ActionKind::LosslessRecovery,
            incident: incident::RECOVERY_DRILL,
            reason: "recovery drill (on purpose, on a healthy bot)".into(),
        };
        let done = Arc::new(AtomicBool::new(false));
        let (probes, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let probe = {
            let (done, probes, failed) = (done.clone(), probes.clone(), failed.clone());
            let (http, url, timeout) = (
                ctx.http.clone(),
                ctx.bot_endpoint("/health"),
                ctx.cfg.http_timeout,
            );
            async move {
                while !done.load(Ordering::Relaxed) {
                    let ok = matches!(
                        tokio::time::timeout(timeout, http.get(&url).send()).await,
                        Ok(Ok(r)) if r.status().is_success()
                    );
                    probes.fetch_add(1, Ordering::Relaxed);
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(PROBE_EVERY).await;
                }
            }
        };
        let recover = async {
            // A drill is a person's (or a schedule's) decision: no cooldown or cap, but the
            // one recovery lock all the same.
            let a = actions::execute(ctx, &plan, &self.stop, false).await;
            done.store(true, Ordering::Relaxed);
            a
        };
        let (action, ()) = tokio::join!(recover, probe);
        (
            action,
            (
                probes.load(Ordering::Relaxed),
                failed.load(Ordering::Relaxed),
            ),
        )
    }

    /// Passed or failed, and why.
    async fn judge(
        &self,
        a: &crate::report::ActionReport,
        (probes, failed): (u64, u64),
    ) -> Finding {
        let ctx = &self.ctx;
        let d = &a.detail;
        let (drained, replayed, dropped) = (
            d.drained.unwrap_or(0),
            d.replayed.unwrap_or(0),
            d.dropped.unwrap_or(0),
        );
        let mut problems = Vec::new();
        if a.result != ActionResult::Succeeded {
            let why = d.error.as_deref().or(d.why.as_deref()).unwrap_or("");
            problems.push(format!("the recovery ended {}: {why}", a.result.as_str()));
        }
        if dropped > 0 {
            problems.push(format!("{dropped} updates were dropped"));
        }
        if failed > 0 {
            problems.push(format!(
                "the bot's /health failed {failed} of {probes} probes during the drill"
            ));
        }
        match ctx.tg.get_webhook_info().await {
            Ok(i) if i.url == ctx.cfg.webhook.expected_url => {}
            Ok(i) => problems.push(format!(
                "the webhook is {:?} afterwards, not the expected URL",
                i.url
            )),
            Err(e) => problems.push(format!("getWebhookInfo afterwards: {e}")),
        }
        let after = checks::bot::liveness(ctx).await;
        if after.findings.iter().any(|f| f.level == Level::Critical) {
            problems.push("the bot is not healthy afterwards".into());
        }
        let figures = format!(
            "drained {drained}, replayed {replayed}, dropped {dropped}; /health answered {} of {probes} probes",
            probes - failed
        );
        let f = if problems.is_empty() {
            drill_finding(
                Level::Ok,
                format!("drill passed: {figures}; webhook set again"),
            )
        } else {
            drill_finding(
                Level::Critical,
                format!("drill failed: {} ({figures})", problems.join("; ")),
            )
        };
        f.with_evidence(json!({
            "drained": drained,
            "replayed": replayed,
            "dropped": dropped,
            "health_probes": probes,
            "health_failures": failed,
        }))
    }
}

fn drill_finding(level: Level, reason: String) -> Finding {
    Finding::new("drill", incident::RECOVERY_DRILL, level, reason)
}
