//! Discord webhook: `POST <webhook url>` with `{"content": … (≤ 2000 chars), "embeds": […]}`.

use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};

use super::{Message, Notifier, http_error, truncate};
use crate::error::AlertError;
use crate::model::Level;

/// The Discord channel. The webhook URL is the credential and is never printed.
pub struct DiscordNotifier {
    client: reqwest::Client,
    url: SecretString,
}

impl DiscordNotifier {
    /// A notifier posting to this webhook URL.
    pub fn new(client: reqwest::Client, url: SecretString) -> Self {
        DiscordNotifier { client, url }
    }
}

/// The payload: `content` is the subject (≤ 2000), one embed carries the text (title ≤ 256,
/// description ≤ 4096); mentions are disabled so alert text cannot ping `@everyone`.
pub fn payload(msg: &Message) -> serde_json::Value {
    let color = match (msg.resolved, msg.level) {
        (true, _) => 0x2e_b8_86,
        (false, Level::Critical) => 0xd0_02_1b,
        (false, _) => 0xf5_a6_23,
    };
    serde_json::json!({
        "content": truncate(&msg.subject, 2000),
        "embeds": [{
            "title": truncate(&msg.subject, 256),
            "description": truncate(&msg.text, 4000),
            "color": color
        }],
        "allowed_mentions": { "parse": [] }
    })
}

impl Notifier for DiscordNotifier {
    fn name(&self) -> &str {
        "discord"
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
            http_error("discord", r).await
        })
    }
}
