//! The `[alerts]` section: parsed as written ([`AlertsSection`]), then validated into
//! [`AlertsConfig`] with one [`ConfigError`] naming the key for the first problem found.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use telbot_shared::config::{ConfigError, EnvMap, non_empty_secret, parse_http_url, section};
use url::Url;

use crate::notify::email::SmtpSettings;
use crate::notify::sms::TwilioSettings;

mod section;

pub use section::{ALERT_ENV, AlertsSection, MaintenanceSection, StringList};

/// A validated maintenance window (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    /// First second covered.
    pub start: i64,
    /// First second no longer covered.
    pub end: i64,
    /// Keys covered; empty: all.
    pub incidents: Vec<String>,
    /// Why (logged).
    pub reason: String,
}

/// Validated alert settings. Secrets stay [`SecretString`]; `Debug` never shows them.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    /// Shown in every subject: `[CRITICAL] <bot_name>: …`.
    pub bot_name: String,
    /// The dashboard link put in every message (`<public_url>/bot/dashboard`); may be absent.
    pub dashboard_url: Option<Url>,
    /// SMTP delivery; `None` when `smtp_url` is empty.
    pub smtp: Option<SmtpSettings>,
    /// Sender of e-mails (SMTP and Resend).
    pub email_from: String,
    /// Recipients; one e-mail goes to all of them.
    pub email_to: Vec<String>,
    /// Resend's HTTP API key; `None` disables that channel.
    pub resend_api_key: Option<SecretString>,
    /// Resend's API base (tests point it at a local server).
    pub resend_api_url: Url,
    /// Slack incoming webhook URL (a secret: it is the credential).
    pub slack_webhook_url: Option<SecretString>,
    /// Discord webhook URL (a secret: it is the credential).
    pub discord_webhook_url: Option<SecretString>,
    /// PagerDuty Events API v2 integration (routing) key; `None` disables that channel.
    pub pagerduty_routing_key: Option<SecretString>,
    /// PagerDuty's Events API v2 endpoint (tests point it at a local server).
    pub pagerduty_url: Url,
    /// A second bot's token, so an alert about the bot does not depend on the bot.
    pub telegram_alert_token: Option<SecretString>,
    /// Where that second bot writes.
    pub telegram_alert_chat_id: String,
    /// Bot API base for the alert bot.
    pub telegram_api_url: Url,
    /// The generic webhook's URL (a secret: it may hold a token); `None` disables it.
    pub webhook_url: Option<SecretString>,
    /// Its JSON body with `{{placeholders}}` (checked at load; empty: the built-in one).
    pub webhook_template: String,
    /// SMS through Twilio; `None` when `twilio_auth_token` is empty.
    pub twilio: Option<TwilioSettings>,
    /// Bound on every send.
    pub send_timeout: Duration,
    /// Reminders for a still-open incident come no more often than this.
    pub repeat_interval: Duration,
    /// A critical incident open this long and not acknowledged goes to the escalation
    /// channels as well; `None`: off.
    pub escalate_after: Option<Duration>,
    /// Who escalations are e-mailed to (through the SMTP relay, else Resend); empty: no
    /// escalation channel (escalations then go to the usual channels only).
    pub escalation_email_to: Vec<String>,
    /// Consecutive failing runs before an incident opens.
    pub failure_threshold: u32,
    /// Consecutive passing runs before it resolves.
    pub success_threshold: u32,
    /// Whether a RESOLVED message is sent.
    pub send_resolved: bool,
    /// Whether warnings go to the chat channels (never to e-mail).
    pub warnings_to_chat: bool,
    /// First outbox retry delay; doubles per attempt.
    pub retry_base: Duration,
    /// Longest outbox retry delay.
    pub retry_max: Duration,
    /// Failed attempts after which a channel is reported through the others.
    pub channel_failing_after: u32,
    /// healthchecks.io-compatible ping URL.
    pub heartbeat_url: Option<SecretString>,
    /// Bound on one heartbeat ping.
    pub heartbeat_timeout: Duration,
    /// Configured quiet periods.
    pub maintenance: Vec<MaintenanceWindow>,
}

fn key(k: &str) -> String {
    format!("alerts.{k}")
}

fn positive(d: Duration, k: &str) -> Result<(), ConfigError> {
    if d.is_zero() {
        Err(ConfigError::invalid(&key(k), "must be more than 0"))
    } else {
        Ok(())
    }
}

/// Parses RFC 3339 (UTC, `Z`) into unix seconds.
pub fn parse_rfc3339(raw: &str, k: &str) -> Result<i64, ConfigError> {
    let t = humantime::parse_rfc3339_weak(raw.trim()).map_err(|e| {
        ConfigError::invalid(
            k,
            format!("is not an RFC 3339 UTC time like 2025-06-01T02:00:00Z ({e}): {raw:?}"),
        )
    })?;
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .map_err(|_| ConfigError::invalid(k, "is before 1970"))
}

impl AlertsConfig {
    /// Reads `[alerts]` from a loaded config, applying [`ALERT_ENV`] from `env`; `bot_name` and
    /// `dashboard_url` fall back to `bot.name` and `webhook.public_url` + `/bot/dashboard`.
    pub fn load(cfg: &config::Config, env: &EnvMap) -> Result<Self, ConfigError> {
        let mut s: AlertsSection = section(cfg, "alerts")?;
        for (name, field) in ALERT_ENV {
            let Some(v) = env.get(*name).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            let secret = Some(SecretString::from(v.clone()));
            match *field {
                "resend_api_key" => s.resend_api_key = secret,
                "slack_webhook_url" => s.slack_webhook_url = secret,
                "discord_webhook_url" => s.discord_webhook_url = secret,
                "pagerduty_routing_key" => s.pagerduty_routing_key = secret,
                "telegram_alert_token" => s.telegram_alert_token = secret,
                "telegram_alert_chat_id" => s.telegram_alert_chat_id = v.clone(),
                "webhook_url" => s.webhook_url = secret,
                "twilio_account_sid" => s.twilio_account_sid = v.clone(),
                "twilio_auth_token" => s.twilio_auth_token = secret,
                "sms_from" => s.sms_from = v.clone(),
                "sms_to" => s.sms_to = StringList::One(v.clone()),
                _ => s.heartbeat_url = secret,
            }
        }
        if s.bot_name.trim().is_empty() {
            s.bot_name = cfg.get_string("bot.name").unwrap_or_default();
        }
        if s.dashboard_url.trim().is_empty() {
            let public = cfg.get_string("webhook.public_url").unwrap_or_default();
            if !public.trim().is_empty() {
                s.dashboard_url = format!("{}/bot/dashboard", public.trim().trim_end_matches('/'));
            }
        }
        Self::from_section(s)
    }

    /// Validates a section; the error names the first bad key.
    pub fn from_section(s: AlertsSection) -> Result<Self, ConfigError> {
        let bot_name = match s.bot_name.trim() {
            "" => "telbot".to_string(),
            n => n.to_string(),
        };
        let dashboard_url = match s.dashboard_url.trim() {
            "" => None,
            u => Some(parse_http_url(u, &key("dashboard_url"))?),
        };
        let email_to = s.email_to.items();
        let email_from = s.email_from.trim().to_string();
        let smtp_url = non_empty_secret(s.smtp_url);
        let resend_api_key = non_empty_secret(s.resend_api_key);
        let wants_email = smtp_url.is_some() || resend_api_key.is_some();
        if wants_email {
            if email_from.is_empty() {
                return Err(ConfigError::invalid(
                    "alerts.email_from",
                    "is required when e-mail alerts are configured",
                ));
            }
            crate::notify::email::parse_mailbox(&email_from)
                .map_err(|p| ConfigError::invalid("alerts.email_from", p))?;
            if email_to.is_empty() {
                return Err(ConfigError::invalid(
                    "alerts.email_to",
                    "needs at least one recipient when e-mail alerts are configured",
                ));
            }
            for to in &email_to {
                crate::notify::email::parse_mailbox(to)
                    .map_err(|p| ConfigError::invalid("alerts.email_to", p))?;
            }
        }
        positive(s.send_timeout, "send_timeout")?;
        let escalation_email_to = s.escalation_email_to.items();
        if !escalation_email_to.is_empty() {
            if !wants_email {
                return Err(ConfigError::invalid(
                    "alerts.escalation_email_to",
                    "needs e-mail configured (alerts.smtp_url or alerts.resend_api_key)",
                ));
            }
            for to in &escalation_email_to {
                crate::notify::email::parse_mailbox(to)
                    .map_err(|p| ConfigError::invalid("alerts.escalation_email_to", p))?;
            }
        }
        let escalate_after = (!s.escalate_after.is_zero()).then_some(s.escalate_after);
        let smtp = match smtp_url {
            Some(url) => {
                let ca = match s.smtp_ca_file.trim() {
                    "" => None,
                    p => Some(PathBuf::from(p)),
                };
                Some(SmtpSettings::parse(
                    &url,
                    ca,
                    s.smtp_accept_invalid_certs,
                    s.send_timeout,
                )?)
            }
            None => None,
        };
        let resend_api_url = parse_http_url(&s.resend_api_url, &key("resend_api_url"))?;
        let slack_webhook_url =
            checked_url(non_empty_secret(s.slack_webhook_url), "slack_webhook_url")?;
        let discord_webhook_url = checked_url(
            non_empty_secret(s.discord_webhook_url),
            "discord_webhook_url",
        )?;
        let heartbeat_url = checked_url(non_empty_secret(s.heartbeat_url), "heartbeat_url")?;
        let pagerduty_routing_key = non_empty_secret(s.pagerduty_routing_key);
        let pagerduty_url = parse_http_url(&s.pagerduty_url, &key("pagerduty_url"))?;
        let telegram_alert_token = non_empty_secret(s.telegram_alert_token);
        let chat = s.telegram_alert_chat_id.trim().to_string();
        if let Some(t) = &telegram_alert_token {
            if !telbot_shared::config::looks_like_token(t.expose_secret()) {
                return Err(ConfigError::invalid(
                    "alerts.telegram_alert_token",
                    "is not a bot token (expected <digits>:<secret>)",
                ));
            }
            if chat.is_empty() {
                return Err(ConfigError::invalid(
                    "alerts.telegram_alert_chat_id",
                    "is required when telegram_alert_token is set",
                ));
            }
        }
        let telegram_api_url = parse_http_url(&s.telegram_api_url, &key("telegram_api_url"))?;
        let webhook_url = checked_url(non_empty_secret(s.webhook_url), "webhook_url")?;
        let webhook_template = s.webhook_template.trim().to_string();
        if !webhook_template.is_empty() {
            crate::notify::webhook::check_template(&webhook_template)
                .map_err(|p| ConfigError::invalid(&key("webhook_template"), p))?;
        }
        let twilio = TwilioSettings::parse(
            &s.twilio_account_sid,
            non_empty_secret(s.twilio_auth_token),
            &s.sms_from,
            s.sms_to.items(),
            &s.twilio_api_url,
        )?;
        positive(s.repeat_interval, "repeat_interval")?;
        positive(s.retry_base, "retry_base")?;
        positive(s.heartbeat_timeout, "heartbeat_timeout")?;
        if s.retry_max < s.retry_base {
            return Err(ConfigError::invalid(
                &key("retry_max"),
                "must not be shorter than alerts.retry_base",
            ));
        }
        for (v, k) in [
            (s.failure_threshold, "failure_threshold"),
            (s.success_threshold, "success_threshold"),
            (s.channel_failing_after, "channel_failing_after"),
        ] {
            if v == 0 {
                return Err(ConfigError::invalid(&key(k), "must be at least 1"));
            }
        }
        let mut maintenance = Vec::new();
        for (i, m) in s.maintenance.iter().enumerate() {
            let start = parse_rfc3339(&m.start, &format!("alerts.maintenance[{i}].start"))?;
            let end = parse_rfc3339(&m.end, &format!("alerts.maintenance[{i}].end"))?;
            if end <= start {
                return Err(ConfigError::invalid(
                    &format!("alerts.maintenance[{i}].end"),
                    "must be after start",
                ));
            }
            maintenance.push(MaintenanceWindow {
                start,
                end,
                incidents: m.incidents.clone(),
                reason: m.reason.clone(),
            });
        }
        Ok(AlertsConfig {
            bot_name,
            dashboard_url,
            smtp,
            email_from,
            email_to,
            resend_api_key,
            resend_api_url,
            slack_webhook_url,
            discord_webhook_url,
            pagerduty_routing_key,
            pagerduty_url,
            telegram_alert_token,
            telegram_alert_chat_id: chat,
            telegram_api_url,
            webhook_url,
            webhook_template,
            twilio,
            send_timeout: s.send_timeout,
            repeat_interval: s.repeat_interval,
            escalate_after,
            escalation_email_to,
            failure_threshold: s.failure_threshold,
            success_threshold: s.success_threshold,
            send_resolved: s.send_resolved,
            warnings_to_chat: s.warnings_to_chat,
            retry_base: s.retry_base,
            retry_max: s.retry_max,
            channel_failing_after: s.channel_failing_after,
            heartbeat_url,
            heartbeat_timeout: s.heartbeat_timeout,
            maintenance,
        })
    }

    /// The compiled-in defaults (no channel configured), for tests and tools.
    pub fn defaults() -> Result<Self, ConfigError> {
        let cfg = telbot_shared::config::load(None, &EnvMap::new())?;
        Self::from_section(section(&cfg, "alerts")?)
    }

    /// Every configured secret, for the [`telbot_shared::redact::Redactor`] that cleans messages.
    pub fn secrets(&self) -> Vec<SecretString> {
        let mut out: Vec<SecretString> = [
            &self.resend_api_key,
            &self.slack_webhook_url,
            &self.discord_webhook_url,
            &self.pagerduty_routing_key,
            &self.telegram_alert_token,
            &self.heartbeat_url,
            &self.webhook_url,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        if let Some(smtp) = &self.smtp {
            out.extend(smtp.secrets());
        }
        out.extend(self.twilio.iter().map(|t| t.auth_token.clone()));
        out
    }
}

/// A secret that must be an http(s) URL; the error never prints it.
fn checked_url(v: Option<SecretString>, k: &str) -> Result<Option<SecretString>, ConfigError> {
    if let Some(s) = &v {
        let ok = Url::parse(s.expose_secret().trim())
            .map(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .unwrap_or(false);
        if !ok {
            return Err(ConfigError::invalid(
                &key(k),
                "must be an http:// or https:// URL (value not shown)",
            ));
        }
    }
    Ok(v)
}
