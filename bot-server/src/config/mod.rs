//! bot-server's configuration: the layered sources of `telbot_shared::config`, deserialized
//! into raw sections and validated into [`BotConfig`] before anything starts.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use telbot_shared::config::{
    self as shared, ConfigError, EnvMap, StoreConfig, StoreSection, TelegramConfig, TelegramSection,
};
use url::Url;

mod dashboard;

pub(crate) use dashboard::DashboardConfig;

/// How updates reach the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Telegram POSTs to `/webhook`.
    Webhook,
    /// The bot long-polls `getUpdates`.
    Polling,
}

impl Mode {
    /// `webhook` or `polling`, as `/health` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Webhook => "webhook",
            Mode::Polling => "polling",
        }
    }
}

#[derive(Debug, Deserialize)]
struct ServerSection {
    host: String,
    port: u16,
    mode: String,
    admin_token: Option<SecretString>,
    metrics_public: bool,
    #[serde(with = "humantime_serde")]
    grace_period: Duration,
    #[serde(with = "humantime_serde")]
    drain_delay: Duration,
    #[serde(with = "humantime_serde")]
    header_timeout: Duration,
    #[serde(with = "humantime_serde")]
    body_timeout: Duration,
    max_connections: usize,
    max_untrusted_connections: usize,
    max_connections_per_ip: usize,
    body_budget_bytes: usize,
}

#[derive(Debug, Deserialize)]
struct WebhookSection {
    set_attempts: u32,
    #[serde(with = "humantime_serde")]
    restore_interval: Duration,
    max_body_bytes: usize,
    max_pending: u64,
    #[serde(with = "humantime_serde")]
    error_window: Duration,
    #[serde(with = "humantime_serde")]
    health_cache: Duration,
    reply_in_answer: bool,
    #[serde(with = "humantime_serde")]
    reply_wait: Duration,
}

/// `[inbox]`: the worker pool and the durable queue.
#[derive(Debug, Clone, Deserialize)]
pub struct InboxConfig {
    /// Handlers running at once.
    pub workers: usize,
    /// Permanent handler failures before parking.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt.
    #[serde(with = "humantime_serde")]
    pub retry_delay: Duration,
    /// Longest delay between two attempts (transient failures retry until Telegram's 24 h).
    #[serde(with = "humantime_serde")]
    pub retry_max_delay: Duration,
    /// Longest one handler run may take; must exceed the Bot API client's worst case.
    #[serde(with = "humantime_serde")]
    pub handler_timeout: Duration,
    /// Updates per transaction at most.
    pub batch_max: usize,
    /// Updates in memory at most.
    pub max_loaded: usize,
    /// Updates of one queue key (chat) in memory at most; the rest wait on disk.
    pub max_loaded_per_key: usize,
    /// How long done updates are kept for dedup.
    #[serde(with = "humantime_serde")]
    pub keep_done: Duration,
    /// PostgreSQL: how long an instance's claim on an update lasts unless extended (it is
    /// extended every third of it while the handler runs); a killed instance's claims are
    /// taken over after it.
    #[serde(with = "humantime_serde")]
    pub claim_lease: Duration,
    /// A store holding another bot's inbox: refused, or a fresh inbox (`inbox.new_bot`).
    #[serde(default)]
    pub new_bot: crate::bot_identity::NewBot,
}

/// `[polling]`.
#[derive(Debug, Clone, Deserialize)]
pub struct PollingConfig {
    /// Long-poll timeout.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Updates per call.
    pub limit: u32,
}

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

/// `[bot]`: what the core uses of it (a program reads its own keys, e.g. the reference bot's
/// `bot.admin_chat_ids`, from the same sources with `telbot_shared::config::section`).
#[derive(Debug, Clone, Deserialize)]
pub struct BotSection {
    /// Display name (alerts, the dashboard, the `Me` used when getMe fails at start).
    pub name: String,
    /// Time to live of a teloxide dialogue (`TelbotStorage`): forgotten this long after its
    /// last step.
    #[serde(with = "humantime_serde")]
    pub pending_ttl: Duration,
    /// How often expired dialogues are swept.
    #[serde(with = "humantime_serde")]
    pub sweep_interval: Duration,
}

/// Everything bot-server needs, validated.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// Listen address (port 0 in tests).
    pub listen: SocketAddr,
    /// The requested mode after `auto` was resolved.
    pub mode: Mode,
    /// Bot API client settings.
    pub telegram: TelegramConfig,
    /// Store settings.
    pub store: StoreConfig,
    /// `public_url + path`, when a public URL is set.
    pub webhook_url: Option<Url>,
    /// Route the webhook is served on.
    pub webhook_path: String,
    /// Required `X-Telegram-Bot-Api-Secret-Token`.
    pub webhook_secret: Option<SecretString>,
    /// No `WEBHOOK_SECRET` in webhook mode on a public URL: the secret is generated and kept
    /// in the store at start ([`telbot_shared::webhook_secret`]), then set here.
    pub generate_secret: bool,
    /// `webhook.certificate`: uploaded with every setWebhook.
    pub webhook_certificate: Option<telbot_shared::telegram::Certificate>,
    /// `webhook.ip_address`: sent with every setWebhook.
    pub webhook_ip_address: Option<String>,
    /// setWebhook's max_connections.
    pub max_connections: u32,
    /// setWebhook's allowed_updates.
    pub allowed_updates: Vec<String>,
    /// setWebhook attempts before falling back to polling.
    pub set_attempts: u32,
    /// How often the webhook is retried while polling as a fallback.
    pub restore_interval: Duration,
    /// Largest webhook body.
    pub max_body_bytes: usize,
    /// `/webhook/health` pending limit.
    pub max_pending: u64,
    /// `/webhook/health` recent-error window.
    pub error_window: Duration,
    /// `/webhook/health` cache age.
    pub health_cache: Duration,
    /// Answer Telegram's POST with the handler's only Bot API call (stored with the update
    /// first), instead of sending it; see `inbox::reply`.
    pub reply_in_answer: bool,
    /// With `reply_in_answer`: how long the webhook answer waits for the handler.
    pub reply_wait: Duration,
    /// Admin token; `None` refuses admin routes.
    pub admin_token: Option<SecretString>,
    /// `/metrics` without auth.
    pub metrics_public: bool,
    /// Shutdown grace period.
    pub grace_period: Duration,
    /// After a shutdown signal, `/ready` answers 503 for this long while requests are still
    /// served (load balancers and Kubernetes stop routing here), then the drain starts.
    pub drain_delay: Duration,
    /// Header read timeout.
    pub header_timeout: Duration,
    /// Time for a whole webhook body.
    pub body_timeout: Duration,
    /// Open connections at most.
    pub max_open_connections: usize,
    /// Connections without a webhook request with the secret yet, at most.
    pub max_untrusted_connections: usize,
    /// Untrusted connections per client address (0: no cap).
    pub max_connections_per_ip: usize,
    /// Bytes of webhook bodies in memory at once.
    pub body_budget_bytes: usize,
    /// Worker pool and queue.
    pub inbox: InboxConfig,
    /// Long polling.
    pub polling: PollingConfig,
    /// Self-protection.
    pub limits: LimitsConfig,
    /// The bot's name and its dialogues' time to live.
    pub bot: BotSection,
    /// The live dashboard.
    pub dashboard: DashboardConfig,
    /// Secrets of the program (e.g. an API key it reads from its own section), masked with the
    /// core's own; see `DispatcherBuilder::redact`.
    pub program_secrets: Vec<SecretString>,
    /// Where the data directory is (disk usage is reported for it).
    pub data_dir: std::path::PathBuf,
    /// Warnings to log once logging is up (e.g. a non-https public URL).
    pub warnings: Vec<String>,
}

impl BotConfig {
    /// The settings from the process's environment (and the `TELBOT_CONFIG` file), as the
    /// bot-server binary reads them.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::load(None, &telbot_shared::config::process_env())
    }

    /// [`BotConfig::from_env`] for a program's `main` (teloxide's `Bot::from_env()`): a bad
    /// setting is printed, naming the key, and the process exits with code 78 (EX_CONFIG).
    pub fn from_env_or_exit() -> Self {
        match Self::from_env() {
            Ok(cfg) => cfg,
            Err(e) => {
                eprintln!("bot-server: {e}");
                std::process::exit(crate::EXIT_CONFIG);
            }
        }
    }

    /// Loads every layer and validates. `file` is `--config`. Every bad key is reported at
    /// once ([`ConfigError::Several`] when there are several), each with its variable.
    pub fn load(file: Option<&Path>, env: &EnvMap) -> Result<Self, ConfigError> {
        let cfg = shared::load(file, env)?;
        let mut errs = Vec::new();
        let e = &mut errs;
        let server: Option<ServerSection> = keep(e, shared::section(&cfg, "server"));
        let webhook: Option<WebhookSection> = keep(e, shared::section(&cfg, "webhook"));
        // `[webhook]`'s keys the watchdog reads too: validated once (shared).
        let hook = shared::webhook::WebhookConfig::from_section(&cfg, e);
        let telegram = keep(
            e,
            shared::section::<TelegramSection>(&cfg, "telegram")
                .and_then(TelegramConfig::from_section),
        );
        let store_section: Option<StoreSection> = keep(e, shared::section(&cfg, "store"));
        let data_dir = store_section.as_ref().map(|s| s.data_dir.clone());
        let store = store_section.and_then(|s| keep(e, StoreConfig::from_section(s)));
        let inbox: Option<InboxConfig> = keep(e, shared::section(&cfg, "inbox"));
        let polling: Option<PollingConfig> = keep(e, shared::section(&cfg, "polling"));
        let limits: Option<LimitsConfig> = keep(e, shared::section(&cfg, "limits"));
        let bot: Option<BotSection> = keep(e, shared::section(&cfg, "bot"));
        let dashboard: Option<DashboardConfig> = keep(e, shared::section(&cfg, "dashboard"));
        let (
            Some(server),
            Some(webhook),
            Some(hook),
            Some(telegram),
            Some(store),
            Some(data_dir),
            Some(inbox),
            Some(polling),
            Some(limits),
            Some(bot),
            Some(dashboard),
        ) = (
            server, webhook, hook, telegram, store, data_dir, inbox, polling, limits, bot,
            dashboard,
        )
        else {
            // A section that could not be read leaves nothing to check further: what was found.
            return Err(match ConfigError::all(errs) {
                Err(e) => e,
                Ok(()) => ConfigError::invalid("config", "a section could not be read"),
            });
        };
        let mut warnings = Vec::new();

        let host: IpAddr = server.host.parse().unwrap_or_else(|_| {
            errs.push(ConfigError::invalid(
                "server.host",
                format!("is not an IP address: {:?}", server.host),
            ));
            IpAddr::from([0, 0, 0, 0])
        });
        let webhook_path = hook.path.clone();
        let webhook_url = hook.url();
        if let Some(base) = &hook.public_url {
            let loopback = base
                .host_str()
                .is_some_and(|h| h == "127.0.0.1" || h == "localhost" || h == "[::1]");
            if base.scheme() != "https" && !loopback {
                warnings.push(format!(
                    "PUBLIC_URL is not https:// ({}); Telegram only delivers to https webhooks",
                    base.as_str()
                ));
            }
        }
        let mode = match server.mode.to_ascii_lowercase().as_str() {
            "webhook" => {
                if webhook_url.is_none() {
                    errs.push(ConfigError::invalid(
                        "webhook.public_url",
                        "is required when BOT_MODE=webhook (set PUBLIC_URL)",
                    ));
                }
                Mode::Webhook
            }
            "polling" => Mode::Polling,
            "auto" => {
                if webhook_url.is_some() {
                    Mode::Webhook
                } else {
                    Mode::Polling
                }
            }
            other => {
                errs.push(ConfigError::invalid(
                    "server.mode",
                    format!("must be webhook, polling or auto, got {other:?}"),
                ));
                Mode::Polling
            }
        };
        let webhook_secret = hook.secret.clone();
        let mut generate_secret = false;
        if webhook_secret.is_none() && mode == Mode::Webhook {
            let loopback = webhook_url.as_ref().is_some_and(|u| {
                u.host_str()
                    .is_some_and(|h| h == "127.0.0.1" || h == "localhost" || h == "[::1]")
            });
            if loopback {
                warnings.push(
                    "WEBHOOK_SECRET is not set: anyone who can reach the (loopback) URL can post updates"
                        .into(),
                );
            } else {
                // On the public internet anyone who guesses PUBLIC_URL/webhook could post forged
                // updates (text to any chat, update_ids that make real ones look like
                // duplicates, replies coming back to them in reply mode): never without a
                // secret. One is generated and kept in the store at start.
                generate_secret = true;
                warnings.push(
                    "WEBHOOK_SECRET is not set: a secret is generated and kept in the store (the watchdog, on the same store, reads it there); set WEBHOOK_SECRET to choose your own".into(),
                );
            }
        }
        if webhook.set_attempts == 0 {
            errs.push(ConfigError::invalid(
                "webhook.set_attempts",
                "must be at least 1",
            ));
        }
        if webhook.max_body_bytes < 1024 {
            errs.push(ConfigError::invalid(
                "webhook.max_body_bytes",
                "must be at least 1024",
            ));
        }
        check_server_limits(&server, webhook.max_body_bytes, &mut errs);
        if inbox.workers == 0
            || inbox.max_attempts == 0
            || inbox.batch_max == 0
            || inbox.max_loaded == 0
        {
            errs.push(ConfigError::invalid(
                "inbox.workers",
                "inbox.workers, max_attempts, batch_max and max_loaded must be at least 1",
            ));
        }
        if inbox.max_loaded_per_key == 0 || inbox.max_loaded_per_key > inbox.max_loaded {
            errs.push(ConfigError::invalid(
                "inbox.max_loaded_per_key",
                "must be at least 1 and at most inbox.max_loaded",
            ));
        }
        if inbox.claim_lease < Duration::from_secs(3) {
            errs.push(ConfigError::invalid(
                "inbox.claim_lease",
                "must be at least 3s (claims are extended every third of it)",
            ));
        }
        // Telegram redelivers an unconfirmed update for up to 24 h: a done update pruned sooner
        // would be run again when it comes back.
        if inbox.keep_done < Duration::from_secs(25 * 3600) {
            errs.push(ConfigError::invalid(
                "inbox.keep_done",
                "must be at least 25h (Telegram redelivers an update for up to 24 h; a done update pruned sooner is handled twice)",
            ));
        }
        if inbox.retry_max_delay < inbox.retry_delay {
            errs.push(ConfigError::invalid(
                "inbox.retry_max_delay",
                "must be at least inbox.retry_delay",
            ));
        }
        let worst = handler_worst_case(&telegram);
        if inbox.handler_timeout <= worst {
            errs.push(ConfigError::invalid(
                "inbox.handler_timeout",
                format!(
                    "must be longer than one Bot API call's worst case ({} s: \
                     telegram.max_attempts x request_timeout and the waits between them up to \
                     max(max_retry_after, backoff_max)), or a handler that already sent could \
                     be cancelled and run again",
                    worst.as_secs()
                ),
            ));
        }
        // Telegram waits 60 s for an answer, then closes the connection and redelivers.
        if webhook.reply_wait.is_zero() || webhook.reply_wait > Duration::from_secs(50) {
            errs.push(ConfigError::invalid(
                "webhook.reply_wait",
                "must be more than 0 and at most 50s (Telegram waits 60 s for an answer)",
            ));
        }
        if !(1..=100).contains(&polling.limit) {
            errs.push(ConfigError::invalid("polling.limit", "must be 1-100"));
        }
        if polling.timeout > Duration::from_secs(50) {
            errs.push(ConfigError::invalid(
                "polling.timeout",
                "must be at most 50s (Telegram's maximum)",
            ));
        }
        if limits.rss_limit_mb == 0 {
            errs.push(ConfigError::invalid(
                "limits.rss_limit_mb",
                "must be more than 0",
            ));
        }
        for (key, v) in [
            ("limits.memory_warn_percent", limits.memory_warn_percent),
            (
                "limits.memory_critical_percent",
                limits.memory_critical_percent,
            ),
            ("limits.cpu_warn_percent", limits.cpu_warn_percent),
            ("limits.disk_warn_percent", limits.disk_warn_percent),
            ("limits.disk_critical_percent", limits.disk_critical_percent),
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
                limits.memory_warn_percent,
                limits.memory_critical_percent,
                "limits.memory_critical_percent",
            ),
            (
                limits.disk_warn_percent,
                limits.disk_critical_percent,
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
        if limits.sample_interval < Duration::from_millis(200) {
            errs.push(ConfigError::invalid(
                "limits.sample_interval",
                "must be at least 200ms",
            ));
        }
        if let Err(e) = dashboard::check(&dashboard) {
            errs.push(e);
        }
        let admin_token = shared::non_empty_secret(server.admin_token);
        if admin_token
            .as_ref()
            .is_some_and(|t| t.expose_secret().len() < 8)
        {
            errs.push(ConfigError::invalid(
                "server.admin_token",
                "must be at least 8 characters",
            ));
        }
        ConfigError::all(errs)?;
        Ok(BotConfig {
            listen: SocketAddr::new(host, server.port),
            mode,
            telegram,
            store,
            webhook_url,
            webhook_path,
            webhook_secret,
            generate_secret,
            webhook_certificate: hook.certificate,
            webhook_ip_address: hook.ip_address,
            max_connections: hook.max_connections,
            allowed_updates: hook.allowed_updates,
            set_attempts: webhook.set_attempts,
            restore_interval: webhook.restore_interval,
            max_body_bytes: webhook.max_body_bytes,
            max_pending: webhook.max_pending,
            error_window: webhook.error_window,
            health_cache: webhook.health_cache,
            reply_in_answer: webhook.reply_in_answer,
            reply_wait: webhook.reply_wait,
            admin_token,
            metrics_public: server.metrics_public,
            grace_period: server.grace_period,
            drain_delay: server.drain_delay,
            header_timeout: server.header_timeout,
            body_timeout: server.body_timeout,
            max_open_connections: server.max_connections,
            max_untrusted_connections: server.max_untrusted_connections,
            max_connections_per_ip: server.max_connections_per_ip,
            body_budget_bytes: server.body_budget_bytes,
            inbox,
            polling,
            limits,
            bot,
            dashboard,
            program_secrets: Vec::new(),
            data_dir,
            warnings,
        })
    }

    /// The longest one Bot API call of a handler may legitimately take (see
    /// [`handler_worst_case`]); a program that calls other services checks
    /// `inbox.handler_timeout` against this plus theirs.
    pub fn handler_worst_case(&self) -> Duration {
        handler_worst_case(&self.telegram)
    }

    /// Every secret this process knows, for redaction.
    pub fn secrets(&self) -> Vec<SecretString> {
        let mut v = vec![self.telegram.token.clone()];
        v.extend(self.webhook_secret.clone());
        v.extend(self.admin_token.clone());
        v.extend(self.program_secrets.iter().cloned());
        v
    }
}

/// One Bot API call at its worst: every attempt runs to its timeout, with the longest wait the
/// client accepts between attempts (a 429's retry_after up to `max_retry_after`, or the back-off
/// cap). A handler deadline shorter than this cancels handlers that are only waiting out a 429,
/// possibly after they already sent.
fn handler_worst_case(t: &TelegramConfig) -> Duration {
    let attempts = t.max_attempts.max(1);
    let wait = t.max_retry_after.max(t.backoff_max);
    t.request_timeout.saturating_mul(attempts) + wait.saturating_mul(attempts - 1)
}

fn check_server_limits(s: &ServerSection, max_body_bytes: usize, errs: &mut Vec<ConfigError>) {
    if s.max_connections == 0 || s.max_untrusted_connections == 0 {
        errs.push(ConfigError::invalid(
            "server.max_connections",
            "server.max_connections and max_untrusted_connections must be at least 1",
        ));
    }
    if s.max_untrusted_connections > s.max_connections {
        errs.push(ConfigError::invalid(
            "server.max_untrusted_connections",
            "must be at most server.max_connections",
        ));
    }
    if s.body_budget_bytes < max_body_bytes || s.body_budget_bytes > u32::MAX as usize {
        errs.push(ConfigError::invalid(
            "server.body_budget_bytes",
            "must be at least webhook.max_body_bytes and below 4 GiB",
        ));
    }
    if s.body_timeout.is_zero() {
        errs.push(ConfigError::invalid(
            "server.body_timeout",
            "must be more than 0",
        ));
    }
}

/// `r`'s value, or `None` with its error kept in `errs`.
fn keep<T>(errs: &mut Vec<ConfigError>, r: Result<T, ConfigError>) -> Option<T> {
    r.map_err(|e| errs.push(e)).ok()
}

#[cfg(test)]
mod tests;
