//! Where a run's report goes after the actions: an [`AlertSink`]. The alerting pipeline
//! (`telbot-alerts`: flap damping, repeat interval, e-mail, "resolved") implements this trait;
//! the default [`LogSink`] only logs the problems.

use std::future::Future;
use std::pin::Pin;

use telbot_alerts::{ChannelResult, Message};
use telbot_shared::redact::Redactor;

use crate::digest::Digest;
use crate::report::{AlertDecision, Level, RunReport};

/// A boxed future, so sinks can be used as `Arc<dyn AlertSink>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Receives every run's report (ok findings included, for "resolved") and says what it did.
pub trait AlertSink: Send + Sync {
    /// Called as a run starts (e.g. a heartbeat's `/start` ping). Does nothing by default.
    fn before_run<'a>(&'a self) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }

    /// Called once per run, after its actions; must not take longer than a few seconds.
    fn observe<'a>(&'a self, run: &'a RunReport) -> BoxFuture<'a, Vec<AlertDecision>>;

    /// Sends a report that is no incident (a recovery drill's), whatever its level. Logs it
    /// by default; returns the channels it went to.
    fn report<'a>(&'a self, run: &'a RunReport) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            for f in &run.findings {
                tracing::info!(incident = %f.incident, level = %f.level, "{}", f.reason);
            }
            vec!["log".to_string()]
        })
    }

    /// The bot's name in messages (`alerts.bot_name`).
    fn bot_name(&self) -> String {
        "telbot".into()
    }

    /// With `send`, sends `msg` (a report: the weekly one) to the e-mail channels and returns
    /// each channel's result. Logs it by default.
    fn email<'a>(&'a self, msg: &'a Message, send: bool) -> BoxFuture<'a, Vec<ChannelResult>> {
        Box::pin(async move {
            if send {
                tracing::info!(subject = %msg.subject, "report (no e-mail channel: logged)");
            }
            Vec::new()
        })
    }

    /// Renders the daily digest and, with `send`, sends it to the e-mail channels; returns
    /// the message and each channel's result. Logs it by default.
    fn digest<'a>(
        &'a self,
        d: &'a Digest,
        send: bool,
    ) -> BoxFuture<'a, (Message, Vec<ChannelResult>)> {
        Box::pin(async move {
            let msg = crate::digest::text::render(d, &Redactor::default());
            if send {
                tracing::info!(subject = %msg.subject, "daily digest (no e-mail channel: logged)");
            }
            (msg, Vec::new())
        })
    }
}

/// Logs each problem (warn / error) and decides nothing else.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSink;

impl AlertSink for LogSink {
    fn observe<'a>(&'a self, run: &'a RunReport) -> BoxFuture<'a, Vec<AlertDecision>> {
        Box::pin(async move {
            run.problems()
                .map(|f| {
                    match f.level {
                        Level::Critical => tracing::error!(incident = %f.incident, check = %f.check, "{}", f.reason),
                        _ => tracing::warn!(incident = %f.incident, check = %f.check, "{}", f.reason),
                    }
                    AlertDecision { incident: f.incident.to_string(), level: f.level, channel: "log".into(), notify: true, reason: "logged".into() }
                })
                .collect()
        })
    }
}
