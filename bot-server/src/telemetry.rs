//! Prometheus metrics: one recorder per process (tests start many apps in one process, so
//! it is installed once and shared), the gauges refreshed on each scrape, and the standard
//! `process_*` metrics client libraries export (CPU seconds, memory, fds, start time).

use std::fmt::Write;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::monitor::Figures;
use crate::state::AppState;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder handle, installing the recorder on first use.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            // Fine below 5 ms: an ack on a local disk takes 0.3-2 ms, and the 2 ms line
            // (BENCHMARKS.md, target 1) must fall on a bucket edge.
            let buckets = [
                0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05,
                0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            telbot_shared::metrics_upkeep::start(&handle);
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::debug!("a metrics recorder was already installed");
            }
            describe();
            // Counters exist from the start (at 0), so rate() and alerts see them before the
            // first event.
            for name in [
                "telbot_updates_received_total",
                "telbot_updates_duplicate_total",
                "telbot_updates_processed_total",
                "telbot_updates_parked_total",
                "telbot_updates_unknown_total",
                "telbot_handler_failures_total",
            ] {
                metrics::counter!(name).increment(0);
            }
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        "telbot_replies_in_answer_total",
        "Handler replies answered in the webhook's 200 (webhook.reply_in_answer)."
    );
    metrics::describe_counter!(
        "telbot_updates_received_total",
        "Updates stored in the inbox (duplicates not counted)."
    );
    metrics::describe_counter!(
        "telbot_updates_duplicate_total",
        "Redeliveries recognised by update_id."
    );
    metrics::describe_counter!(
        "telbot_updates_processed_total",
        "Updates handled or skipped."
    );
    metrics::describe_counter!(
        "telbot_updates_parked_total",
        "Updates parked: their handler failed for a permanent reason (or past Telegram's 24 h)."
    );
    metrics::describe_counter!(
        "telbot_inbox_commit_failures_total",
        "Inbox batch commits that failed or timed out (their requests were answered 503)."
    );
    metrics::describe_counter!(
        "telbot_updates_unknown_total",
        "Updates of a kind this build cannot parse."
    );
    metrics::describe_counter!("telbot_handler_failures_total", "Failed handler attempts.");
    metrics::describe_counter!(
        "telbot_webhook_requests_total",
        "Webhook requests by answer status."
    );
    metrics::describe_counter!(
        "telbot_connections_evicted_total",
        "Idle untrusted connections closed to admit a new one (server.max_untrusted_connections, max_connections_per_ip)."
    );
    metrics::describe_counter!(
        "telbot_connections_refused_total",
        "New connections closed at once because every slot had a request in flight."
    );
    metrics::describe_histogram!(
        "telbot_webhook_ack_seconds",
        metrics::Unit::Seconds,
        "Time from request to 200 (stored)."
    );
    metrics::describe_histogram!(
        "telbot_inbox_commit_seconds",
        metrics::Unit::Seconds,
        "Time one inbox batch commit took, the disk's flush included (failed commits too)."
    );
    metrics::describe_histogram!(
        "telbot_update_processing_seconds",
        metrics::Unit::Seconds,
        "Time to handle an update."
    );
    telbot_shared::telegram::describe_metrics();
    metrics::describe_gauge!("telbot_inbox_depth", "Updates stored and not yet handled.");
    metrics::describe_gauge!(
        "telbot_pending_actions",
        "Open multi-step conversations (teloxide dialogues in the store)."
    );
    metrics::describe_gauge!(
        "telbot_process_resident_memory_bytes",
        metrics::Unit::Bytes,
        "Resident set size."
    );
    metrics::describe_gauge!(
        "telbot_process_cpu_percent",
        "CPU use of the process, percent of the machine."
    );
    metrics::describe_gauge!(
        "telbot_system_memory_percent",
        "Used system memory, percent."
    );
    metrics::describe_gauge!(
        "telbot_system_disk_percent",
        "Used space on the data disk, percent."
    );
    metrics::describe_gauge!(
        "telbot_process_resident_memory_limit_bytes",
        metrics::Unit::Bytes,
        "RSS past which the bot exits (code 3) to be restarted."
    );
    metrics::describe_gauge!("telbot_up", "1 while the store takes updates.");
    metrics::describe_gauge!(
        "telbot_mode_polling",
        "1 while the bot polls instead of receiving webhooks."
    );
}

/// Sets the gauges from the live state.
pub(crate) async fn refresh_gauges(app: &AppState) {
    metrics::gauge!("telbot_inbox_depth").set(app.counters.depth.load(Ordering::Relaxed) as f64);
    metrics::gauge!("telbot_pending_actions")
        .set(app.open_dialogues.load(Ordering::Relaxed) as f64);
    metrics::gauge!("telbot_up").set(if app.store_up.load(Ordering::Relaxed) {
        1.0
    } else {
        0.0
    });
    metrics::gauge!("telbot_process_resident_memory_limit_bytes")
        .set((app.cfg.limits.rss_limit_mb * 1024 * 1024) as f64);
    let polling = app.mode.get() == crate::config::Mode::Polling;
    metrics::gauge!("telbot_mode_polling").set(if polling { 1.0 } else { 0.0 });
}

/// Prometheus' standard process metrics, as exposition text appended to the recorder's
/// (floats, which the `metrics` crate's integer counters cannot carry). Read from the
/// monitor's figures, sampled in the background: the request path samples nothing itself.
pub(crate) fn process_text(f: &Figures) -> String {
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
    let mut lines = vec![
        (
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            get(&f.cpu_time_ms) / 1000.0,
        ),
        (
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            get(&f.rss_bytes),
        ),
        (
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            get(&f.virtual_bytes),
        ),
        (
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            get(&f.start_time),
        ),
        (
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            get(&f.open_fds),
        ),
    ];
    if f.max_fds.load(Ordering::Relaxed) > 0 {
        lines.push((
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            get(&f.max_fds),
        ));
    }
    let mut out = String::new();
    for (name, kind, help, value) in lines {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n"
        );
    }
    out
}
