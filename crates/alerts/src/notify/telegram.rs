//! A Telegram chat through a SECOND bot: `POST {api}/bot<token>/sendMessage` with
//! `{chat_id, text}`. An alert about the bot must not depend on the bot.

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use telbot_shared::config::{ConfigError, non_empty_secret, parse_http_url};
use url::Url;

use super::{Message, Notifier, truncate};
use crate::checks::keep;
use crate::config::section::AlertsSection;
use crate::error::AlertError;

/// The Telegram channel.
pub(crate) struct TelegramNotifier {
    client: reqwest::Client,
    api: Url,
    token: SecretString,
    chat_id: String,
}

impl TelegramNotifier {
    /// `api` is the Bot API base, e.g. `https://api.telegram.org`.
    pub(crate) fn new(
        client: reqwest::Client,
        api: &Url,
        token: SecretString,
        chat_id: &str,
    ) -> Self {
        TelegramNotifier {
            client,
            api: api.clone(),
            token,
            chat_id: chat_id.to_string(),
        }
    }
}

/// The sendMessage body: a numeric chat id is sent as a number, `@channel` as a string; the
/// text is plain (no parse_mode, so nothing in it can break the markup), ≤ 4096 chars.
pub(crate) fn payload(chat_id: &str, msg: &Message) -> serde_json::Value {
    let chat: serde_json::Value = match chat_id.parse::<i64>() {
        Ok(n) => n.into(),
        Err(_) => chat_id.into(),
    };
    serde_json::json!({
        "chat_id": chat,
        "text": truncate(&format!("{}\n\n{}", msg.subject, msg.text), 4000),
        "link_preview_options": { "is_disabled": true }
    })
}

impl Notifier for TelegramNotifier {
    fn name(&self) -> &str {
        "telegram"
    }

    fn takes_warnings(&self) -> bool {
        true
    }

    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            let base = self.api.as_str().trim_end_matches('/');
            let url = format!("{base}/bot{}/sendMessage", self.token.expose_secret());
            let r = self
                .client
                .post(url)
                .json(&payload(&self.chat_id, msg))
                .send()
                .await;
            let resp = r.map_err(|e| AlertError::send("telegram", e.without_url().to_string()))?;
            let status = resp.status();
            let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
            if status.is_success() && body["ok"] == serde_json::Value::Bool(true) {
                return Ok(());
            }
            let desc = body["description"].as_str().unwrap_or("no description");
            Err(AlertError::send(
                "telegram",
                format!("HTTP {}: {}", status.as_u16(), truncate(desc, 200)),
            ))
        })
    }
}

/// The alert bot's settings: `alerts.telegram_alert_token` (a second bot, so an alert about
/// the bot does not depend on the bot; the channel is on when it is set), the chat it writes
/// to and the Bot API base.
#[derive(Debug, Clone)]
pub struct TelegramAlertSettings {
    /// The alert bot's token (a secret).
    pub token: SecretString,
    /// Where it writes.
    pub chat_id: String,
    /// The Bot API base.
    pub api_url: Url,
}

impl TelegramAlertSettings {
    /// `Some(None)` when no token is set; `None` with the problems in `errs`.
    pub(crate) fn from_section(
        s: &AlertsSection,
        errs: &mut Vec<ConfigError>,
    ) -> Option<Option<Self>> {
        let token = non_empty_secret(s.telegram_alert_token.clone());
        let chat_id = s.telegram_alert_chat_id.trim().to_string();
        let mut ok = true;
        if let Some(t) = &token {
            if !telbot_shared::config::looks_like_token(t.expose_secret()) {
                ok = false;
                errs.push(ConfigError::invalid(
                    "alerts.telegram_alert_token",
                    "is not a bot token (expected <digits>:<secret>)",
                ));
            }
            if chat_id.is_empty() {
                ok = false;
                errs.push(ConfigError::invalid(
                    "alerts.telegram_alert_chat_id",
                    "is required when telegram_alert_token is set",
                ));
            }
        }
        let api_url = keep(
            errs,
            parse_http_url(&s.telegram_api_url, "alerts.telegram_api_url"),
        )?;
        ok.then(|| {
            token.map(|token| TelegramAlertSettings {
                token,
                chat_id,
                api_url,
            })
        })
    }
}
