//! The watchdog's configuration: the raw `[watchdog]` (and the parts of `[webhook]` and
//! `[limits]` it reads) as written, validated once at start into [`WatchdogConfig`].
//! Every bad key is reported on a line of its own, naming the key and its environment name.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use telbot_shared::config::{
    self as shared, ConfigError, EnvMap, StoreConfig, StoreSection, TelegramConfig,
    TelegramSection, non_empty_secret, parse_http_url,
};
use url::Url;

use crate::schedule::Trigger;

/// All problems found in the configuration, one per line when printed.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors(pub Vec<ConfigError>);

#[derive(Debug, Deserialize)]
struct WatchdogSection {
    bot_url: String,
    #[serde(with = "humantime_serde")]
    check_timeout: Duration,
    #[serde(with = "humantime_serde")]
    http_timeout: Duration,
    max_pending: u64,
    #[serde(with = "humantime_serde")]
    error_window: Duration,
    #[serde(with = "humantime_serde")]
    response_time_warn: Duration,
    success_rate_warn: f64,
    #[serde(with = "humantime_serde")]
    success_window: Duration,
    rss_limit_mb: u64,
    schedule: ScheduleSection,
    bot: BotSection,
    recovery: RecoverySection,
    actions: ActionsSection,
    restart: RestartSection,
}

#[derive(Debug, Deserialize)]
struct ScheduleSection {
    liveness: String,
    performance: String,
    integration: String,
}

#[derive(Debug, Deserialize)]
struct BotSection {
    attempts: u32,
    #[serde(with = "humantime_serde")]
    interval: Duration,
}

#[derive(Debug, Deserialize)]
struct RecoverySection {
    pending: String,
    max_batches: u32,
    replay_attempts: u32,
    replay_concurrency: usize,
    #[serde(with = "humantime_serde")]
    max_duration: Duration,
}

#[derive(Debug, Deserialize)]
struct ActionsSection {
    set_webhook: LimitSection,
    recovery: LimitSection,
    restart: LimitSection,
}

#[derive(Debug, Deserialize)]
struct LimitSection {
    #[serde(with = "humantime_serde")]
    cooldown: Duration,
    max_per_hour: u32,
}

#[derive(Debug, Deserialize)]
struct RestartSection {
    render_api_url: String,
    render_api_key: Option<SecretString>,
    render_service_id: String,
    deploy_hook_url: Option<SecretString>,
    command: String,
    #[serde(with = "humantime_serde")]
    timeout: Duration,
}

#[derive(Debug, Deserialize)]
struct WebhookSection {
    public_url: String,
    path: String,
    secret: Option<SecretString>,
    max_connections: u32,
    allowed_updates: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct LimitsSection {
    rss_limit_mb: u64,
}

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
    /// `max_connections` given to setWebhook.
    pub max_connections: u32,
    /// `allowed_updates` given to setWebhook (empty: Telegram's default set).
    pub allowed_updates: Vec<String>,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("expected_url", &self.expected_url)
            .field("replay_url", &self.replay_url)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
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
        let wh = keep(&mut errs, shared::section::<WebhookSection>(cfg, "webhook"));
        let limits = keep(&mut errs, shared::section::<LimitsSection>(cfg, "limits"));
        let built = match (wd, wh, limits) {
            (Some(wd), Some(wh), Some(limits)) => build(wd, wh, limits, &mut errs),
            _ => None,
        };
        match (built, telegram, store) {
            (Some(b), Some(t), Some(s)) if errs.is_empty() => Ok(b.finish(t, s)),
            _ => Err(ConfigErrors(errs)),
        }
    }
}

struct Partial(Box<dyn FnOnce(TelegramConfig, StoreConfig) -> WatchdogConfig>);

impl Partial {
    fn finish(self, t: TelegramConfig, s: StoreConfig) -> WatchdogConfig {
        (self.0)(t, s)
    }
}

fn build(
    wd: WatchdogSection,
    wh: WebhookSection,
    limits: LimitsSection,
    errs: &mut Vec<ConfigError>,
) -> Option<Partial> {
    let public = if wh.public_url.trim().is_empty() {
        keep(
            errs,
            Err(ConfigError::invalid(
                "webhook.public_url",
                "is required: the watchdog compares the webhook to PUBLIC_URL + webhook.path",
            )),
        )
    } else {
        keep(errs, parse_http_url(&wh.public_url, "webhook.public_url"))
    };
    let bot_raw = if wd.bot_url.trim().is_empty() {
        wh.public_url.clone()
    } else {
        wd.bot_url.clone()
    };
    let bot_url = if bot_raw.trim().is_empty() {
        keep(
            errs,
            Err(ConfigError::invalid(
                "watchdog.bot_url",
                "is required (BOT_URL, or PUBLIC_URL as its default)",
            )),
        )
    } else {
        keep(errs, parse_http_url(&bot_raw, "watchdog.bot_url"))
    };
    if !wh.path.starts_with('/') {
        keep(
            errs,
            Err::<(), ConfigError>(ConfigError::invalid(
                "webhook.path",
                format!("must start with '/', got {:?}", wh.path),
            )),
        );
    }
    let secret = non_empty_secret(wh.secret);
    if let Some(s) = &secret {
        let v = s.expose_secret();
        if v.len() > 256
            || !v
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            keep(
                errs,
                Err::<(), ConfigError>(ConfigError::invalid(
                    "webhook.secret",
                    "must be 1-256 of A-Z a-z 0-9 _ -",
                )),
            );
        }
    }
    if !(1..=100).contains(&wh.max_connections) {
        keep(
            errs,
            Err::<(), ConfigError>(ConfigError::invalid(
                "webhook.max_connections",
                "must be 1-100",
            )),
        );
    }
    let positive = |d: Duration, key: &str| {
        if d.is_zero() {
            Err(ConfigError::invalid(key, "must be more than 0"))
        } else {
            Ok(d)
        }
    };
    keep(errs, positive(wd.check_timeout, "watchdog.check_timeout"));
    keep(errs, positive(wd.http_timeout, "watchdog.http_timeout"));
    keep(
        errs,
        positive(wd.restart.timeout, "watchdog.restart.timeout"),
    );
    keep(
        errs,
        positive(wd.recovery.max_duration, "watchdog.recovery.max_duration"),
    );
    if !(0.0..=100.0).contains(&wd.success_rate_warn) {
        keep(
            errs,
            Err::<(), ConfigError>(ConfigError::invalid(
                "watchdog.success_rate_warn",
                "must be a percent, 0-100",
            )),
        );
    }
    if wd.bot.attempts == 0 {
        keep(
            errs,
            Err::<(), ConfigError>(ConfigError::invalid(
                "watchdog.bot.attempts",
                "must be at least 1",
            )),
        );
    }
    for (v, key) in [
        (wd.recovery.max_batches, "watchdog.recovery.max_batches"),
        (
            wd.recovery.replay_attempts,
            "watchdog.recovery.replay_attempts",
        ),
        (
            wd.recovery.replay_concurrency as u32,
            "watchdog.recovery.replay_concurrency",
        ),
    ] {
        if v == 0 {
            keep(
                errs,
                Err::<(), ConfigError>(ConfigError::invalid(key, "must be at least 1")),
            );
        }
    }
    let mode = match wd.recovery.pending.to_ascii_lowercase().as_str() {
        "lossless" => Some(PendingMode::Lossless),
        "drop" => Some(PendingMode::Drop),
        other => keep(
            errs,
            Err(ConfigError::invalid(
                "watchdog.recovery.pending",
                format!("must be \"lossless\" or \"drop\", got {other:?}"),
            )),
        ),
    };
    let liveness = keep(
        errs,
        Trigger::cron(&wd.schedule.liveness, "watchdog.schedule.liveness"),
    );
    let performance = keep(
        errs,
        Trigger::cron(&wd.schedule.performance, "watchdog.schedule.performance"),
    );
    let integration = keep(
        errs,
        Trigger::cron(&wd.schedule.integration, "watchdog.schedule.integration"),
    );
    let method = restart_method(
        wd.restart.render_api_url.as_str(),
        wd.restart.render_api_key,
        &wd.restart.render_service_id,
        wd.restart.deploy_hook_url,
        &wd.restart.command,
        errs,
    );
    let limit = |l: LimitSection| Limit {
        cooldown: l.cooldown,
        max_per_hour: l.max_per_hour,
    };
    let action_limits = ActionLimits {
        set_webhook: limit(wd.actions.set_webhook),
        recovery: limit(wd.actions.recovery),
        restart: limit(wd.actions.restart),
    };
    let rss_mb = if wd.rss_limit_mb == 0 {
        limits.rss_limit_mb
    } else {
        wd.rss_limit_mb
    };
    let (public, bot_url, mode, liveness, performance, integration, method) = (
        public?,
        bot_url?,
        mode?,
        liveness?,
        performance?,
        integration?,
        method?,
    );
    let path = wh.path.clone();
    let webhook = WebhookTarget {
        expected_url: format!("{}{}", public.as_str().trim_end_matches('/'), path),
        replay_url: format!("{}{}", bot_url.as_str().trim_end_matches('/'), path),
        secret,
        max_connections: wh.max_connections,
        allowed_updates: wh.allowed_updates,
    };
    let thresholds = Thresholds {
        max_pending: wd.max_pending,
        error_window: wd.error_window,
        response_time_warn: wd.response_time_warn,
        success_rate_warn: wd.success_rate_warn,
        success_window: wd.success_window,
        rss_limit_bytes: rss_mb.saturating_mul(1024 * 1024),
    };
    let recovery = RecoveryConfig {
        mode,
        max_batches: wd.recovery.max_batches,
        replay_attempts: wd.recovery.replay_attempts,
        replay_concurrency: wd.recovery.replay_concurrency,
        max_duration: wd.recovery.max_duration,
    };
    let (check_timeout, http_timeout, bot_attempts, bot_interval) = (
        wd.check_timeout,
        wd.http_timeout,
        wd.bot.attempts,
        wd.bot.interval,
    );
    let restart = RestartConfig {
        method,
        timeout: wd.restart.timeout,
    };
    Some(Partial(Box::new(move |telegram, store| WatchdogConfig {
        telegram,
        store,
        bot_url,
        webhook,
        thresholds,
        check_timeout,
        http_timeout,
        schedules: Schedules {
            liveness,
            performance,
            integration,
        },
        bot_attempts,
        bot_interval,
        recovery,
        limits: action_limits,
        restart,
    })))
}

/// Keeps a value, or records its error.
fn keep<T>(errs: &mut Vec<ConfigError>, r: Result<T, ConfigError>) -> Option<T> {
    r.map_err(|e| errs.push(e)).ok()
}

fn restart_method(
    api_url: &str,
    key: Option<SecretString>,
    service_id: &str,
    hook: Option<SecretString>,
    command: &str,
    errs: &mut Vec<ConfigError>,
) -> Option<Option<RestartMethod>> {
    let key = non_empty_secret(key);
    let service_id = service_id.trim();
    match (key, service_id.is_empty()) {
        (Some(api_key), false) => {
            let api_url = match parse_http_url(api_url, "watchdog.restart.render_api_url") {
                Ok(u) => u,
                Err(e) => {
                    errs.push(e);
                    return None;
                }
            };
            return Some(Some(RestartMethod::Render {
                api_url,
                api_key,
                service_id: service_id.to_string(),
            }));
        }
        (Some(_), true) => {
            errs.push(ConfigError::invalid(
                "watchdog.restart.render_service_id",
                "is required when RENDER_API_KEY is set",
            ));
            return None;
        }
        (None, false) => {
            errs.push(ConfigError::invalid(
                "watchdog.restart.render_api_key",
                "is required when RENDER_SERVICE_ID is set",
            ));
            return None;
        }
        (None, true) => {}
    }
    if let Some(hook) = non_empty_secret(hook) {
        if let Err(e) = parse_http_url(hook.expose_secret(), "watchdog.restart.deploy_hook_url") {
            // The URL holds a key: name the key, not the value.
            let _ = e;
            errs.push(ConfigError::invalid(
                "watchdog.restart.deploy_hook_url",
                "is not an http(s) URL",
            ));
            return None;
        }
        return Some(Some(RestartMethod::DeployHook(hook)));
    }
    if !command.trim().is_empty() {
        return Some(Some(RestartMethod::Command(command.trim().to_string())));
    }
    Some(None)
}
