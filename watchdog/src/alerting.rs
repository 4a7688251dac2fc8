//! The bridge from a run's report to `telbot-alerts`: each finding becomes an
//! [`Observation`] (ok findings too, so incidents resolve), the pipeline decides and queues,
//! the outbox is flushed, and the heartbeat URL hears about the run.
//!
//! Incident state lives in the store. When the store cannot take a run (the shared SQLite
//! volume is full, PostgreSQL is down), the run's observations wait in memory (bounded) and
//! are fed to the pipeline in order, with their own times, as soon as it can: the incident is
//! then paged once — late, but not lost — and resolved once.

use telbot_alerts::{ActionNote, AlertPipeline, DecisionKind, Heartbeat, Observation};
use telbot_shared::action::ActionDetail;

use crate::alert::{AlertSink, BoxFuture};
use crate::report::{AlertDecision, Incident, Level, RunReport, incident};

/// Runs kept while the store cannot take them (at the daemon's 30 s liveness schedule, an
/// hour); older ones are dropped with a log line.
const MAX_BACKLOG: usize = 120;

/// One run the pipeline has not taken yet: its observations and when it was made.
type Pending = (Vec<Observation>, i64);

/// The alert sink of a real watchdog.
#[derive(Debug, Clone)]
pub struct PipelineSink {
    pipeline: AlertPipeline,
    heartbeat: Option<Heartbeat>,
    /// Runs waiting for the store, oldest first (never locked across an await).
    backlog: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<Pending>>>,
}

impl PipelineSink {
    /// A sink feeding `pipeline`, pinging `heartbeat` around each run.
    pub fn new(pipeline: AlertPipeline, heartbeat: Option<Heartbeat>) -> Self {
        PipelineSink {
            pipeline,
            heartbeat,
            backlog: Default::default(),
        }
    }

    /// Feeds waiting runs and then `run` to the pipeline, in order; stops at the first the store
    /// refuses and keeps it and the rest for the next time. The decisions are `run`'s.
    async fn observe_in_order(
        &self,
        run: Vec<Observation>,
        now: i64,
    ) -> Vec<telbot_alerts::Decision> {
        let mut queue = match self.backlog.lock() {
            Ok(mut b) => std::mem::take(&mut *b),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        queue.push_back((run, now));
        let mut last = Vec::new();
        while let Some((obs, at)) = queue.front() {
            match self.pipeline.observe(obs, *at).await {
                Ok(d) => {
                    last = d;
                    queue.pop_front();
                }
                Err(e) => {
                    tracing::error!(error = %e, waiting = queue.len(), "alert pipeline failed (store); the run waits in memory and is fed again next run");
                    last = Vec::new();
                    break;
                }
            }
        }
        if !queue.is_empty() {
            while queue.len() > MAX_BACKLOG {
                queue.pop_front();
                tracing::warn!(
                    "the store refused runs for too long; the oldest waiting run is dropped"
                );
            }
            if let Ok(mut b) = self.backlog.lock() {
                // Runs made meanwhile (none: one run at a time) would go after these.
                let newer = std::mem::take(&mut *b);
                queue.extend(newer);
                *b = queue;
            }
        }
        last
    }

    /// Runs waiting for the store.
    pub fn waiting(&self) -> usize {
        self.backlog.lock().map(|b| b.len()).unwrap_or(0)
    }

    /// The pipeline (for `silence`, `test-alert`).
    pub fn pipeline(&self) -> &AlertPipeline {
        &self.pipeline
    }
}

/// The next manual step for an incident, as the runbook says it.
pub(crate) fn runbook(key: Incident) -> Option<&'static str> {
    Some(match key {
        incident::WEBHOOK_STUCK => "watchdog recover",
        incident::WEBHOOK_WRONG_URL => {
            "watchdog check (it sets the expected URL again); then watchdog verify"
        }
        incident::BOT_DOWN => "check the bot's logs and restart it; then watchdog verify",
        incident::TELEGRAM_UNREACHABLE => {
            "watchdog preflight (exit 2 means Telegram is still unreachable)"
        }
        incident::TOKEN_INVALID => {
            "set a valid TELEGRAM_BOT_TOKEN on both services, redeploy, then watchdog verify"
        }
        incident::TOKEN_CONFLICT => {
            "find the other process using the token (README runbook: \"Another process uses the token\"), or revoke the token with @BotFather, set the new TELEGRAM_BOT_TOKEN on both services and redeploy"
        }
        incident::WATCHDOG_BLIND => {
            "check the watchdog's own network (DNS, egress, proxy); watchdog preflight from its host"
        }
        incident::CANARY => {
            "open the dashboard (inbox depth, running handlers) and the bot's logs; a handler that hangs holds a worker until inbox.handler_timeout"
        }
        incident::TLS_CERTIFICATE => {
            "renew or fix the certificate on PUBLIC_URL's host (full chain, the right name), or upload a self-signed one with webhook.certificate; then watchdog check"
        }
        incident::DEPLOY_VERIFY => {
            "watchdog verify; read the new deploy's logs; roll back on the platform if it stays unhealthy"
        }
        _ => return None,
    })
}

/// One observation per finding.
pub(crate) fn observations(run: &RunReport) -> Vec<Observation> {
    run.findings
        .iter()
        .map(|f| {
            let level = f.level;
            let actions = run
                .actions
                .iter()
                .filter(|a| a.incident == f.incident)
                .map(|a| ActionNote {
                    kind: a.kind.as_str().to_string(),
                    result: a.result.as_str().to_string(),
                    detail: action_detail(&a.detail, a.result),
                })
                .collect();
            Observation {
                key: f.incident.to_string(),
                level,
                summary: f.reason.clone(),
                evidence: f.evidence.clone(),
                actions,
                runbook_cmd: runbook(f.incident).map(str::to_string),
                recovered: recovered(f.incident).map(str::to_string),
            }
        })
        .collect()
}

/// An action's detail for a person (the same words the dashboard shows), or its result.
fn action_detail(d: &ActionDetail, r: crate::report::ActionResult) -> String {
    match d.words() {
        w if w.is_empty() => r.as_str().to_string(),
        w => w,
    }
}

/// What a RESOLVED message says recovered, per incident key.
pub(crate) fn recovered(key: Incident) -> Option<&'static str> {
    Some(match key {
        incident::WEBHOOK_STUCK => "the webhook delivers again",
        incident::WEBHOOK_WRONG_URL => "the webhook points at the bot again",
        incident::WEBHOOK_CONFIG => "the webhook's settings are right again",
        incident::BOT_DOWN => "the bot answers /health again",
        incident::BOT_MEMORY => "the bot's memory is under the limit again",
        incident::BOT_SLOW => "/health answers in time again",
        incident::BOT_PARKED => "no parked updates are left",
        incident::BOT_STORE => "the bot's store is ok again",
        incident::BOT_SUCCESS_RATE => "the handler success rate is above the threshold again",
        incident::BOT_DEPENDENCY => "the bot's dependencies are ok again",
        incident::TELEGRAM_UNREACHABLE => "the Bot API answers again",
        incident::TELEGRAM_SYNC => "Telegram reports no synchronization error",
        incident::TOKEN_INVALID => "the bot token is accepted again",
        incident::WEBHOOK_AUTH => "the webhook refuses calls without the secret again",
        incident::WEBHOOK_HEALTH => "the bot's /webhook/health is healthy again",
        incident::WATCHDOG_STORE => "the watchdog's store answers again",
        incident::CHECK_TIMEOUT => "the checks finish in time again",
        incident::WEBHOOK_FAILOVER => "the webhook points at the primary again",
        incident::WATCHDOG_BLIND => "the watchdog reaches the Bot API and the bot again",
        incident::CANARY => "the canary update is taken through the inbox in time again",
        incident::BOT_RESOURCES => "the bot's resources are under their warning levels again",
        incident::BOT_JOBS => "the bot's periodic jobs run on time again",
        incident::BOT_RESPONSE_TIME => "users are answered in time again",
        incident::BOT_HANDLED => "the share of updates handled is above the threshold again",
        incident::TOKEN_CONFLICT => {
            "no other process has deleted the webhook or polled with the bot's token for the quiet period"
        }
        incident::TLS_CERTIFICATE => {
            "the bot's TLS certificate is valid, trusted and for its host again"
        }
        incident::DEPLOY_VERIFY => "the deploy's /webhook/health is healthy",
        _ => return None,
    })
}

impl AlertSink for PipelineSink {
    fn before_run<'a>(&'a self) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(h) = &self.heartbeat
                && let Err(e) = h.ping_start().await
            {
                tracing::warn!(error = %e, "heartbeat /start ping failed");
            }
        })
    }

    fn report<'a>(&'a self, run: &'a RunReport) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            let now = telbot_shared::unix_now();
            let mut sent = Vec::new();
            for obs in observations(run) {
                for r in self.pipeline.report(&obs, now).await {
                    match &r.error {
                        None => sent.push(r.channel),
                        Some(e) => {
                            tracing::warn!(channel = %r.channel, error = %e, "cannot send the report")
                        }
                    }
                }
            }
            sent
        })
    }

    fn bot_name(&self) -> String {
        self.pipeline.bot_name().to_string()
    }

    fn email<'a>(
        &'a self,
        msg: &'a telbot_alerts::Message,
        send: bool,
    ) -> BoxFuture<'a, Vec<telbot_alerts::ChannelResult>> {
        Box::pin(async move {
            if send {
                self.pipeline.send_email(msg).await
            } else {
                Vec::new()
            }
        })
    }

    fn digest<'a>(
        &'a self,
        d: &'a crate::digest::Digest,
        send: bool,
    ) -> BoxFuture<'a, (telbot_alerts::Message, Vec<telbot_alerts::ChannelResult>)> {
        Box::pin(async move {
            let msg = crate::digest::text::render(d, self.pipeline.redactor());
            let results = if send {
                self.pipeline.send_email(&msg).await
            } else {
                Vec::new()
            };
            (msg, results)
        })
    }

    fn observe<'a>(&'a self, run: &'a RunReport) -> BoxFuture<'a, Vec<AlertDecision>> {
        Box::pin(async move {
            let now = telbot_shared::unix_now();
            let obs = observations(run);
            let decisions = self.observe_in_order(obs, now).await;
            let flushed = self.pipeline.flush_outbox(now).await;
            if let Ok(r) = &flushed {
                crate::metrics::record_alerts(
                    r.sent as u64,
                    r.failed as u64,
                    self.pipeline.bot_name(),
                );
            }
            match flushed {
                Ok(r) if r.failed > 0 => tracing::warn!(
                    sent = r.sent,
                    failed = r.failed,
                    waiting = r.waiting,
                    "some alerts could not be sent yet; they stay in the outbox"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "cannot flush the alert outbox; it is retried next run")
                }
            }
            if let Some(h) = &self.heartbeat {
                let body = format!(
                    "{} findings, {} actions",
                    run.findings.len(),
                    run.actions.len()
                );
                // A blind run is a warning for the incident, a failure for the dead-man's
                // switch: an outside monitor should hear that the watcher cannot see.
                let blind = run
                    .finding(incident::WATCHDOG_BLIND)
                    .is_some_and(|f| f.level > Level::Ok);
                let r = if run.level() == Level::Critical || blind {
                    h.ping_fail(&body).await
                } else {
                    h.ping_success(&body).await
                };
                if let Err(e) = r {
                    tracing::warn!(error = %e, "heartbeat ping failed");
                }
            }
            decisions
                .into_iter()
                .map(|d| AlertDecision {
                    incident: d.key.clone(),
                    level: d.level,
                    channel: if d.channels.is_empty() {
                        "log".into()
                    } else {
                        d.channels.join(",")
                    },
                    notify: matches!(
                        d.kind,
                        DecisionKind::Opened
                            | DecisionKind::Notified
                            | DecisionKind::Repeat
                            | DecisionKind::Resolved
                    ),
                    reason: serde_json::to_value(d.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ActionKind, ActionReport, ActionResult, Finding};

    #[test]
    fn findings_keep_their_level_and_carry_their_actions() {
        let run = RunReport {
            run: "liveness".into(),
            started_at: 0,
            finished_at: 0,
            findings: vec![
                Finding::new(
                    "telegram",
                    incident::WEBHOOK_STUCK,
                    Level::Warning,
                    "12 stuck, repaired",
                ),
                Finding::ok("bot", incident::BOT_DOWN, "up"),
            ],
            actions: vec![ActionReport {
                kind: ActionKind::LosslessRecovery,
                incident: incident::WEBHOOK_STUCK,
                reason: "stuck".into(),
                result: ActionResult::Succeeded,
                detail: ActionDetail {
                    drained: Some(12),
                    replayed: Some(12),
                    dropped: Some(0),
                    ..Default::default()
                },
            }],
        };
        let obs = observations(&run);
        assert_eq!(obs.len(), 2);
        assert_eq!(obs[0].level, Level::Warning);
        assert_eq!(
            obs[0].actions[0].detail,
            "drained 12, replayed 12, dropped 0"
        );
        assert_eq!(
            obs[0].recovered.as_deref(),
            Some("the webhook delivers again")
        );
        assert_eq!(obs[0].runbook_cmd.as_deref(), Some("watchdog recover"));
        assert_eq!(obs[1].level, Level::Ok);
        assert!(obs[1].actions.is_empty());
    }
}
