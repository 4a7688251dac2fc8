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
    /// A fixed IPv4 address Telegram delivers to instead of resolving the URL's host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// Throw the queue away (only in drop mode).
    pub drop_pending_updates: bool,
    /// A self-signed certificate, uploaded as a file: the call then goes as
    /// `multipart/form-data` (Telegram ignores a certificate sent as a string).
    #[serde(skip)]
    pub certificate: Option<super::Certificate>,
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
            ip_address: None,
            drop_pending_updates: false,
            certificate: None,
        }
    }

    /// The same call, throwing the pending updates away when `drop` (drop mode only).
    pub fn dropping_pending(mut self, drop: bool) -> SetWebhook {
        self.drop_pending_updates = drop;
        self
    }

    /// The same call with a fixed IP address (`None`: Telegram resolves the host).
    pub fn with_ip_address(mut self, ip: Option<String>) -> SetWebhook {
        self.ip_address = ip;
        self
    }

    /// The same call uploading `certificate`.
    pub fn with_certificate(mut self, certificate: Option<super::Certificate>) -> SetWebhook {
        self.certificate = certificate;
        self
    }
}

/// The update kinds Telegram sends when `allowed_updates` is empty (its default set: every
/// kind but `chat_member`, `message_reaction` and `message_reaction_count`), as of Bot API 9.
/// getWebhookInfo leaves `allowed_updates` out when the setting is this set.
pub const DEFAULT_UPDATE_KINDS: &[&str] = &[
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "purchased_paid_media",
];

/// Whether getWebhookInfo's `allowed_updates` (`shown`; absent = the default set) is the
/// setting `ours` registers (empty = the default set), in any order.
pub fn same_allowed_updates(shown: Option<&[String]>, ours: &[String]) -> bool {
    fn set(list: &[String]) -> std::collections::BTreeSet<&str> {
        list.iter().map(String::as_str).collect()
    }
    let default: std::collections::BTreeSet<&str> = DEFAULT_UPDATE_KINDS.iter().copied().collect();
    let ours = if ours.is_empty() {
        default.clone()
    } else {
        set(ours)
    };
    match shown {
        None | Some([]) => ours == default,
        Some(list) => set(list) == ours,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn allowed_updates_compare_as_sets_with_the_default_set_shown_as_absent() {
        assert!(same_allowed_updates(None, &[]));
        let all = v(DEFAULT_UPDATE_KINDS);
        assert!(same_allowed_updates(None, &all));
        assert!(!same_allowed_updates(None, &v(&["message"])));
        let shown = v(&["callback_query", "message"]);
        assert!(same_allowed_updates(
            Some(&shown),
            &v(&["message", "callback_query"])
        ));
        assert!(!same_allowed_updates(Some(&shown), &v(&["message"])));
        assert!(!same_allowed_updates(Some(&shown), &[]));
    }

    #[test]
    fn the_certificate_never_goes_into_the_json_body() {
        let p = SetWebhook::new("https://x.example/webhook", None, 40, &[])
            .with_ip_address(Some("1.2.3.4".into()))
            .with_certificate(Some(
                super::super::Certificate::from_pem(
                    "c.pem",
                    b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n".to_vec(),
                )
                .unwrap(),
            ));
        let j = serde_json::to_value(&p).unwrap();
        assert_eq!(j["ip_address"], "1.2.3.4");
        assert!(j.get("certificate").is_none(), "{j}");
    }
}
