//! Slack incoming webhook: `POST <webhook url>` with `{"text": …, "blocks": […]}`.

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};

use super::{Message, Notifier, http_error, truncate};
use crate::error::AlertError;

/// The Slack channel. The webhook URL is the credential and is never printed.
pub struct SlackNotifier {
    client: reqwest::Client,
    url: SecretString,
}

impl SlackNotifier {
    /// A notifier posting to this incoming-webhook URL.
    pub fn new(client: reqwest::Client, url: SecretString) -> Self {
        SlackNotifier { client, url }
    }
}

/// The payload: `text` is the notification fallback; a header block (≤ 150 chars) and a
/// section (mrkdwn, ≤ 3000 chars) carry the message.
pub fn payload(msg: &Message) -> serde_json::Value {
    let body = format!("```{}```", truncate(&msg.text.replace("```", "'''"), 2900));
    serde_json::json!({
        "text": truncate(&format!("{}\n{}", msg.subject, msg.text), 3000),
        "blocks": [
            { "type": "header", "text": { "type": "plain_text", "text": truncate(&msg.subject, 150) } },
            { "type": "section", "text": { "type": "mrkdwn", "text": body } }
        ]
    })
}

impl Notifier for SlackNotifier {
    fn name(&self) -> &str {
        "slack"
    }

    fn takes_warnings(&self) -> bool {
        true
    }

    fn send<'a>(&'a self, msg: &'a Message) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(async move {
            let r = self
                .client
                .post(self.url.expose_secret())
                .json(&payload(msg))
                .send()
                .await;
            http_error("slack", r).await
        })
    }
}
