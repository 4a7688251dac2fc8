//! Discord webhook: `POST <webhook url>` with `{"content": … (≤ 2000 chars), "embeds": […]}`.

use secrecy::SecretString;

use super::json_post::JsonPost;
use super::{Message, truncate};
use crate::model::Level;

/// The Discord channel: [`payload`] posted to the webhook URL (the credential, never printed).
pub(crate) fn notifier(client: reqwest::Client, url: SecretString) -> JsonPost {
    JsonPost::new("discord", client, url, payload)
}

/// The payload: `content` is the subject (≤ 2000), one embed carries the text (title ≤ 256,
/// description ≤ 4096); mentions are disabled so alert text cannot ping `@everyone`.
pub(crate) fn payload(msg: &Message) -> serde_json::Value {
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
