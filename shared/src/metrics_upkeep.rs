//! Upkeep for a process's Prometheus recorder.
//!
//! Both daemons build their recorder with `PrometheusBuilder::build_recorder`, which (unlike
//! `install`) starts no upkeep task: every histogram observation is then kept in memory until
//! the next scrape of `/metrics` drains it. Without a scraper — most deployments — that is a
//! leak of a few bytes per update and per Bot API call, for the life of the process (about
//! 1 MiB a minute at 300 updates/s). [`start`] drains it on a fixed interval instead.

use std::sync::Once;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;

/// How often the recorder is drained.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(1);

static STARTED: Once = Once::new();

/// Starts the upkeep of `handle`, once per process (later calls do nothing). The recorder is
/// process-wide and outlives any one tokio runtime (tests start many), so the upkeep is a
/// small thread of its own that sleeps between runs; `run_upkeep` itself only swaps buffers.
pub fn start(handle: &PrometheusHandle) {
    STARTED.call_once(|| {
        let handle = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    handle.run_upkeep();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the metrics upkeep; histograms are kept until /metrics is scraped");
        }
    });
}
