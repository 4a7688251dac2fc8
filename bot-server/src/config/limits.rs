//! `[limits]`: the self-protection levels (RSS, memory, CPU, disk) and how often they are
//! sampled, with their bounds.

use std::time::Duration;

use serde::Deserialize;
use telbot_shared::config::ConfigError;

/// `[limits]`: self-protection.
#[derive(Debug, Clone, Deserialize)]
pub struct LimitsConfig {
    /// RSS past which the process exits (code 3) to be restarted.
    pub rss_limit_mb: u64,
    /// System memory warning level.
    pub memory_warn_percent: f32,
    /// System memory critical level.
    pub memory_critical_percent: f32,
    /// This process's CPU (percent of the machine) warning level.
    pub cpu_warn_percent: f32,
    /// Data-disk use warning level.
    pub disk_warn_percent: f32,
    /// Data-disk use critical level.
    pub disk_critical_percent: f32,
    /// Sampling period.
    #[serde(with = "humantime_serde")]
    pub sample_interval: Duration,
    /// How often one log line gives the resource figures (`0s`: never).
    #[serde(with = "humantime_serde")]
    pub resource_log_interval: Duration,
}

impl LimitsConfig {
    /// Percentages in (0, 100], each critical level at least its warning level, a sampling
    /// period of at least 200 ms; each problem goes to `errs`.
    pub(super) fn check(&self, errs: &mut Vec<ConfigError>) {
        if self.rss_limit_mb == 0 {
            errs.push(ConfigError::invalid(
                "limits.rss_limit_mb",
                "must be more than 0",
            ));
        }
        for (key, v) in [
            ("limits.memory_warn_percent", self.memory_warn_percent),
            (
                "limits.memory_critical_percent",
                self.memory_critical_percent,
            ),
            ("limits.cpu_warn_percent", self.cpu_warn_percent),
            ("limits.disk_warn_percent", self.disk_warn_percent),
            ("limits.disk_critical_percent", self.disk_critical_percent),
        ] {
            if !(v > 0.0 && v <= 100.0) {
                errs.push(ConfigError::invalid(
                    key,
                    format!("must be a percentage above 0 and at most 100, not {v}"),
                ));
            }
        }
        for (warn, crit, key) in [
            (
                self.memory_warn_percent,
                self.memory_critical_percent,
                "limits.memory_critical_percent",
            ),
            (
                self.disk_warn_percent,
                self.disk_critical_percent,
                "limits.disk_critical_percent",
            ),
        ] {
            if crit < warn {
                errs.push(ConfigError::invalid(
                    key,
                    format!("must be at least the warning level ({warn})"),
                ));
            }
        }
        if self.sample_interval < Duration::from_millis(200) {
            errs.push(ConfigError::invalid(
                "limits.sample_interval",
                "must be at least 200ms",
            ));
        }
    }
}
