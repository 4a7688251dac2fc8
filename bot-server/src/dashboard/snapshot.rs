//! The value the dashboard shows: one [`Snapshot`] (Telegram's view of the webhook, the
//! figures, the watchdog's tables, the charts), built by [`super::data::collect`], redacted by
//! [`super::clean`], rendered by [`super::page`] and served as JSON.

use std::collections::BTreeMap;

use serde::Serialize;

use super::chart::Chart;
use super::level::Level;
use super::watchdog::WatchdogView;

/// Telegram's view of the webhook.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct WebhookView {
    /// The URL Telegram delivers to (empty: none set).
    pub url: String,
    /// The URL this bot registers.
    pub expected_url: String,
    /// Updates Telegram holds (None: Telegram did not answer).
    pub pending: Option<u64>,
    /// Telegram's last delivery error.
    pub last_error: Option<String>,
    /// How long ago that error was, seconds.
    pub last_error_ago_s: Option<i64>,
    /// Whether `/webhook/health` would say healthy.
    pub healthy: bool,
    /// What is wrong, in words.
    pub problems: Vec<String>,
}

/// Figures.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Figures {
    /// Webhook calls answered 200 per minute (last minute).
    pub webhook_requests_per_min: f64,
    /// Ack latency p50, ms.
    pub ack_p50_ms: Option<f64>,
    /// Ack latency p99, ms.
    pub ack_p99_ms: Option<f64>,
    /// Handled / (handled + failed attempts) over the charted hour (or since start), percent.
    pub success_percent: Option<f64>,
    /// Updates stored (not duplicates).
    pub received: u64,
    /// Updates handled.
    pub processed: u64,
    /// Updates stored and not yet handled.
    pub inbox_depth: u64,
    /// Open multi-step actions.
    pub pending_actions: u64,
    /// Bot API calls (every attempt).
    pub telegram_requests: u64,
    /// Latency of the newest Bot API call, ms.
    pub telegram_latency_ms: f64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// RSS past which the process exits, bytes.
    pub rss_limit_bytes: u64,
    /// CPU of the process, percent of the machine.
    pub cpu_percent: f32,
    /// System memory used, percent.
    pub memory_percent: f32,
    /// Data disk used, percent.
    pub disk_percent: f32,
    /// The last hour as users felt it (`/health`'s `hour`).
    pub hour: telbot_shared::health::HourFigures,
    /// The periodic jobs (`/health`'s `jobs`).
    pub jobs: BTreeMap<String, telbot_shared::health::JobStatus>,
}

/// Everything the page shows.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Snapshot {
    /// Unix seconds.
    pub generated_at: i64,
    /// Bot name from config.
    pub bot_name: String,
    /// Build version.
    pub version: String,
    /// Seconds since start.
    pub uptime_s: u64,
    /// The light.
    pub level: Level,
    /// Why it is not green.
    pub reasons: Vec<String>,
    /// Live mode: webhook or polling.
    pub mode: String,
    /// Telegram's view of the webhook.
    pub webhook: WebhookView,
    /// Figures.
    pub figures: Figures,
    /// Error counts by kind.
    pub errors: BTreeMap<&'static str, u64>,
    /// The watchdog's recent actions and alerts.
    pub watchdog: WatchdogView,
    /// The one-hour charts.
    pub charts: Vec<Chart>,
    /// Table cells: `actions` and `alerts`.
    pub tables: BTreeMap<&'static str, Vec<Vec<String>>>,
    /// Display text per `data-k` key of the page.
    pub display: BTreeMap<&'static str, String>,
}
