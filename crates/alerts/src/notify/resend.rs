//! E-mail through Resend's HTTP API: `POST {base}/emails` with `Authorization: Bearer <key>`
//! and `{from, to, subject, html, text}`.

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use telbot_shared::config::{ConfigError, non_empty_secret, parse_http_url};
use url::Url;

use super::{Message, Notifier, http_error, join_url};
use crate::checks::keep;
use crate::config::section::AlertsSection;
use crate::error::AlertError;

/// The Resend channel.
pub(crate) struct ResendNotifier {
    client: reqwest::Client,
    endpoint: Url,
    key: SecretString,
    from: String,
    to: Vec<String>,
}

impl ResendNotifier {
    /// `base` is the API root, e.g. `https://api.resend.com`.
    pub(crate) fn new(
        client: reqwest::Client,
        base: &Url,
        key: SecretString,
        from: &str,
        to: &[String],
    ) -> Self {
        ResendNotifier {
            client,
            endpoint: join_url(base, "emails"),
            key,
            from: from.to_string(),
            to: to.to_vec(),
        }
    }
}

/// The JSON body Resend documents for `POST /emails`.
pub(crate) fn payload(from: &str, to: &[String], msg: &Message) -> serde_json::Value {
    serde_json::json!({ "from": from, "to": to, "subject": msg.subject, "html": msg.html, "text": msg.text })
}

impl Notifier for ResendNotifier {
    fn name(&self) -> &str {
        "resend"
    }

    fn takes_warnings(&self) -> bool {
        false
    }

    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            let r = self
                .client
                .post(self.endpoint.clone())
                .bearer_auth(self.key.expose_secret())
                .json(&payload(&self.from, &self.to, msg))
                .send()
                .await;
            http_error("resend", r).await
        })
    }
}

/// Resend's settings: `alerts.resend_api_key` (the channel is on when it is set) and
/// `alerts.resend_api_url`.
#[derive(Debug, Clone)]
pub struct ResendSettings {
    /// The API key (a secret).
    pub api_key: SecretString,
    /// The API root (tests point it at a local server).
    pub api_url: Url,
}

impl ResendSettings {
    /// `Some(None)` when no key is set; `None` with the problem in `errs`.
    pub(crate) fn from_section(
        s: &AlertsSection,
        errs: &mut Vec<ConfigError>,
    ) -> Option<Option<Self>> {
        let api_url = keep(
            errs,
            parse_http_url(&s.resend_api_url, "alerts.resend_api_url"),
        )?;
        Some(
            non_empty_secret(s.resend_api_key.clone())
                .map(|api_key| ResendSettings { api_key, api_url }),
        )
    }
}
