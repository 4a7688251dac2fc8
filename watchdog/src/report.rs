//! What one run produces, in the shape the alerts crate and `check --json` consume:
//! [`Finding`]s (one per incident a check looked at, ok or not), [`ActionReport`]s (what the
//! rules did about them) and the [`RunReport`] holding both.
//!
//! These types are the contract with `telbot-alerts`: small, serde-serializable and stable.
//! An incident key (e.g. `bot-down`) is the identity an alert policy tracks across runs; an
//! `ok` finding for a key that was failing is what makes a "resolved" message.

use serde::{Deserialize, Serialize};
pub use telbot_shared::action::ActionDetail;

/// How bad a finding is. Ordered: `Ok < Warning < Critical`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Nothing wrong.
    #[default]
    Ok,
    /// Wrong but not stopping users (or repaired in this run).
    Warning,
    /// Users are not being answered, or a repair failed or was not allowed.
    Critical,
}

impl Level {
    /// The CLI exit code for this level: 0, 1 or 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Level::Ok => 0,
            Level::Warning => 1,
            Level::Critical => 2,
        }
    }

    /// `ok`, `warning`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The incident keys the checks use (the alert policy's identity of a problem).
pub mod incident {
    /// getMe answered 401: nothing works until the token is fixed.
    pub const TOKEN_INVALID: &str = "token-invalid";
    /// The Bot API could not be reached (network, timeouts, 5xx).
    pub const TELEGRAM_UNREACHABLE: &str = "telegram-unreachable";
    /// Telegram reported a recent synchronization error on its side.
    pub const TELEGRAM_SYNC: &str = "telegram-sync";
    /// The webhook URL is not the expected one (or not set).
    pub const WEBHOOK_WRONG_URL: &str = "webhook-wrong-url";
    /// max_connections / allowed_updates differ from the configured ones.
    pub const WEBHOOK_CONFIG: &str = "webhook-config";
    /// Pending updates pile up behind a failing or stalled webhook.
    pub const WEBHOOK_STUCK: &str = "webhook-stuck";
    /// The bot's `/health` failed every attempt, or said `down`.
    pub const BOT_DOWN: &str = "bot-down";
    /// The bot's resident memory is above the limit.
    pub const BOT_MEMORY: &str = "bot-memory";
    /// `/health` answered slower than the threshold.
    pub const BOT_SLOW: &str = "bot-slow";
    /// The bot holds parked updates (`updates.parked` > 0): a person must replay or discard
    /// them (`watchdog replay-parked [--discard]`).
    pub const BOT_PARKED: &str = "bot-parked";
    /// The bot's store (its `checks.store`) is not ok.
    pub const BOT_STORE: &str = "bot-store";
    /// The handler success rate over the window is below the threshold.
    pub const BOT_SUCCESS_RATE: &str = "bot-success-rate";
    /// A dependency of the bot (`checks.<name>` other than store) is not ok.
    pub const BOT_DEPENDENCY: &str = "bot-dependency";
    /// `POST /webhook` without the secret was not refused with 401.
    pub const WEBHOOK_AUTH: &str = "webhook-auth";
    /// The bot's own `/webhook/health` says it is not healthy.
    pub const WEBHOOK_HEALTH: &str = "webhook-health";
    /// The watchdog's own store did not answer.
    pub const WATCHDOG_STORE: &str = "watchdog-store";
    /// A recovery left half done by an earlier watchdog was finished (or could not be).
    pub const RECOVERY_INTERRUPTED: &str = "recovery-interrupted";
    /// The checks did not finish within `watchdog.check_timeout`.
    pub const CHECK_TIMEOUT: &str = "check-timeout";
    /// A recovery drill (`watchdog drill`): passed, failed or not run.
    pub const RECOVERY_DRILL: &str = "recovery-drill";
    /// The webhook points at a backup deployment (`webhook.backup_urls`), not the primary.
    pub const WEBHOOK_FAILOVER: &str = "webhook-failover";
}

/// One check's verdict about one incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The check that produced it: `telegram`, `bot`, `performance`, `integration`, `recovery`.
    pub check: String,
    /// The incident key (see [`incident`]); stable across runs.
    pub incident: String,
    /// The level after this run's actions (a repaired problem is at most a warning; a repair
    /// past its hourly cap makes it critical).
    pub level: Level,
    /// What a person reading the alert needs to know, in one sentence. Never a secret.
    pub reason: String,
    /// The facts the verdict was based on (numbers, Telegram's error text), never a secret.
    #[serde(default)]
    pub evidence: serde_json::Value,
    /// True when an action in this run fixed it.
    #[serde(default)]
    pub repaired: bool,
}

impl Finding {
    /// A finding with no evidence.
    pub fn new(check: &str, incident: &str, level: Level, reason: impl Into<String>) -> Self {
        Finding {
            check: check.to_string(),
            incident: incident.to_string(),
            level,
            reason: reason.into(),
            evidence: serde_json::Value::Null,
            repaired: false,
        }
    }

    /// An `ok` finding (what clears an incident).
    pub fn ok(check: &str, incident: &str, reason: impl Into<String>) -> Self {
        Self::new(check, incident, Level::Ok, reason)
    }

    /// Adds evidence.
    pub fn with_evidence(mut self, evidence: serde_json::Value) -> Self {
        self.evidence = evidence;
        self
    }
}

/// The kinds of action the rules can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// `setWebhook` with the expected URL, secret, allowed_updates and max_connections.
    SetWebhook,
    /// delete → drain → replay → set, losing nothing.
    LosslessRecovery,
    /// Drop mode: pending updates thrown away, webhook set again.
    DropPending,
    /// Ask the platform to restart the bot.
    Restart,
    /// `setWebhook` to a backup deployment (`webhook.backup_urls`), pending updates kept.
    Failover,
    /// `setWebhook` back to the primary once it is healthy again, pending updates kept.
    Failback,
}

impl ActionKind {
    /// The name stored in `wd_actions.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::SetWebhook => "set-webhook",
            ActionKind::LosslessRecovery => "lossless-recovery",
            ActionKind::DropPending => "drop-pending",
            ActionKind::Restart => "restart",
            ActionKind::Failover => "failover",
            ActionKind::Failback => "failback",
        }
    }
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionResult {
    /// Done and it worked.
    Succeeded,
    /// Tried and it failed (see detail).
    Failed,
    /// Not tried: the previous one is younger than the cooldown.
    SkippedCooldown,
    /// Not tried: the hourly cap is reached; the incident is escalated to critical.
    SkippedCap,
    /// Not tried: nothing is configured to do it (e.g. no restart method).
    NotConfigured,
    /// Not tried here: another watchdog on the same store holds the leadership and acts.
    SkippedFollower,
    /// Not tried: a dry run (`watchdog.act = false`, `--dry-run`); what would have been done.
    DryRun,
}

impl ActionResult {
    /// The name stored in `wd_actions.result`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionResult::Succeeded => "succeeded",
            ActionResult::Failed => "failed",
            ActionResult::SkippedCooldown => "skipped-cooldown",
            ActionResult::SkippedCap => "skipped-cap",
            ActionResult::NotConfigured => "not-configured",
            ActionResult::SkippedFollower => "skipped-follower",
            ActionResult::DryRun => "dry-run",
        }
    }
}

/// One action the rules chose, and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionReport {
    /// What was (or would have been) done.
    pub kind: ActionKind,
    /// The incident that called for it.
    pub incident: String,
    /// Why, for a person.
    pub reason: String,
    /// How it ended.
    pub result: ActionResult,
    /// Details: recovery counts, what was set, the restart method, why, the error.
    #[serde(default)]
    pub detail: ActionDetail,
}

/// What an alert sink decided about one incident (printed by `check --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertDecision {
    /// The incident key.
    pub incident: String,
    /// The level the decision is about.
    pub level: Level,
    /// Where it went: `log`, `email`, ….
    pub channel: String,
    /// Whether a notification was sent (false: suppressed, e.g. repeat interval).
    pub notify: bool,
    /// Why, e.g. `new critical`, `repeat suppressed`, `resolved`.
    pub reason: String,
}

/// Everything one run found and did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Which schedule ran: `liveness`, `performance`, `integration`, or `manual`.
    pub run: String,
    /// Unix seconds at the start.
    pub started_at: i64,
    /// Unix seconds at the end.
    pub finished_at: i64,
    /// One per incident looked at, ok ones included.
    pub findings: Vec<Finding>,
    /// What the rules did.
    pub actions: Vec<ActionReport>,
}

impl RunReport {
    /// The worst level after repairs: the `check` exit code. A run that repaired something
    /// is at least a warning.
    pub fn level(&self) -> Level {
        let worst = self
            .findings
            .iter()
            .map(|f| f.level)
            .max()
            .unwrap_or(Level::Ok);
        let repaired = self
            .actions
            .iter()
            .any(|a| a.result == ActionResult::Succeeded);
        if repaired {
            worst.max(Level::Warning)
        } else {
            worst
        }
    }

    /// The finding for `incident`, if a check looked at it.
    pub fn finding(&self, incident: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.incident == incident)
    }

    /// Findings that are not ok.
    pub fn problems(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.level > Level::Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repaired_runs_are_warnings_and_critical_wins() {
        let mut r = RunReport {
            run: "manual".into(),
            started_at: 0,
            finished_at: 0,
            findings: vec![],
            actions: vec![],
        };
        assert_eq!(r.level(), Level::Ok);
        r.actions.push(ActionReport {
            kind: ActionKind::SetWebhook,
            incident: incident::WEBHOOK_WRONG_URL.into(),
            reason: "x".into(),
            result: ActionResult::Succeeded,
            detail: ActionDetail::default(),
        });
        assert_eq!(r.level(), Level::Warning);
        r.findings.push(Finding::new(
            "bot",
            incident::BOT_DOWN,
            Level::Critical,
            "down",
        ));
        assert_eq!(r.level(), Level::Critical);
        assert_eq!(r.level().exit_code(), 2);
    }

    #[test]
    fn serializes_with_lowercase_levels_and_kebab_kinds() {
        let a = serde_json::to_value(ActionKind::LosslessRecovery).ok();
        assert_eq!(a, Some(serde_json::json!("lossless-recovery")));
        assert_eq!(
            serde_json::to_value(Level::Critical).ok(),
            Some(serde_json::json!("critical"))
        );
    }
}
