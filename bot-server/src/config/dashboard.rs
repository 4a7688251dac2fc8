//! `[dashboard]`: the live page's refresh and charts, and the admin session and failed-login
//! throttle settings ([`crate::auth`]), with their bounds.

use std::time::Duration;

use serde::Deserialize;
use telbot_shared::config::ConfigError;

/// `[dashboard]`: the live page at `/bot/dashboard`.
#[derive(Debug, Clone, Deserialize)]
pub struct DashboardConfig {
    /// How often the open page fetches fresh figures.
    #[serde(with = "humantime_serde")]
    pub refresh: Duration,
    /// How often a point is added to the one-hour charts.
    #[serde(with = "humantime_serde")]
    pub history_interval: Duration,
    /// How long a session cookie from a `?token=` login is valid (then log in again).
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Wrong admin tokens one client may send within `login_window` before it gets 429.
    pub login_max_failures: u32,
    /// The window those failures are counted in, and how long a throttled client waits.
    #[serde(with = "humantime_serde")]
    pub login_window: Duration,
    /// Clients whose failures are remembered at most (bounded memory; oldest evicted).
    pub login_clients: usize,
    /// 0: a client is its peer address. N: the N-th `X-Forwarded-For` entry from the right
    /// (1 = the one the proxy in front appended), for a trusted proxy that appends it.
    pub forwarded_for_hops: usize,
}

impl DashboardConfig {
    /// Every `[dashboard]` key within its bounds; each one that is not goes to `errs`.
    pub(super) fn check(&self, errs: &mut Vec<ConfigError>) {
        let d = self;
        if d.refresh < Duration::from_millis(500) {
            errs.push(ConfigError::invalid(
                "dashboard.refresh",
                "must be at least 500ms",
            ));
        }
        if d.history_interval < Duration::from_millis(100) {
            errs.push(ConfigError::invalid(
                "dashboard.history_interval",
                "must be at least 100ms",
            ));
        }
        if d.session_ttl < Duration::from_secs(60)
            || d.session_ttl > Duration::from_secs(30 * 86_400)
        {
            errs.push(ConfigError::invalid(
                "dashboard.session_ttl",
                "must be between 1m and 30d",
            ));
        }
        if d.login_max_failures == 0 {
            errs.push(ConfigError::invalid(
                "dashboard.login_max_failures",
                "must be at least 1",
            ));
        }
        if d.login_window < Duration::from_secs(1) || d.login_window > Duration::from_secs(86_400) {
            errs.push(ConfigError::invalid(
                "dashboard.login_window",
                "must be between 1s and 24h",
            ));
        }
        if !(1..=1_000_000).contains(&d.login_clients) {
            errs.push(ConfigError::invalid(
                "dashboard.login_clients",
                "must be between 1 and 1000000",
            ));
        }
        if d.forwarded_for_hops > 16 {
            errs.push(ConfigError::invalid(
                "dashboard.forwarded_for_hops",
                "must be at most 16",
            ));
        }
    }
}
