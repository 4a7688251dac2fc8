//! The watchdog's configuration: the raw `[watchdog]` (and the parts of `[webhook]` and
//! `[limits]` it reads) as written, validated once at start into [`WatchdogConfig`].
//! Every bad key is reported on a line of its own, naming the key and its environment name.

use std::time::Duration;

use secrecy::SecretString;
use telbot_shared::config::{
    self as shared, ConfigError, EnvMap, StoreConfig, StoreSection, TelegramConfig, TelegramSection,
};
use url::Url;

use crate::schedule::Trigger;

mod build;
mod parts;
mod raw;
mod watch;

pub(crate) use watch::{DeployWatchConfig, TlsConfig};

use build::keep;
use raw::{LimitsSection, WatchdogSection, WebhookSection};

/// All problems found in the configuration, one per line when printed.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// What pending updates get in a recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingMode {
    /// Drained and replayed to the bot; nothing is lost.
    Lossless,
    /// Thrown away (only when configured or asked for).
    Drop,
}

/// The webhook as it should be registered.
#[derive(Clone)]
pub struct WebhookTarget {
    /// The URL Telegram must post to: `public_url` + `path`.
    pub expected_url: String,
    /// Where replays go: `bot_url` + `path`.
    pub replay_url: String,
    /// The secret token; never printed.
    pub secret: Option<SecretString>,
    /// `webhook.certificate`: uploaded with every setWebhook.
    pub certificate: Option<telbot_shared::telegram::Certificate>,
    /// `webhook.ip_address`: sent with every setWebhook.
    pub ip_address: Option<String>,
    /// `max_connections` given to setWebhook.
    pub max_connections: u32,
    /// `allowed_updates` given to setWebhook (empty: Telegram's default set).
    pub allowed_updates: Vec<String>,
    /// Other deployments of the bot the webhook may fail over to (`webhook.backup_urls`).
    pub backups: Vec<Backup>,
    /// How long the primary must answer `/health` before the webhook moves back to it.
    pub failback_after: Duration,
}

/// A deployment of the bot the webhook can fail over to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// Its public base URL, as configured.
    pub base: String,
    /// The webhook URL there: `base` + `webhook.path`.
    pub webhook_url: String,
    /// Its health check: `base` + `/health`.
    pub health_url: String,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("expected_url", &self.expected_url)
            .field("replay_url", &self.replay_url)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("backups", &self.backups)
            .finish_non_exhaustive()
    }
}

/// Numbers the checks judge by.
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// Pending updates above this are a problem.
    pub max_pending: u64,
    /// A `last_error_date` younger than this is a current error.
    pub error_window: Duration,
    /// `/health` slower than this is a warning.
    pub response_time_warn: Duration,
    /// Success rate (percent) below this is a warning.
    pub success_rate_warn: f64,
    /// The window the success rate is measured over.
    pub success_window: Duration,
    /// RSS above this makes the bot restart-worthy.
    pub rss_limit_bytes: u64,
    /// `token-conflict` resolves after this long without a foreign delete or conflict.
    pub conflict_quiet: Duration,
    /// The last hour's p95 response time (stored → handled) above this is a warning.
    pub response_p95_warn: Duration,
    /// The last hour's share handled without being parked below this (percent) is a warning.
    pub handled_warn_percent: f64,
    /// RSS at this share (percent) of the limit is a warning (`bot-resources`), before the
    /// restart past the limit.
    pub rss_warn_percent: f64,
}

/// When each run kind fires.
#[derive(Debug, Clone)]
pub struct Schedules {
    /// Telegram + bot liveness.
    pub liveness: Trigger,
    /// Response time, store, success rate.
    pub performance: Trigger,
    /// Everything plus the integration probes.
    pub integration: Trigger,
    /// The recovery drill (`None`: off, the default).
    pub drill: Option<Trigger>,
    /// The daily digest e-mail (`None`: off, the default).
    pub digest: Option<Trigger>,
    /// The weekly report e-mail (`None`: off, the default).
    pub weekly: Option<Trigger>,
    /// SQLite backups (`None`: off, the default).
    pub backup: Option<Trigger>,
}

/// Recovery settings.
#[derive(Debug, Clone)]
pub struct RecoveryConfig {
    /// Lossless or drop.
    pub mode: PendingMode,
    /// getUpdates batches per recovery at most.
    pub max_batches: u32,
    /// Attempts to hand one update to the bot.
    pub replay_attempts: u32,
    /// Chats replayed at once.
    pub replay_concurrency: usize,
    /// Drain deadline; the webhook is set again after it regardless.
    pub max_duration: Duration,
}

/// Cooldown and hourly cap of one action kind.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// No repeat sooner than this.
    pub cooldown: Duration,
    /// At most this many per rolling hour.
    pub max_per_hour: u32,
}

/// Limits per action kind.
#[derive(Debug, Clone, Copy)]
pub struct ActionLimits {
    /// setWebhook repairs.
    pub set_webhook: Limit,
    /// Lossless (or drop) recoveries.
    pub recovery: Limit,
    /// Restarts.
    pub restart: Limit,
}

/// How the bot is restarted, the first configured of these.
#[derive(Clone)]
pub enum RestartMethod {
    /// Render's API.
    Render {
        /// Base URL (injectable for tests).
        api_url: Url,
        /// The API key; never printed.
        api_key: SecretString,
        /// `srv-…`.
        service_id: String,
    },
    /// A deploy-hook URL (holds a key; never printed).
    DeployHook(SecretString),
    /// `sh -c <command>`.
    Command(String),
}

impl std::fmt::Debug for RestartMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl RestartMethod {
    /// `render`, `deploy-hook` or `command`.
    pub fn name(&self) -> &'static str {
        match self {
            RestartMethod::Render { .. } => "render",
            RestartMethod::DeployHook(_) => "deploy-hook",
            RestartMethod::Command(_) => "command",
        }
    }
}

/// The restart action's settings.
#[derive(Debug, Clone)]
pub struct RestartConfig {
    /// `None`: nothing configured, a down bot is escalated instead.
    pub method: Option<RestartMethod>,
    /// Gives up after this long.
    pub timeout: Duration,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct WatchdogConfig {
    /// Bot API client settings.
    pub telegram: TelegramConfig,
    /// Where runs, actions and recovery state are kept.
    pub store: StoreConfig,
    /// The bot's base URL.
    pub bot_url: Url,
    /// `bot_url` reaches the bot through its public front (`BOT_URL` unset, or the same origin
    /// as `PUBLIC_URL`): a failed `/health` may be the front, not the process.
    pub bot_url_is_public: bool,
    /// What the watchdog should always reach (`watchdog.reference_url`): tells its own network
    /// trouble from the bot's and Telegram's.
    pub reference_url: Option<Url>,
    /// How long the integration run waits for its canary update to be processed
    /// (`watchdog.canary_deadline`); `None`: no canary is sent.
    pub canary_deadline: Option<Duration>,
    /// The webhook as it should be.
    pub webhook: WebhookTarget,
    /// What the checks judge by.
    pub thresholds: Thresholds,
    /// A check pass never runs longer.
    pub check_timeout: Duration,
    /// One HTTP call to the bot.
    pub http_timeout: Duration,
    /// When runs fire.
    pub schedules: Schedules,
    /// `/health` attempts per run.
    pub bot_attempts: u32,
    /// Pause between them.
    pub bot_interval: Duration,
    /// Recovery settings.
    pub recovery: RecoveryConfig,
    /// Cooldowns and caps.
    pub limits: ActionLimits,
    /// Restart method.
    pub restart: RestartConfig,
    /// false: a dry run — actions are reported, alerted and recorded, not taken.
    pub act: bool,
    /// The bot's name (`alerts.bot_name`, else `bot.name`): the `bot` label of the metrics.
    pub bot_name: String,
    /// The effective configuration as loaded, secrets left out and named by their variables
    /// ([`telbot_shared::config::export`]), for the weekly report's backup.
    pub backup: String,
    /// The certificate check (`[watchdog.tls]`).
    pub tls: TlsConfig,
    /// The post-deploy verification (`[watchdog.deploy]`).
    pub deploy: DeployWatchConfig,
}

impl WatchdogConfig {
    /// Loads (defaults → file → environment) and validates.
    pub fn load(file: Option<&std::path::Path>, env: &EnvMap) -> Result<Self, ConfigErrors> {
        let cfg = shared::load(file, env).map_err(|e| ConfigErrors(vec![e]))?;
        Self::from_config(&cfg)
    }

    /// Validates a loaded config, collecting every problem.
    pub fn from_config(cfg: &config::Config) -> Result<Self, ConfigErrors> {
        let mut errs = Vec::new();
        let telegram = keep(
            &mut errs,
            shared::section::<TelegramSection>(cfg, "telegram")
                .and_then(TelegramConfig::from_section),
        );
        let store = keep(
            &mut errs,
            shared::section::<StoreSection>(cfg, "store").and_then(StoreConfig::from_section),
        );
        let wd = keep(
            &mut errs,
            shared::section::<WatchdogSection>(cfg, "watchdog"),
        );
        let watch = keep(
            &mut errs,
            shared::section::<watch::WatchSection>(cfg, "watchdog"),
        )
        .and_then(|w| watch::build(w, &mut errs));
        let wh = keep(&mut errs, shared::section::<WebhookSection>(cfg, "webhook"));
        let hook = shared::webhook::WebhookConfig::from_section(cfg, &mut errs);
        let limits = keep(&mut errs, shared::section::<LimitsSection>(cfg, "limits"));
        let built = match (wd, wh, hook, limits) {
            (Some(wd), Some(wh), Some(hook), Some(limits)) => {
                build::build(wd, wh, hook, limits, &mut errs)
            }
            _ => None,
        };
        let named = |k: &str| {
            cfg.get_string(k)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let bot_name = named("alerts.bot_name")
            .or_else(|| named("bot.name"))
            .unwrap_or_else(|| "telbot".into());
        match (built, telegram, store, watch) {
            (Some(b), Some(t), Some(s), Some((tls, deploy))) if errs.is_empty() => {
                let mut c = b.finish(t, s);
                let heading = format!(
                    "telbot configuration of {bot_name}, as watchdog {} loaded it",
                    telbot_shared::VERSION
                );
                c.backup =
                    shared::export::export(cfg, &heading).map_err(|e| ConfigErrors(vec![e]))?;
                c.bot_name = bot_name;
                c.tls = tls;
                c.deploy = deploy;
                Ok(c)
            }
            _ => Err(ConfigErrors(errs)),
        }
    }
}

#[cfg(test)]
mod tests;
