//! Slack incoming webhook: `POST <webhook url>` with `{"text": …, "blocks": […]}`.

use secrecy::SecretString;

use super::json_post::JsonPost;
use super::{Message, truncate};

/// The Slack channel: [`payload`] posted to the webhook URL (the credential, never printed).
pub(crate) fn notifier(client: reqwest::Client, url: SecretString) -> JsonPost {
    JsonPost::new("slack", client, url, payload)
}

/// The payload: `text` is the notification fallback; a header block (≤ 150 chars) and a
/// section (mrkdwn, ≤ 3000 chars) carry the message.
pub(crate) fn payload(msg: &Message) -> serde_json::Value {
    let body = format!("```{}```", truncate(&msg.text.replace("```", "'''"), 2900));
    serde_json::json!({
        "text": truncate(&format!("{}\n{}", msg.subject, msg.text), 3000),
        "blocks": [
            { "type": "header", "text": { "type": "plain_text", "text": truncate(&msg.subject, 150) } },
            { "type": "section", "text": { "type": "mrkdwn", "text": body } }
        ]
    })
}
