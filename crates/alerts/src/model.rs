//! What the watchdog hands the pipeline ([`Observation`]) and what it gets back ([`Decision`]).

use serde::{Deserialize, Serialize};

pub use telbot_shared::level::Level;

/// Something the watchdog already did about a finding, shown in the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ActionNote {
    /// What it did, e.g. `reset_webhook`, `lossless_recovery`, `restart`.
    pub kind: String,
    /// How it went, e.g. `ok`, `failed`, `skipped (cooldown)`.
    pub result: String,
    /// Free text, e.g. `drained 12, replayed 12, dropped 0`.
    pub detail: String,
}

/// The incident key of `watchdog test-alert`'s message (no incident is kept for it).
pub(crate) const TEST_INCIDENT: &str = "test-alert";

/// One check's result in one watchdog run.
///
/// A check that passed should still be reported, with [`Level::Ok`] and the same `key`:
/// that is what resolves an incident. A key absent from a run is left as it is (not checked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The incident key: `bot-down`, `webhook-stuck`, `webhook-wrong-url`,
    /// `telegram-unreachable`, `token-invalid`, …
    pub key: String,
    /// How bad it is.
    pub level: Level,
    /// One line for a person: what is wrong (becomes the subject).
    pub summary: String,
    /// The raw facts: getWebhookInfo fields, the `/health` answer, …
    #[serde(default)]
    pub evidence: serde_json::Value,
    /// What the watchdog already did, with results.
    #[serde(default)]
    pub actions: Vec<ActionNote>,
    /// The next manual step, e.g. `watchdog recover`.
    #[serde(default)]
    pub runbook_cmd: Option<String>,
    /// What a person reads when it clears, e.g. `the bot answers /health again`: the RESOLVED
    /// subject says this (and how long it lasted), not the failure text again. `None`:
    /// `<key> cleared`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<String>,
}

impl Observation {
    /// An observation with no evidence, actions or runbook command.
    pub fn new(key: impl Into<String>, level: Level, summary: impl Into<String>) -> Self {
        Observation {
            key: key.into(),
            level,
            summary: summary.into(),
            evidence: serde_json::Value::Null,
            actions: Vec::new(),
            runbook_cmd: None,
            recovered: None,
        }
    }

    /// A passing check for `key`.
    pub fn normal(key: impl Into<String>) -> Self {
        Observation::new(key, Level::Ok, "ok")
    }
}

/// What the pipeline did with one observation (or with a held incident whose silence ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecisionKind {
    /// Nothing wrong and no incident.
    Ok,
    /// Failing, but fewer consecutive failures than `failure_threshold`: logged only.
    SuppressedByThreshold,
    /// The incident opened and its first message was queued.
    Opened,
    /// Queued a message for an open incident: its level rose, or a silence on it ended.
    Notified,
    /// Still open and already notified within `repeat_interval`: nothing sent.
    Ongoing,
    /// Still open after `repeat_interval`: a reminder was queued.
    Repeat,
    /// Still open, critical and unacknowledged after `escalate_after`: queued for the
    /// escalation channels as well.
    Escalated,
    /// Passing again, fewer consecutive successes than `success_threshold`: still open.
    Recovering,
    /// Cleared: the RESOLVED message was queued (or nobody had been told).
    Resolved,
    /// A message was due but a silence or maintenance window holds it back.
    Silenced,
}

/// The pipeline's answer for one incident key in one run; printed by `watchdog check --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The incident key.
    pub key: String,
    /// The observed level.
    pub level: Level,
    /// What happened.
    pub kind: DecisionKind,
    /// The channels a message was queued for (empty when nothing was sent).
    pub channels: Vec<String>,
    /// Why, for a person (e.g. `1/2 consecutive failures`, `silenced until …`).
    pub detail: String,
}
