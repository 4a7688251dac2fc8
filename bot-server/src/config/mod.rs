//! bot-server's configuration: the layered sources of `telbot_shared::config`, deserialized
//! into one raw section each, each validated by its own module (every problem collected) into
//! [`BotConfig`] before anything starts.

use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use telbot_shared::config::{
    self as shared, ConfigError, EnvMap, StoreConfig, StoreSection, TelegramConfig, TelegramSection,
};

mod dashboard;
mod inbox;
mod limits;
mod server;
mod webhook;

pub use dashboard::DashboardConfig;
pub use inbox::{InboxConfig, PollingConfig};
pub use limits::LimitsConfig;
pub use server::{Mode, ServerConfig};
pub use webhook::WebhookSettings;

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

/// Everything bot-server needs, validated: one struct per section.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// The requested mode after `auto` was resolved.
    pub mode: Mode,
    /// `[server]`: listen address, admin token, shutdown timing, connection limits.
    pub server: ServerConfig,
    /// `[webhook]`: the URL, secret and setWebhook settings, `/webhook/health`'s limits.
    pub webhook: WebhookSettings,
    /// Bot API client settings.
    pub telegram: TelegramConfig,
    /// Store settings.
    pub store: StoreConfig,
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
        let server: Option<server::ServerSection> = keep(e, shared::section(&cfg, "server"));
        let webhook: Option<webhook::WebhookSection> = keep(e, shared::section(&cfg, "webhook"));
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
        let mode = server::resolve_mode(&server.mode, hook.url().is_some(), &mut errs);
        let webhook = WebhookSettings::from_sections(hook, webhook, mode, &mut errs, &mut warnings);
        let server = ServerConfig::from_section(server, webhook.max_body_bytes, &mut errs);
        inbox.check(&telegram, &mut errs);
        polling.check(&mut errs);
        limits.check(&mut errs);
        dashboard.check(&mut errs);
        ConfigError::all(errs)?;
        Ok(BotConfig {
            mode,
            server,
            webhook,
            telegram,
            store,
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
    /// `inbox::handler_worst_case`); a program that calls other services checks
    /// `inbox.handler_timeout` against this plus theirs.
    pub fn handler_worst_case(&self) -> Duration {
        inbox::handler_worst_case(&self.telegram)
    }

    /// Every secret this process knows, for redaction.
    pub fn secrets(&self) -> Vec<SecretString> {
        let mut v = vec![self.telegram.token.clone()];
        v.extend(self.webhook.secret.clone());
        v.extend(self.server.admin_token.clone());
        v.extend(self.program_secrets.iter().cloned());
        v
    }
}

/// `r`'s value, or `None` with its error kept in `errs`.
fn keep<T>(errs: &mut Vec<ConfigError>, r: Result<T, ConfigError>) -> Option<T> {
    r.map_err(|e| errs.push(e)).ok()
}

#[cfg(test)]
mod tests;
