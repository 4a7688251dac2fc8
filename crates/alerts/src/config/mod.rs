//! The `[alerts]` section: parsed as written ([`AlertsSection`]), then validated into
//! [`AlertsConfig`], every problem named by its key (all of them at once).

use std::time::Duration;

use secrecy::SecretString;
use telbot_shared::config::{ConfigError, EnvMap, non_empty_secret, parse_http_url, section};
use url::Url;

use crate::checks::{keep, optional_url};
use crate::notify::email::SmtpSettings;
use crate::notify::pagerduty::PagerDutySettings;
use crate::notify::resend::ResendSettings;
use crate::notify::sms::TwilioSettings;
use crate::notify::telegram::TelegramAlertSettings;
use crate::notify::webhook::GenericWebhookSettings;

pub(crate) mod section;
mod validate;

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
    /// Resend (`alerts.resend_api_key`); `None`: off.
    pub resend: Option<ResendSettings>,
    /// Slack incoming webhook URL (a secret: it is the credential); `None`: off.
    pub slack_webhook_url: Option<SecretString>,
    /// Discord webhook URL (a secret: it is the credential); `None`: off.
    pub discord_webhook_url: Option<SecretString>,
    /// PagerDuty Events API v2; `None`: off.
    pub pagerduty: Option<PagerDutySettings>,
    /// A second bot writing to a chat, so an alert about the bot does not depend on the bot;
    /// `None`: off.
    pub telegram: Option<TelegramAlertSettings>,
    /// The generic webhook; `None`: off.
    pub webhook: Option<GenericWebhookSettings>,
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
pub(crate) fn parse_rfc3339(raw: &str, k: &str) -> Result<i64, ConfigError> {
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

    /// Validates a section, every problem named by its key at once
    /// ([`ConfigError::Several`] when there are several). The checks are in `validate.rs`, one
    /// function per channel or group of settings.
    pub fn from_section(s: AlertsSection) -> Result<Self, ConfigError> {
        let mut errs = Vec::new();
        let e = &mut errs;
        let bot_name = match s.bot_name.trim() {
            "" => "telbot".to_string(),
            n => n.to_string(),
        };
        let dashboard_url = match s.dashboard_url.trim() {
            "" => None,
            u => keep(e, parse_http_url(u, &key("dashboard_url"))),
        };
        let (email_from, email_to, escalation_email_to) = validate::email(&s, e);
        let smtp = validate::smtp(&s, e).flatten();
        let resend = ResendSettings::from_section(&s, e).flatten();
        let slack_webhook_url = optional_url(&s.slack_webhook_url, "slack_webhook_url", e);
        let discord_webhook_url = optional_url(&s.discord_webhook_url, "discord_webhook_url", e);
        let heartbeat_url = optional_url(&s.heartbeat_url, "heartbeat_url", e);
        let pagerduty = PagerDutySettings::from_section(&s, e).flatten();
        let telegram = TelegramAlertSettings::from_section(&s, e).flatten();
        let webhook = GenericWebhookSettings::from_section(&s, e).flatten();
        let twilio = keep(
            e,
            TwilioSettings::parse(
                &s.twilio_account_sid,
                non_empty_secret(s.twilio_auth_token.clone()),
                &s.sms_from,
                s.sms_to.items(),
                &s.twilio_api_url,
            ),
        )
        .flatten();
        validate::timings(&s, e);
        let maintenance = validate::maintenance(&s, e);
        ConfigError::all(errs)?;
        Ok(AlertsConfig {
            bot_name,
            dashboard_url,
            smtp,
            email_from,
            email_to,
            resend,
            slack_webhook_url,
            discord_webhook_url,
            pagerduty,
            telegram,
            webhook,
            twilio,
            send_timeout: s.send_timeout,
            repeat_interval: s.repeat_interval,
            escalate_after: (!s.escalate_after.is_zero()).then_some(s.escalate_after),
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
            &self.slack_webhook_url,
            &self.discord_webhook_url,
            &self.heartbeat_url,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        out.extend(self.resend.iter().map(|r| r.api_key.clone()));
        out.extend(self.pagerduty.iter().map(|p| p.routing_key.clone()));
        out.extend(self.telegram.iter().map(|t| t.token.clone()));
        out.extend(self.webhook.iter().map(|w| w.url.clone()));
        if let Some(smtp) = &self.smtp {
            out.extend(smtp.secrets());
        }
        out.extend(self.twilio.iter().map(|t| t.auth_token.clone()));
        out
    }
}
