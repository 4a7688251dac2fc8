//! `[server]`: the listen address, the admin token, shutdown timing and the connection
//! limits that protect the process, with their bounds; and the mode (`BOT_MODE`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use telbot_shared::config::{self as shared, ConfigError};

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

/// `[server]` as the file and environment give it.
#[derive(Debug, Deserialize)]
pub(super) struct ServerSection {
    host: String,
    port: u16,
    pub(super) mode: String,
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

/// `[server]`, validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listen address (port 0 in tests).
    pub listen: SocketAddr,
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
}

impl ServerConfig {
    /// Checks `s` (the body budget against `webhook.max_body_bytes`); every problem goes to
    /// `errs`.
    pub(super) fn from_section(
        s: ServerSection,
        max_body_bytes: usize,
        errs: &mut Vec<ConfigError>,
    ) -> Self {
        let host: IpAddr = s.host.parse().unwrap_or_else(|_| {
            errs.push(ConfigError::invalid(
                "server.host",
                format!("is not an IP address: {:?}", s.host),
            ));
            IpAddr::from([0, 0, 0, 0])
        });
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
        let admin_token = shared::non_empty_secret(s.admin_token);
        if admin_token
            .as_ref()
            .is_some_and(|t| t.expose_secret().len() < 8)
        {
            errs.push(ConfigError::invalid(
                "server.admin_token",
                "must be at least 8 characters",
            ));
        }
        ServerConfig {
            listen: SocketAddr::new(host, s.port),
            admin_token,
            metrics_public: s.metrics_public,
            grace_period: s.grace_period,
            drain_delay: s.drain_delay,
            header_timeout: s.header_timeout,
            body_timeout: s.body_timeout,
            max_open_connections: s.max_connections,
            max_untrusted_connections: s.max_untrusted_connections,
            max_connections_per_ip: s.max_connections_per_ip,
            body_budget_bytes: s.body_budget_bytes,
        }
    }
}

/// `server.mode` resolved: `auto` follows whether a webhook URL is set; `webhook` needs one.
pub(super) fn resolve_mode(mode: &str, has_url: bool, errs: &mut Vec<ConfigError>) -> Mode {
    match mode.to_ascii_lowercase().as_str() {
        "webhook" => {
            if !has_url {
                errs.push(ConfigError::invalid(
                    "webhook.public_url",
                    "is required when BOT_MODE=webhook (set PUBLIC_URL)",
                ));
            }
            Mode::Webhook
        }
        "polling" => Mode::Polling,
        "auto" if has_url => Mode::Webhook,
        "auto" => Mode::Polling,
        other => {
            errs.push(ConfigError::invalid(
                "server.mode",
                format!("must be webhook, polling or auto, got {other:?}"),
            ));
            Mode::Polling
        }
    }
}
