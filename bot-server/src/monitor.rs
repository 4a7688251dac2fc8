//! Process and system figures, sampled in the background (never in the request path), and
//! the guards: warnings at the configured memory, CPU and disk levels (logged on crossing,
//! listed in `/health`'s `system.warnings`), a periodic resource line in the log
//! (`limits.resource_log_interval`), and past the RSS limit a critical log line and a
//! graceful exit with [`crate::EXIT_MEMORY_LIMIT`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use sysinfo::{Disks, MemoryRefreshKind, ProcessRefreshKind, ProcessesToUpdate, System};
use tokio_util::sync::CancellationToken;

use crate::config::LimitsConfig;

/// The latest figures. Floats are stored as bits in atomics.
#[derive(Debug, Default)]
pub(crate) struct Figures {
    /// Resident set size, bytes.
    pub rss_bytes: AtomicU64,
    cpu_bits: AtomicU32,
    mem_bits: AtomicU32,
    disk_bits: AtomicU32,
    /// Set once the RSS limit was passed.
    pub over_limit: AtomicBool,
    /// CPU time used by this process (user + system), milliseconds.
    pub cpu_time_ms: AtomicU64,
    /// Virtual memory size, bytes.
    pub virtual_bytes: AtomicU64,
    /// Process start, unix seconds (0 until the first sample).
    pub start_time: AtomicU64,
    /// Open file descriptors.
    pub open_fds: AtomicU64,
    /// The limit on open file descriptors (0: unknown).
    pub max_fds: AtomicU64,
    /// The figures past their warning levels now ([`warnings`]).
    pub warnings: std::sync::Mutex<Vec<String>>,
}

impl Figures {
    /// CPU of this process, percent of the machine.
    pub(crate) fn cpu_percent(&self) -> f32 {
        f32::from_bits(self.cpu_bits.load(Ordering::Relaxed))
    }
    /// Used system memory, percent.
    pub(crate) fn memory_percent(&self) -> f32 {
        f32::from_bits(self.mem_bits.load(Ordering::Relaxed))
    }
    /// Used space on the data disk, percent.
    pub(crate) fn disk_percent(&self) -> f32 {
        f32::from_bits(self.disk_bits.load(Ordering::Relaxed))
    }
    /// The figures past their warning levels now.
    pub(crate) fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

/// The figures past their levels in `cfg`, for a person, the critical ones first named so.
pub(crate) fn warnings(cfg: &LimitsConfig, memory: f32, cpu: f32, disk: f32) -> Vec<String> {
    let mut out = Vec::new();
    let mut judge = |what: &str, v: f32, warn: f32, crit: Option<f32>| match crit {
        Some(c) if v >= c => out.push(format!("{what} {v:.0} % (critical at {c:.0} %)")),
        _ if v >= warn => out.push(format!("{what} {v:.0} % (warning at {warn:.0} %)")),
        _ => {}
    };
    judge(
        "system memory",
        memory,
        cfg.memory_warn_percent,
        Some(cfg.memory_critical_percent),
    );
    judge("bot-server CPU", cpu, cfg.cpu_warn_percent, None);
    judge(
        "data disk",
        disk,
        cfg.disk_warn_percent,
        Some(cfg.disk_critical_percent),
    );
    out
}

struct Sampler {
    sys: System,
    disks: Disks,
    pid: sysinfo::Pid,
    data_dir: PathBuf,
}

impl Sampler {
    fn sample(&mut self, f: &Figures) {
        self.sys
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        self.sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.pid]),
            true,
            ProcessRefreshKind::nothing().with_memory().with_cpu(),
        );
        if let Some(p) = self.sys.process(self.pid) {
            f.rss_bytes.store(p.memory(), Ordering::Relaxed);
            f.cpu_time_ms
                .store(p.accumulated_cpu_time(), Ordering::Relaxed);
            f.virtual_bytes.store(p.virtual_memory(), Ordering::Relaxed);
            f.start_time.store(p.start_time(), Ordering::Relaxed);
            f.max_fds.store(
                p.open_files_limit().map_or(0, |n| n as u64),
                Ordering::Relaxed,
            );
            if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
                f.open_fds.store(fds.count() as u64, Ordering::Relaxed);
            }
            let cores = self.sys.cpus().len().max(1) as f32;
            f.cpu_bits
                .store((p.cpu_usage() / cores).to_bits(), Ordering::Relaxed);
        }
        let total = self.sys.total_memory().max(1) as f64;
        let mem = (100.0 * self.sys.used_memory() as f64 / total) as f32;
        f.mem_bits.store(mem.to_bits(), Ordering::Relaxed);
        self.disks.refresh(true);
        let dir = std::fs::canonicalize(&self.data_dir).unwrap_or_else(|_| self.data_dir.clone());
        let disk = self
            .disks
            .iter()
            .filter(|d| dir.starts_with(d.mount_point()))
            .max_by_key(|d| d.mount_point().as_os_str().len())
            .map(|d| 100.0 * (1.0 - d.available_space() as f64 / d.total_space().max(1) as f64))
            .unwrap_or(0.0) as f32;
        f.disk_bits.store(disk.to_bits(), Ordering::Relaxed);
    }
}

/// Samples every `cfg.sample_interval` until `stop`; past the RSS limit it sets `over_limit`
/// and cancels `shutdown`.
pub(crate) async fn run(
    cfg: LimitsConfig,
    data_dir: PathBuf,
    figures: Arc<Figures>,
    shutdown: CancellationToken,
) {
    let pid = match sysinfo::get_current_pid() {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read this process's id; memory guard off");
            return;
        }
    };
    let (sys, disks) = match (System::new(), Disks::new_with_refreshed_list()) {
        (Ok(s), Ok(d)) => (s, d),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "cannot read system figures; memory guard off");
            return;
        }
    };
    let sampler = Sampler {
        sys,
        disks,
        pid,
        data_dir,
    };
    let sampler = Arc::new(std::sync::Mutex::new(sampler));
    let limit = cfg.rss_limit_mb.saturating_mul(1024 * 1024);
    let mut said: Vec<String> = Vec::new();
    let mut last_line: Option<tokio::time::Instant> = None;
    let mut tick = tokio::time::interval(cfg.sample_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let (s, f) = (sampler.clone(), figures.clone());
        let sampled = tokio::task::spawn_blocking(move || {
            if let Ok(mut s) = s.lock() {
                s.sample(&f);
            }
        })
        .await;
        if sampled.is_err() {
            continue;
        }
        let rss = figures.rss_bytes.load(Ordering::Relaxed);
        metrics::gauge!("telbot_process_resident_memory_bytes").set(rss as f64);
        metrics::gauge!("telbot_process_cpu_percent").set(f64::from(figures.cpu_percent()));
        metrics::gauge!("telbot_system_memory_percent").set(f64::from(figures.memory_percent()));
        metrics::gauge!("telbot_system_disk_percent").set(f64::from(figures.disk_percent()));
        let (mem, cpu, disk) = (
            figures.memory_percent(),
            figures.cpu_percent(),
            figures.disk_percent(),
        );
        let now = warnings(&cfg, mem, cpu, disk);
        // Logged when a figure crosses a level (not every sample); `/health` and the
        // dashboard show them while they last.
        for w in now.iter().filter(|w| !said.contains(*w)) {
            tracing::warn!(
                memory_percent = mem,
                cpu_percent = cpu,
                disk_percent = disk,
                "resource warning: {w}"
            );
        }
        if now.is_empty() && !said.is_empty() {
            tracing::info!(
                memory_percent = mem,
                cpu_percent = cpu,
                disk_percent = disk,
                "resources back under their warning levels"
            );
        }
        if let Ok(mut w) = figures.warnings.lock() {
            w.clone_from(&now);
        }
        said = now;
        if !cfg.resource_log_interval.is_zero()
            && last_line
                .is_none_or(|t: tokio::time::Instant| t.elapsed() >= cfg.resource_log_interval)
        {
            last_line = Some(tokio::time::Instant::now());
            tracing::info!(
                rss_mb = rss >> 20,
                rss_limit_mb = cfg.rss_limit_mb,
                cpu_percent = format!("{cpu:.1}"),
                memory_percent = format!("{mem:.1}"),
                disk_percent = format!("{disk:.1}"),
                open_fds = figures.open_fds.load(Ordering::Relaxed),
                "resources"
            );
        }
        if rss > limit {
            figures.over_limit.store(true, Ordering::Release);
            tracing::error!(
                rss_bytes = rss,
                limit_bytes = limit,
                "CRITICAL: resident memory above the limit; shutting down gracefully so the platform restarts the bot"
            );
            shutdown.cancel();
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LimitsConfig {
        LimitsConfig {
            rss_limit_mb: 500,
            memory_warn_percent: 80.0,
            memory_critical_percent: 90.0,
            cpu_warn_percent: 90.0,
            disk_warn_percent: 80.0,
            disk_critical_percent: 90.0,
            sample_interval: std::time::Duration::from_secs(5),
            resource_log_interval: std::time::Duration::from_secs(300),
        }
    }

    #[test]
    fn each_figure_past_its_level_is_named_with_the_level() {
        let cfg = limits();
        assert!(warnings(&cfg, 79.0, 89.0, 79.0).is_empty());
        assert_eq!(
            warnings(&cfg, 85.0, 95.0, 92.0),
            vec![
                "system memory 85 % (warning at 80 %)",
                "bot-server CPU 95 % (warning at 90 %)",
                "data disk 92 % (critical at 90 %)",
            ]
        );
        assert_eq!(
            warnings(&cfg, 90.0, 0.0, 0.0),
            vec!["system memory 90 % (critical at 90 %)"]
        );
    }
}
