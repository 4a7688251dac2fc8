//! The config sections as written (serde shapes); [`super::build`] validates them.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(crate) struct WatchdogSection {
    pub(crate) act: bool,
    pub(crate) bot_url: String,
    #[serde(with = "humantime_serde")]
    pub(crate) check_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub(crate) http_timeout: Duration,
    #[serde(default)]
    pub(crate) reference_url: String,
    #[serde(with = "humantime_serde")]
    pub(crate) conflict_quiet: Duration,
    #[serde(with = "humantime_serde")]
    pub(crate) canary_deadline: Duration,
    pub(crate) max_pending: u64,
    #[serde(with = "humantime_serde")]
    pub(crate) error_window: Duration,
    #[serde(with = "humantime_serde")]
    pub(crate) response_time_warn: Duration,
    pub(crate) success_rate_warn: f64,
    #[serde(with = "humantime_serde")]
    pub(crate) response_p95_warn: Duration,
    pub(crate) handled_warn_percent: f64,
    pub(crate) rss_warn_percent: f64,
    #[serde(with = "humantime_serde")]
    pub(crate) success_window: Duration,
    pub(crate) rss_limit_mb: u64,
    pub(crate) schedule: ScheduleSection,
    pub(crate) bot: BotSection,
    pub(crate) recovery: RecoverySection,
    pub(crate) actions: ActionsSection,
    pub(crate) restart: RestartSection,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ScheduleSection {
    pub(crate) liveness: String,
    pub(crate) performance: String,
    pub(crate) integration: String,
    pub(crate) drill: String,
    pub(crate) digest: String,
    pub(crate) weekly: String,
    #[serde(default)]
    pub(crate) backup: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct BotSection {
    pub(crate) attempts: u32,
    #[serde(with = "humantime_serde")]
    pub(crate) interval: Duration,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RecoverySection {
    pub(crate) pending: String,
    pub(crate) max_batches: u32,
    pub(crate) replay_attempts: u32,
    pub(crate) replay_concurrency: usize,
    #[serde(with = "humantime_serde")]
    pub(crate) max_duration: Duration,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ActionsSection {
    pub(crate) set_webhook: LimitSection,
    pub(crate) recovery: LimitSection,
    pub(crate) restart: LimitSection,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LimitSection {
    #[serde(with = "humantime_serde")]
    pub(crate) cooldown: Duration,
    pub(crate) max_per_hour: u32,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RestartSection {
    pub(crate) render_api_url: String,
    pub(crate) render_api_key: Option<SecretString>,
    pub(crate) render_service_id: String,
    pub(crate) deploy_hook_url: Option<SecretString>,
    pub(crate) command: String,
    #[serde(with = "humantime_serde")]
    pub(crate) timeout: Duration,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WebhookSection {
    /// Only to tell "not set" from "set but wrong" (WebhookConfig checks it).
    pub(crate) public_url: String,
    #[serde(default)]
    pub(crate) backup_urls: Vec<String>,
    #[serde(with = "humantime_serde")]
    pub(crate) failback_after: Duration,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LimitsSection {
    pub(crate) rss_limit_mb: u64,
}
