//! The few Bot API shapes both daemons read, kept lenient: unknown fields are ignored and
//! optional ones default, because Telegram adds fields over time.

use serde::{Deserialize, Serialize};

/// Telegram's answer envelope. `result` is kept as its raw text and parsed once, straight
/// into the type the caller asked for (nothing at all for a caller that ignores it).
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope<'a> {
    pub ok: bool,
    #[serde(default, borrow)]
    pub result: Option<&'a serde_json::value::RawValue>,
    #[serde(default)]
    pub error_code: Option<u16>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<ResponseParameters>,
}

/// `parameters` of an error answer.
#[derive(Debug, Deserialize)]
pub(crate) struct ResponseParameters {
    #[serde(default)]
    pub retry_after: Option<u64>,
}

/// `getWebhookInfo`'s result. `last_error_*` persist after later successes: judge them by age.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookInfo {
    /// Webhook URL, empty when none is set.
    #[serde(default)]
    pub url: String,
    /// Whether a self-signed certificate was uploaded.
    #[serde(default)]
    pub has_custom_certificate: bool,
    /// Updates waiting for delivery.
    #[serde(default)]
    pub pending_update_count: u64,
    /// Unix time of the most recent delivery error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_date: Option<i64>,
    /// Telegram's text for that error, e.g. `Wrong response from the webhook: 500 Internal Server Error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_message: Option<String>,
    /// Unix time of the most recent sync error inside Telegram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synchronization_error_date: Option<i64>,
    /// Parallel deliveries allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// IP Telegram delivers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// Update kinds, when not Telegram's default set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_updates: Option<Vec<String>>,
}

/// `getMe`'s result (the fields we use).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BotUser {
    /// The bot's user id.
    pub id: i64,
    /// The bot's @username.
    #[serde(default)]
    pub username: Option<String>,
    /// Display name.
    #[serde(default)]
    pub first_name: String,
}

/// Parameters of `setWebhook`.
#[derive(Debug, Clone, Serialize)]
pub struct SetWebhook {
    /// The HTTPS URL Telegram posts to.
    pub url: String,
    /// Sent back as `X-Telegram-Bot-Api-Secret-Token` (never logged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_token: Option<String>,
    /// Parallel deliveries, 1-100.
    pub max_connections: u32,
    /// Update kinds; `None` keeps Telegram's current setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_updates: Option<Vec<String>>,
    /// Throw the queue away (only in drop mode).
    pub drop_pending_updates: bool,
}

impl SetWebhook {
    /// The one way both daemons build their `setWebhook` call: `url` with the secret (sent
    /// every time: getWebhookInfo cannot show it, and a stale one rejects every update),
    /// `max_connections` and `allowed_updates`, keeping the pending updates.
    pub fn new(
        url: impl Into<String>,
        secret: Option<&secrecy::SecretString>,
        max_connections: u32,
        allowed_updates: &[String],
    ) -> SetWebhook {
        use secrecy::ExposeSecret;
        SetWebhook {
            url: url.into(),
            secret_token: secret.map(|s| s.expose_secret().to_string()),
            max_connections,
            allowed_updates: Some(allowed_updates.to_vec()),
            drop_pending_updates: false,
        }
    }

    /// The same call, throwing the pending updates away when `drop` (drop mode only).
    pub fn dropping_pending(mut self, drop: bool) -> SetWebhook {
        self.drop_pending_updates = drop;
        self
    }
}
