//! The watchdog's runs → the alerting pipeline (`telbot-alerts`), and a timeline of what
//! the watchdog did, for the demo's closing report.
//!
//! The alerting itself is the watchdog's own [`PipelineSink`] (what `watchdog run` uses); this
//! only wraps it to keep a timeline.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use watchdog::AlertSink;
use watchdog::BoxFuture;
use watchdog::PipelineSink;
use watchdog::{ActionKind, AlertDecision, RunReport};

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

/// The [`AlertSink`] the demo gives the watchdog: the production [`PipelineSink`], plus a
/// timeline of what the watchdog did for the closing report.
pub struct AlertBridge {
    inner: Arc<PipelineSink>,
    timeline: Arc<Mutex<Timeline>>,
}

impl AlertBridge {
    /// Wraps the watchdog's own sink; the timeline is shared with the caller.
    pub fn new(inner: Arc<PipelineSink>, timeline: Arc<Mutex<Timeline>>) -> Self {
        AlertBridge { inner, timeline }
    }

    fn record(&self, run: &RunReport, decisions: &[AlertDecision]) {
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
            t.recoveries.push(RecoveryNote {
                at: SystemTime::now(),
                result: a.result.as_str().to_string(),
                drained: a.detail.drained.unwrap_or(0),
                replayed: a.detail.replayed.unwrap_or(0),
                dropped: a.detail.dropped.unwrap_or(0),
            });
        }
        for d in decisions.iter().filter(|d| d.notify) {
            t.notices.push((d.incident.clone(), d.reason.clone()));
        }
    }
}

impl AlertSink for AlertBridge {
    fn before_run<'a>(&'a self) -> BoxFuture<'a, ()> {
        self.inner.before_run()
    }

    fn report<'a>(&'a self, run: &'a RunReport) -> BoxFuture<'a, Vec<String>> {
        self.inner.report(run)
    }

    fn bot_name(&self) -> String {
        self.inner.bot_name()
    }

    fn digest<'a>(
        &'a self,
        d: &'a watchdog::Digest,
        send: bool,
    ) -> BoxFuture<'a, (telbot_alerts::Message, Vec<telbot_alerts::ChannelResult>)> {
        self.inner.digest(d, send)
    }

    fn observe<'a>(&'a self, run: &'a RunReport) -> BoxFuture<'a, Vec<AlertDecision>> {
        Box::pin(async move {
            let decisions = self.inner.observe(run).await;
            self.record(run, &decisions);
            decisions
        })
    }
}
