//! The dashboard's "Refresh status" (the ops notes' manual health check trigger), the
//! watchdog's side: the daemon looks for a request in the store every [`POLL`] and runs a
//! full pass for it at once (through the scheduler, so it never overlaps another run); the
//! first full pass that starts after a request — scheduled, requested or `watchdog check` —
//! answers it with its findings ([`telbot_shared::check_request`]).

use std::time::Duration;

use telbot_shared::check_request::{self, Answer, Line};
use tokio_util::sync::CancellationToken;

use crate::context::Ctx;
use crate::report::RunReport;
use crate::schedule::{RunKind, Ticker};

/// How often the daemon looks for a request.
pub(crate) const POLL: Duration = Duration::from_secs(2);
/// How long a pass waits for the store to say whether a request is open.
const ASK_WAIT: Duration = Duration::from_millis(300);

/// Answers the request `report`'s pass was the first full one to start after, if any.
pub(crate) async fn answer(ctx: &Ctx, report: &RunReport, by: &str) {
    let db = ctx.store.db();
    // Asked of every full pass: a store that does not answer must not make the pass longer
    // (its other store work already waits), so the question gets a short time of its own.
    let asked = tokio::time::timeout(ASK_WAIT, check_request::unanswered(db, report.started_at));
    let Ok(Ok(Some(req))) = asked.await else {
        return;
    };
    let mut findings: Vec<Line> = report
        .findings
        .iter()
        .map(|f| Line {
            incident: f.incident.to_string(),
            level: f.level.to_string(),
            reason: ctx.redact(&f.reason),
        })
        .collect();
    // Problems first, the worst on top; then the rest in the pass's order.
    findings.sort_by_key(|l| match l.level.as_str() {
        "critical" => 0,
        "warning" => 1,
        _ => 2,
    });
    let a = Answer {
        id: req.id,
        at: report.started_at,
        level: report.level().to_string(),
        findings,
        by: by.to_string(),
    };
    match check_request::reply(db, &a).await {
        Ok(()) => {
            tracing::info!(level = %report.level(), "answered the dashboard's status request")
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot store the answer to the dashboard's status request")
        }
    }
}

/// Until `stop`: a new request in the store ticks a full pass.
pub(crate) async fn watch(ctx: Ctx, ticker: Ticker, stop: CancellationToken) {
    let mut ticked: Option<String> = None;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        let db = ctx.store.db();
        let Ok(Some(req)) = check_request::unanswered(db, i64::MAX).await else {
            continue;
        };
        if ticked.as_deref() != Some(req.id.as_str()) {
            tracing::info!("the dashboard asked for a status check; running one now");
            ticker.tick(RunKind::Integration);
            ticked = Some(req.id);
        }
    }
}
