//! The watchdog's runs → the alerting pipeline (`telbot-alerts`), and a timeline of what
//! the watchdog did, for the demo's closing report.
//!
//! The watchdog crate exposes an [`AlertSink`] trait; this is the demo's implementation of it
//! on top of [`AlertPipeline`]: each finding becomes an [`Observation`] (same key, same level,
//! the actions taken for it attached), the pipeline decides (flap damping, one message per
//! incident, RESOLVED), and the outbox is flushed right away through the configured channels.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use telbot_alerts::{ActionNote, AlertPipeline, Decision, Level as AlertLevel, Observation};
use watchdog::AlertSink;
use watchdog::alert::BoxFuture;
use watchdog::report::{ActionKind, ActionResult, AlertDecision, Level, RunReport};

/// One lossless recovery the watchdog reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecoveryNote {
    /// When the run that did it was reported.
    #[serde(skip)]
    pub at: SystemTime,
    /// `succeeded`, `failed`, `skipped-cooldown`, …
    pub result: String,
    /// Updates taken from Telegram with getUpdates.
    pub drained: u64,
    /// Updates the bot acknowledged.
    pub replayed: u64,
    /// Updates thrown away (0 in lossless mode).
    pub dropped: u64,
}

/// What the watchdog did during the demo.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// Runs observed.
    pub runs: u64,
    /// Recovery actions, in order (skipped ones included).
    pub recoveries: Vec<RecoveryNote>,
    /// Every alert decision that queued or held a message: (incident, kind).
    pub notices: Vec<(String, String)>,
}

/// The [`AlertSink`] the demo gives the watchdog.
pub struct AlertBridge {
    pipeline: AlertPipeline,
    timeline: Arc<Mutex<Timeline>>,
}

impl AlertBridge {
    /// Wraps a pipeline; the timeline is shared with the caller.
    pub fn new(pipeline: AlertPipeline, timeline: Arc<Mutex<Timeline>>) -> Self {
        AlertBridge { pipeline, timeline }
    }

    fn record(&self, run: &RunReport, decisions: &[Decision]) {
        let mut t = match self.timeline.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        t.runs += 1;
        for a in run.actions.iter().filter(|a| {
            matches!(
                a.kind,
                ActionKind::LosslessRecovery | ActionKind::DropPending
            )
        }) {
            let n = |k: &str| a.detail.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
            t.recoveries.push(RecoveryNote {
                at: SystemTime::now(),
                result: a.result.as_str().to_string(),
                drained: n("drained"),
                replayed: n("replayed"),
                dropped: n("dropped"),
            });
        }
        for d in decisions.iter().filter(|d| !d.channels.is_empty()) {
            let kind = serde_json::to_value(d.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            t.notices.push((d.key.clone(), kind));
        }
    }
}

/// A finding's level in the pipeline's terms.
fn level(l: Level) -> AlertLevel {
    match l {
        Level::Ok => AlertLevel::Normal,
        Level::Warning => AlertLevel::Warning,
        Level::Critical => AlertLevel::Critical,
    }
}

fn back(l: AlertLevel) -> Level {
    match l {
        AlertLevel::Normal => Level::Ok,
        AlertLevel::Warning => Level::Warning,
        AlertLevel::Critical => Level::Critical,
    }
}

/// The runbook command an on-call engineer runs next for an incident.
pub fn runbook_cmd(incident: &str) -> Option<&'static str> {
    Some(match incident {
        "webhook-stuck" => "watchdog recover",
        "webhook-wrong-url" | "webhook-config" | "webhook-health" => "watchdog check --json",
        "bot-down" | "bot-memory" => "watchdog check --json  (then restart the bot)",
        "token-invalid" => "set TELEGRAM_BOT_TOKEN, then watchdog preflight",
        "telegram-unreachable" => "watchdog preflight",
        _ => return None,
    })
}

/// One observation per finding, with the actions taken for its incident.
pub fn observations(run: &RunReport) -> Vec<Observation> {
    run.findings
        .iter()
        .map(|f| {
            let mut o = Observation::new(f.incident.clone(), level(f.level), f.reason.clone());
            o.evidence = f.evidence.clone();
            o.actions = run
                .actions
                .iter()
                .filter(|a| a.incident == f.incident)
                .map(|a| ActionNote {
                    kind: a.kind.as_str().to_string(),
                    result: a.result.as_str().to_string(),
                    detail: action_detail(&a.detail, a.result),
                })
                .collect();
            o.runbook_cmd = runbook_cmd(&f.incident).map(String::from);
            o
        })
        .collect()
}

fn action_detail(d: &serde_json::Value, r: ActionResult) -> String {
    let n = |k: &str| d.get(k).and_then(|v| v.as_u64());
    match (n("drained"), n("replayed"), n("dropped")) {
        (Some(a), Some(b), Some(c)) => format!("drained {a}, replayed {b}, dropped {c}"),
        _ => d
            .get("why")
            .or_else(|| d.get("error"))
            .and_then(|v| v.as_str())
            .map(String::from)
            .unwrap_or_else(|| r.as_str().to_string()),
    }
}

impl AlertSink for AlertBridge {
    fn observe<'a>(&'a self, run: &'a RunReport) -> BoxFuture<'a, Vec<AlertDecision>> {
        Box::pin(async move {
            let now = telbot_shared::unix_now();
            let decisions = match self.pipeline.observe(&observations(run), now).await {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(error = %e, "alert pipeline: observe failed");
                    Vec::new()
                }
            };
            if let Err(e) = self.pipeline.flush_outbox(now).await {
                tracing::error!(error = %e, "alert pipeline: flush failed");
            }
            self.record(run, &decisions);
            decisions
                .into_iter()
                .map(|d| AlertDecision {
                    incident: d.key,
                    level: back(d.level),
                    notify: !d.channels.is_empty(),
                    channel: if d.channels.is_empty() {
                        "log".into()
                    } else {
                        d.channels.join(",")
                    },
                    reason: d.detail,
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use watchdog::report::{ActionReport, Finding};

    #[test]
    fn findings_keep_their_level_and_carry_their_actions() {
        let run = RunReport {
            run: "liveness".into(),
            started_at: 0,
            finished_at: 0,
            findings: vec![
                Finding::new(
                    "telegram",
                    "webhook-stuck",
                    Level::Warning,
                    "12 stuck — repaired",
                ),
                Finding::ok("bot", "bot-down", "up"),
            ],
            actions: vec![ActionReport {
                kind: ActionKind::LosslessRecovery,
                incident: "webhook-stuck".into(),
                reason: "stuck".into(),
                result: ActionResult::Succeeded,
                detail: serde_json::json!({"drained": 12, "replayed": 12, "dropped": 0}),
            }],
        };
        let obs = observations(&run);
        assert_eq!(obs.len(), 2);
        assert_eq!(obs[0].level, AlertLevel::Warning);
        assert_eq!(
            obs[0].actions[0].detail,
            "drained 12, replayed 12, dropped 0"
        );
        assert_eq!(obs[0].runbook_cmd.as_deref(), Some("watchdog recover"));
        assert_eq!(obs[1].level, AlertLevel::Normal);
        assert!(obs[1].actions.is_empty());
    }
}
