//! The watchdog's own Prometheus metrics, served on `watchdog.metrics_listen` when set:
//! `telbot_watchdog_runs_total{run,level}`, `telbot_watchdog_checks_total{check}`,
//! `telbot_watchdog_findings_total{level}`, `telbot_watchdog_actions_total{kind,result}`,
//! `telbot_watchdog_alerts_total{channel,result}`.

use std::net::SocketAddr;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

use crate::report::RunReport;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder once per process and returns its handle.
pub fn handle() -> PrometheusHandle {
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
            h
        })
        .clone()
}

/// Counts one run's checks, findings and actions.
pub fn record_run(report: &RunReport) {
    let level = report.level().to_string();
    metrics::counter!("telbot_watchdog_runs_total", "run" => report.run.clone(), "level" => level)
        .increment(1);
    let mut checks: Vec<&str> = report.findings.iter().map(|f| f.check.as_str()).collect();
    checks.sort_unstable();
    checks.dedup();
    for c in checks {
        metrics::counter!("telbot_watchdog_checks_total", "check" => c.to_string()).increment(1);
    }
    for f in &report.findings {
        metrics::counter!("telbot_watchdog_findings_total", "level" => f.level.to_string())
            .increment(1);
    }
    for a in &report.actions {
        metrics::counter!("telbot_watchdog_actions_total", "kind" => a.kind.as_str(), "result" => a.result.as_str())
            .increment(1);
    }
}

/// Counts alert deliveries of one outbox flush.
pub fn record_alerts(sent: u64, failed: u64) {
    metrics::counter!("telbot_watchdog_alerts_total", "channel" => "all", "result" => "sent")
        .increment(sent);
    metrics::counter!("telbot_watchdog_alerts_total", "channel" => "all", "result" => "failed")
        .increment(failed);
}

/// Serves `GET /metrics` on `addr` until `stop`.
pub async fn serve(addr: SocketAddr, stop: CancellationToken) -> std::io::Result<()> {
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
