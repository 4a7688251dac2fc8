//! A watchdog action's detail: the typed record kept as JSON in `wd_actions.detail`
//! ([`ActionDetail`]: recovery counts, the restart method, what was set, why, the error), and
//! the same in words for people — its alerts, the digest and the bot-server dashboard's table
//! of watchdog actions show `drained 9, replayed 9, dropped 0`, not the JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What one watchdog action did. Every field is optional: a recovery fills the counts, a
/// setWebhook the URL, a restart the method, a skipped action `why`. Stored as one JSON object
/// with only the fields that are set; rows written by older builds read back the same way.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionDetail {
    /// Updates taken from Telegram with getUpdates (recoveries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drained: Option<u64>,
    /// Updates the bot took (recoveries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replayed: Option<u64>,
    /// Updates thrown away (recoveries; 0 in lossless mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped: Option<u64>,
    /// Whether the webhook was set again at the end (recoveries).
    #[serde(
        default,
        alias = "webhook_restored",
        skip_serializing_if = "Option::is_none"
    )]
    pub webhook_set: Option<bool>,
    /// Whether this finished a recovery an earlier run left half done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed: Option<bool>,
    /// The webhook URL set (setWebhook, failover, failback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// How a restart was asked for: `render`, `deploy-hook`, `command`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The Render service restarted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    /// The HTTP status the restart request got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it was not taken, or a note on what it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Fields this build does not know (written by a newer one): kept and shown as they are.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl ActionDetail {
    /// A detail that only says why.
    pub fn why(why: impl Into<String>) -> ActionDetail {
        ActionDetail {
            why: Some(why.into()),
            ..Default::default()
        }
    }

    /// A detail that only says what went wrong.
    pub fn error(error: impl Into<String>) -> ActionDetail {
        ActionDetail {
            error: Some(error.into()),
            ..Default::default()
        }
    }

    /// A detail naming the webhook URL set.
    pub fn url(url: impl Into<String>) -> ActionDetail {
        ActionDetail {
            url: Some(url.into()),
            ..Default::default()
        }
    }

    /// The counts and outcome of a recovery.
    pub fn of_recovery(r: &crate::recovery::RecoveryReport) -> ActionDetail {
        ActionDetail {
            drained: Some(r.drained),
            replayed: Some(r.replayed),
            dropped: Some(r.dropped),
            webhook_set: Some(r.webhook_restored),
            resumed: Some(r.resumed),
            error: (!r.errors.is_empty()).then(|| r.errors.join("; ")),
            ..Default::default()
        }
    }

    /// The stored form: one JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// In words: recovery counts, then what was set or asked for, then why or what went wrong.
    /// An empty detail gives an empty string.
    pub fn words(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let (Some(a), Some(b), Some(c)) = (self.drained, self.replayed, self.dropped) {
            parts.push(format!("drained {a}, replayed {b}, dropped {c}"));
            if self.resumed == Some(true) {
                parts.push("finished an interrupted recovery".into());
            }
            match self.webhook_set {
                Some(true) => parts.push("webhook set again".into()),
                Some(false) => parts.push("webhook NOT set again".into()),
                None => {}
            }
        } else if let Some(url) = self.url.as_deref().filter(|s| !s.is_empty()) {
            parts.push(format!("webhook set to {url}"));
        }
        if let Some(m) = self.method.as_deref().filter(|s| !s.is_empty()) {
            let mut p = format!("restart asked for via {m}");
            if let Some(code) = self.status {
                p.push_str(&format!(" (HTTP {code})"));
            }
            parts.push(p);
        }
        if let Some(w) = self.why.as_deref().filter(|s| !s.is_empty()) {
            parts.push(w.to_string());
        }
        if let Some(e) = self.error.as_deref().filter(|s| !s.is_empty()) {
            parts.push(format!("error: {e}"));
        }
        if parts.is_empty() {
            // Unknown fields: shown as they are, in one line.
            parts.extend(self.other.iter().map(|(k, v)| match v {
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            }));
        }
        parts.join("; ")
    }
}

/// The stored form, one JSON object (what `watchdog recover` and the logs print).
impl std::fmt::Display for ActionDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_json())
    }
}

/// The stored detail text (JSON, or text written by an older build) in words.
pub fn detail_text(stored: &str) -> String {
    match serde_json::from_str::<ActionDetail>(stored.trim()) {
        Ok(d) if stored.trim_start().starts_with('{') => d.words(),
        _ => stored.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn details_in_words_table() {
        let cases = [
            (
                json!({"drained": 9, "replayed": 9, "dropped": 0, "webhook_set": true, "resumed": false}),
                "drained 9, replayed 9, dropped 0; webhook set again",
            ),
            (
                json!({"drained": 3, "replayed": 2, "dropped": 0, "webhook_set": true, "resumed": true, "error": "the bot answered 500"}),
                "drained 3, replayed 2, dropped 0; finished an interrupted recovery; webhook set again; error: the bot answered 500",
            ),
            (
                json!({"url": "https://bot.example/webhook"}),
                "webhook set to https://bot.example/webhook",
            ),
            (
                json!({"method": "render", "service_id": "srv-1", "status": 202}),
                "restart asked for via render (HTTP 202)",
            ),
            (
                json!({"method": "command", "error": "the command exited with 1"}),
                "restart asked for via command; error: the command exited with 1",
            ),
            (
                json!({"why": "lossless-recovery ran 30 s ago (cooldown 300 s)"}),
                "lossless-recovery ran 30 s ago (cooldown 300 s)",
            ),
            (json!({}), ""),
            (json!({"odd": 1, "b": "x"}), "b: x; odd: 1"),
        ];
        for (v, want) in cases {
            let d: ActionDetail = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(d.words(), want, "{v}");
            assert_eq!(
                serde_json::to_value(&d).unwrap(),
                v,
                "stored as it was read"
            );
            assert_eq!(detail_text(&v.to_string()), want, "{v}");
        }
    }

    #[test]
    fn text_that_is_not_a_json_object_is_shown_as_it_is() {
        assert_eq!(
            detail_text("drained 9, replayed 9, dropped 0"),
            "drained 9, replayed 9, dropped 0"
        );
        assert_eq!(detail_text(" 42 "), "42");
        assert_eq!(detail_text(""), "");
    }
}
