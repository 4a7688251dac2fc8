//! The `[alerts]` section as written (serde shapes) and the environment names mapped onto it;
//! [`super::AlertsConfig::from_section`] validates it.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// Well-known environment names this crate reads on top of the shared ones (`SMTP_URL`,
/// `ALERT_EMAIL_FROM`, `ALERT_EMAIL_TO` are mapped by `telbot-shared`).
pub const ALERT_ENV: &[(&str, &str)] = &[
    ("RESEND_API_KEY", "resend_api_key"),
    ("SLACK_WEBHOOK_URL", "slack_webhook_url"),
    ("DISCORD_WEBHOOK_URL", "discord_webhook_url"),
    ("PAGERDUTY_ROUTING_KEY", "pagerduty_routing_key"),
    ("TELEGRAM_ALERT_TOKEN", "telegram_alert_token"),
    ("TELEGRAM_ALERT_CHAT_ID", "telegram_alert_chat_id"),
    ("HEARTBEAT_URL", "heartbeat_url"),
    ("ALERT_WEBHOOK_URL", "webhook_url"),
    ("TWILIO_ACCOUNT_SID", "twilio_account_sid"),
    ("TWILIO_AUTH_TOKEN", "twilio_auth_token"),
    ("ALERT_SMS_FROM", "sms_from"),
    ("ALERT_SMS_TO", "sms_to"),
];

/// A list written either as a TOML array or as one comma-separated string (env form).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StringList {
    /// `["a@x", "b@x"]`
    Many(Vec<String>),
    /// `"a@x,b@x"`
    One(String),
}

impl Default for StringList {
    fn default() -> Self {
        StringList::Many(Vec::new())
    }
}

impl StringList {
    /// The non-empty, trimmed items.
    pub fn items(&self) -> Vec<String> {
        let raw: Vec<&str> = match self {
            StringList::Many(v) => v.iter().flat_map(|s| s.split(',')).collect(),
            StringList::One(s) => s.split(',').collect(),
        };
        raw.into_iter()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

/// One `[[alerts.maintenance]]` window as written.
#[derive(Debug, Clone, Deserialize)]
pub struct MaintenanceSection {
    /// RFC 3339 UTC, e.g. `2025-06-01T02:00:00Z`.
    pub start: String,
    /// RFC 3339 UTC, after `start`.
    pub end: String,
    /// Incident keys it covers; empty: all.
    #[serde(default)]
    pub incidents: Vec<String>,
    /// Shown in the log.
    #[serde(default)]
    pub reason: String,
}

/// The `[alerts]` section as written (see `config/default.toml` for every key).
#[derive(Debug, Clone, Deserialize)]
#[allow(missing_docs)]
pub struct AlertsSection {
    #[serde(default)]
    pub bot_name: String,
    #[serde(default)]
    pub dashboard_url: String,
    pub smtp_url: Option<SecretString>,
    #[serde(default)]
    pub smtp_ca_file: String,
    #[serde(default)]
    pub smtp_accept_invalid_certs: bool,
    #[serde(default)]
    pub email_from: String,
    #[serde(default)]
    pub email_to: StringList,
    pub resend_api_key: Option<SecretString>,
    pub resend_api_url: String,
    pub slack_webhook_url: Option<SecretString>,
    pub discord_webhook_url: Option<SecretString>,
    pub pagerduty_routing_key: Option<SecretString>,
    pub pagerduty_url: String,
    pub telegram_alert_token: Option<SecretString>,
    #[serde(default)]
    pub telegram_alert_chat_id: String,
    pub telegram_api_url: String,
    pub webhook_url: Option<SecretString>,
    #[serde(default)]
    pub webhook_template: String,
    #[serde(default)]
    pub twilio_account_sid: String,
    pub twilio_auth_token: Option<SecretString>,
    pub twilio_api_url: String,
    #[serde(default)]
    pub sms_from: String,
    #[serde(default)]
    pub sms_to: StringList,
    #[serde(with = "humantime_serde")]
    pub send_timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub repeat_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub escalate_after: Duration,
    #[serde(default)]
    pub escalation_email_to: StringList,
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub send_resolved: bool,
    pub warnings_to_chat: bool,
    #[serde(with = "humantime_serde")]
    pub retry_base: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    pub channel_failing_after: u32,
    pub heartbeat_url: Option<SecretString>,
    #[serde(with = "humantime_serde")]
    pub heartbeat_timeout: Duration,
    #[serde(default)]
    pub maintenance: Vec<MaintenanceSection>,
}
