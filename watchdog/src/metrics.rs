//! The watchdog's own Prometheus metrics, served on `watchdog.metrics_listen` when set, every
//! series labelled `bot` (`alerts.bot_name`; a `[[bots]]` entry's name):
//! `telbot_watchdog_runs_total{run,level}`, `telbot_watchdog_checks_total{check}`,
//! `telbot_watchdog_findings_total{level}`, `telbot_watchdog_actions_total{kind,result}`,
//! `telbot_watchdog_alerts_total{channel,result}`; and Telegram's view of the bot: `telbot_watchdog_telegram_pending_updates`,
//! `telbot_watchdog_telegram_last_error_age_seconds`, `telbot_watchdog_webhook_url_ok` (1/0),
//! `telbot_watchdog_last_recovery{result}` (1 on the latest result, 0 on the others: a
//! bounded set, never error text) and `telbot_watchdog_last_recovery_timestamp_seconds`.

use std::net::SocketAddr;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

use crate::report::{ActionKind, ActionResult, Level, RunReport, incident};

/// Every value of `telbot_watchdog_last_recovery`'s `result` label.
pub(crate) const RECOVERY_RESULTS: &[ActionResult] = &[
    ActionResult::Succeeded,
    ActionResult::Failed,
    ActionResult::SkippedCooldown,
    ActionResult::SkippedCap,
    ActionResult::NotConfigured,
    ActionResult::SkippedFollower,
    ActionResult::DryRun,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder once per process and returns its handle.
pub(crate) fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let h = recorder.handle();
            telbot_shared::metrics_upkeep::start(&h);
            let _ = metrics::set_global_recorder(recorder);
            telbot_shared::telegram::describe_metrics();
            metrics::describe_counter!(
                "telbot_watchdog_runs_total",
                "Watchdog runs by schedule and resulting level."
            );
            metrics::describe_counter!("telbot_watchdog_checks_total", "Checks run, by check.");
            metrics::describe_counter!("telbot_watchdog_findings_total", "Findings by level.");
            metrics::describe_counter!(
                "telbot_watchdog_actions_total",
                "Repair actions by kind and result."
            );
            metrics::describe_counter!(
                "telbot_watchdog_alerts_total",
                "Alert messages by channel and result."
            );
            metrics::describe_gauge!(
                "telbot_watchdog_telegram_pending_updates",
                "pending_update_count from getWebhookInfo at the latest check."
            );
            metrics::describe_gauge!(
                "telbot_watchdog_telegram_last_error_age_seconds",
                "Seconds since Telegram's last_error_date (its latest failed delivery to the webhook)."
            );
            metrics::describe_gauge!(
                "telbot_watchdog_webhook_url_ok",
                "1 when the webhook URL is the expected one (or was just set again), else 0."
            );
            metrics::describe_gauge!(
                "telbot_watchdog_last_recovery",
                "1 on the result of the latest recovery (lossless or drop), 0 on the other results."
            );
            metrics::describe_gauge!(
                "telbot_watchdog_last_recovery_timestamp_seconds",
                "When the latest recovery ran (unix seconds)."
            );
            h
        })
        .clone()
}

/// Counts one run's checks, findings and actions, and sets Telegram's view of `bot`.
pub(crate) fn record_run(report: &RunReport, bot: &str) {
    record_telegram_view(report, bot);
    let level = report.level().to_string();
    let b = bot.to_string();
    metrics::counter!("telbot_watchdog_runs_total", "bot" => b.clone(), "run" => report.run.clone(), "level" => level)
        .increment(1);
    let mut checks: Vec<&str> = report.findings.iter().map(|f| f.check.as_str()).collect();
    checks.sort_unstable();
    checks.dedup();
    for c in checks {
        metrics::counter!("telbot_watchdog_checks_total", "bot" => b.clone(), "check" => c.to_string())
            .increment(1);
    }
    for f in &report.findings {
        metrics::counter!("telbot_watchdog_findings_total", "bot" => b.clone(), "level" => f.level.to_string())
            .increment(1);
    }
    for a in &report.actions {
        metrics::counter!("telbot_watchdog_actions_total", "bot" => b.clone(), "kind" => a.kind.as_str(), "result" => a.result.as_str())
            .increment(1);
    }
}

/// Sets the per-bot gauges from a run's findings and recovery actions.
fn record_telegram_view(report: &RunReport, bot: &str) {
    let b = bot.to_string();
    for f in &report.findings {
        let num = |k: &str| f.evidence.get(k).and_then(serde_json::Value::as_f64);
        match f.incident {
            incident::WEBHOOK_WRONG_URL => {
                let ok = f.level == Level::Ok || f.repaired;
                metrics::gauge!("telbot_watchdog_webhook_url_ok", "bot" => b.clone()).set(if ok {
                    1.0
                } else {
                    0.0
                });
                if let Some(p) = num("pending_update_count") {
                    metrics::gauge!("telbot_watchdog_telegram_pending_updates", "bot" => b.clone())
                        .set(p);
                }
            }
            incident::WEBHOOK_STUCK => {
                if let Some(p) = num("pending_update_count") {
                    metrics::gauge!("telbot_watchdog_telegram_pending_updates", "bot" => b.clone())
                        .set(p);
                }
                if let Some(a) = num("last_error_age_s") {
                    metrics::gauge!("telbot_watchdog_telegram_last_error_age_seconds", "bot" => b.clone())
                        .set(a);
                }
            }
            _ => {}
        }
    }
    let last = report.actions.iter().rev().find(|a| {
        matches!(
            a.kind,
            ActionKind::LosslessRecovery | ActionKind::DropPending
        )
    });
    if let Some(a) = last {
        for r in RECOVERY_RESULTS {
            let v = if *r == a.result { 1.0 } else { 0.0 };
            metrics::gauge!("telbot_watchdog_last_recovery", "bot" => b.clone(), "result" => r.as_str())
                .set(v);
        }
        metrics::gauge!("telbot_watchdog_last_recovery_timestamp_seconds", "bot" => b.clone())
            .set(report.finished_at as f64);
    }
}

/// Counts alert deliveries of one outbox flush for `bot`.
pub(crate) fn record_alerts(sent: u64, failed: u64, bot: &str) {
    let b = bot.to_string();
    metrics::counter!("telbot_watchdog_alerts_total", "bot" => b.clone(), "channel" => "all", "result" => "sent")
        .increment(sent);
    metrics::counter!("telbot_watchdog_alerts_total", "bot" => b, "channel" => "all", "result" => "failed")
        .increment(failed);
}

/// Serves `GET /metrics` on `addr` until `stop`.
pub(crate) async fn serve(addr: SocketAddr, stop: CancellationToken) -> std::io::Result<()> {
    let h = handle();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let h = h.clone();
            async move {
                (
                    [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                    h.render(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "watchdog metrics listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ActionReport, Finding};

    fn run(findings: Vec<Finding>, actions: Vec<ActionReport>) -> RunReport {
        RunReport {
            run: "liveness".into(),
            started_at: 100,
            finished_at: 160,
            findings,
            actions,
        }
    }

    /// The value of the series starting with `series` in `text`.
    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse().ok())
    }

    /// Issue 16, part 7: Telegram's view per bot, with bounded labels.
    #[test]
    fn telegram_view_per_bot() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let h = recorder.handle();
        let stuck = Finding::new(
            "telegram",
            incident::WEBHOOK_STUCK,
            Level::Critical,
            "stuck",
        )
        .with_evidence(serde_json::json!({
            "pending_update_count": 12, "last_error_age_s": 40,
            "last_error_message": "Wrong response from the webhook: 500 Internal Server Error"
        }));
        let url = Finding::ok("telegram", incident::WEBHOOK_WRONG_URL, "ok");
        let failed = ActionReport {
            kind: ActionKind::LosslessRecovery,
            incident: incident::WEBHOOK_STUCK,
            reason: "stuck".into(),
            result: ActionResult::Failed,
            detail: telbot_shared::action::ActionDetail::error("setWebhook refused: some text"),
        };
        metrics::with_local_recorder(&recorder, || {
            record_run(&run(vec![url, stuck], vec![failed]), "shopbot");
            let wrong = Finding::new(
                "telegram",
                incident::WEBHOOK_WRONG_URL,
                Level::Critical,
                "x",
            )
            .with_evidence(serde_json::json!({ "pending_update_count": 3 }));
            record_run(&run(vec![wrong], vec![]), "otherbot");
        });
        let text = h.render();
        let cases = [
            (
                r#"telbot_watchdog_telegram_pending_updates{bot="shopbot"}"#,
                12.0,
            ),
            (
                r#"telbot_watchdog_telegram_last_error_age_seconds{bot="shopbot"}"#,
                40.0,
            ),
            (r#"telbot_watchdog_webhook_url_ok{bot="shopbot"}"#, 1.0),
            (
                r#"telbot_watchdog_last_recovery{bot="shopbot",result="failed"}"#,
                1.0,
            ),
            (
                r#"telbot_watchdog_last_recovery{bot="shopbot",result="succeeded"}"#,
                0.0,
            ),
            (
                r#"telbot_watchdog_last_recovery_timestamp_seconds{bot="shopbot"}"#,
                160.0,
            ),
            (r#"telbot_watchdog_webhook_url_ok{bot="otherbot"}"#, 0.0),
            (
                r#"telbot_watchdog_telegram_pending_updates{bot="otherbot"}"#,
                3.0,
            ),
        ];
        for (series, want) in cases {
            assert_eq!(value(&text, series), Some(want), "{series} in\n{text}");
        }
        assert!(
            !text.contains("Wrong response") && !text.contains("refused"),
            "{text}"
        );
        let results = text
            .lines()
            .filter(|l| l.starts_with("telbot_watchdog_last_recovery{"))
            .count();
        assert_eq!(results, RECOVERY_RESULTS.len(), "{text}");
    }
}
