//! What one run produces, in the shape the alerts crate and `check --json` consume:
//! [`Finding`]s (one per incident a check looked at, ok or not), [`ActionReport`]s (what the
//! rules did about them) and the [`RunReport`] holding both.
//!
//! These types are the contract with `telbot-alerts`: small, serde-serializable and stable.
//! An incident key (e.g. `bot-down`) is the identity an alert policy tracks across runs; an
//! `ok` finding for a key that was failing is what makes a "resolved" message.

use serde::{Deserialize, Serialize};
pub(crate) use telbot_shared::action::ActionDetail;

pub use telbot_shared::level::Level;

/// An incident: the alert policy's identity of a problem, stable across runs and stored by
/// its key (`bot-down`, `webhook-stuck`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Incident {
    /// getMe answered 401: nothing works until the token is fixed.
    TokenInvalid,
    /// The Bot API could not be reached (network, timeouts, 5xx).
    TelegramUnreachable,
    /// Telegram reported a recent synchronization error on its side.
    TelegramSync,
    /// The webhook URL is not the expected one (or not set).
    WebhookWrongUrl,
    /// max_connections / allowed_updates differ from the configured ones.
    WebhookConfig,
    /// Pending updates pile up behind a failing or stalled webhook.
    WebhookStuck,
    /// The bot's `/health` failed every attempt, or said `down`.
    BotDown,
    /// The bot's resident memory is above the limit.
    BotMemory,
    /// `/health` answered slower than the threshold.
    BotSlow,
    /// The bot holds parked updates (`updates.parked` > 0): a person must replay or discard
    /// them (`watchdog replay-parked [--discard]`).
    BotParked,
    /// The bot's store (its `checks.store`) is not ok.
    BotStore,
    /// The handler success rate over the window is below the threshold.
    BotSuccessRate,
    /// A dependency of the bot (`checks.<name>` other than store) is not ok.
    BotDependency,
    /// `POST /webhook` without the secret was not refused with 401.
    WebhookAuth,
    /// The bot's own `/webhook/health` says it is not healthy.
    WebhookHealth,
    /// The watchdog's own store did not answer.
    WatchdogStore,
    /// A recovery left half done by an earlier watchdog was finished (or could not be).
    RecoveryInterrupted,
    /// The checks did not finish within `watchdog.check_timeout`.
    CheckTimeout,
    /// A recovery drill (`watchdog drill`): passed, failed or not run.
    RecoveryDrill,
    /// The webhook points at a backup deployment (`webhook.backup_urls`), not the primary.
    WebhookFailover,
    /// The watchdog reached neither the Bot API nor the bot (or not its reference URL): its
    /// own network is the problem, and it acts on nothing it cannot see.
    WatchdogBlind,
    /// Another process uses the bot's token: it deletes the webhook, or polls getUpdates, and
    /// takes users' updates the bot never sees.
    TokenConflict,
    /// The integration run's canary update was not taken through the inbox in time (or not
    /// taken at all): the bot answers its health checks but does not process updates.
    Canary,
    /// The bot's machine or process past a resource warning level (system memory, CPU, disk),
    /// or its memory approaching the RSS limit it is restarted at.
    BotResources,
    /// One of the bot's periodic jobs (inbox prune, dialogue sweep, store ping) is late.
    BotJobs,
    /// The last hour's response time as users feel it (stored → handled) is above the
    /// threshold at the 95th percentile.
    BotResponseTime,
    /// The last hour's share of updates handled without being parked is below the threshold.
    BotHandled,
    /// The TLS certificate of PUBLIC_URL's host expires soon, has expired, is issued for
    /// another host or is not trusted: Telegram refuses to deliver to it.
    TlsCertificate,
    /// A new deploy of the bot did not become healthy (`/webhook/health`) within
    /// `watchdog.deploy.verify_timeout`.
    DeployVerify,
}

impl Incident {
    /// Every incident the checks judge.
    pub const ALL: [Incident; 29] = [
        Incident::TokenInvalid,
        Incident::TelegramUnreachable,
        Incident::TelegramSync,
        Incident::WebhookWrongUrl,
        Incident::WebhookConfig,
        Incident::WebhookStuck,
        Incident::BotDown,
        Incident::BotMemory,
        Incident::BotSlow,
        Incident::BotParked,
        Incident::BotStore,
        Incident::BotSuccessRate,
        Incident::BotDependency,
        Incident::WebhookAuth,
        Incident::WebhookHealth,
        Incident::WatchdogStore,
        Incident::RecoveryInterrupted,
        Incident::CheckTimeout,
        Incident::RecoveryDrill,
        Incident::WebhookFailover,
        Incident::WatchdogBlind,
        Incident::TokenConflict,
        Incident::Canary,
        Incident::BotResources,
        Incident::BotJobs,
        Incident::BotResponseTime,
        Incident::BotHandled,
        Incident::TlsCertificate,
        Incident::DeployVerify,
    ];

    /// The key stored and shown, e.g. `bot-down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Incident::TokenInvalid => "token-invalid",
            Incident::TelegramUnreachable => "telegram-unreachable",
            Incident::TelegramSync => "telegram-sync",
            Incident::WebhookWrongUrl => "webhook-wrong-url",
            Incident::WebhookConfig => "webhook-config",
            Incident::WebhookStuck => "webhook-stuck",
            Incident::BotDown => "bot-down",
            Incident::BotMemory => "bot-memory",
            Incident::BotSlow => "bot-slow",
            Incident::BotParked => "bot-parked",
            Incident::BotStore => "bot-store",
            Incident::BotSuccessRate => "bot-success-rate",
            Incident::BotDependency => "bot-dependency",
            Incident::WebhookAuth => "webhook-auth",
            Incident::WebhookHealth => "webhook-health",
            Incident::WatchdogStore => "watchdog-store",
            Incident::RecoveryInterrupted => "recovery-interrupted",
            Incident::CheckTimeout => "check-timeout",
            Incident::RecoveryDrill => "recovery-drill",
            Incident::WebhookFailover => "webhook-failover",
            Incident::WatchdogBlind => "watchdog-blind",
            Incident::TokenConflict => "token-conflict",
            Incident::Canary => "canary",
            Incident::BotResources => "bot-resources",
            Incident::BotJobs => "bot-jobs",
            Incident::BotResponseTime => "bot-response-time",
            Incident::BotHandled => "bot-handled",
            Incident::TlsCertificate => "tls-certificate",
            Incident::DeployVerify => "deploy-verify",
        }
    }

    /// The incident of a stored key, if this build knows it.
    pub fn from_key(key: &str) -> Option<Incident> {
        Self::ALL.into_iter().find(|i| i.as_str() == key)
    }
}

impl std::fmt::Display for Incident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Incident {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Incident {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Incident {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

/// The incidents by their old constant names (`incident::BOT_DOWN`).
pub mod incident {
    use super::Incident;

    /// getMe answered 401: nothing works until the token is fixed.
    pub const TOKEN_INVALID: Incident = Incident::TokenInvalid;
    /// The Bot API could not be reached (network, timeouts, 5xx).
    pub const TELEGRAM_UNREACHABLE: Incident = Incident::TelegramUnreachable;
    /// Telegram reported a recent synchronization error on its side.
    pub const TELEGRAM_SYNC: Incident = Incident::TelegramSync;
    /// The webhook URL is not the expected one (or not set).
    pub const WEBHOOK_WRONG_URL: Incident = Incident::WebhookWrongUrl;
    /// max_connections / allowed_updates differ from the configured ones.
    pub const WEBHOOK_CONFIG: Incident = Incident::WebhookConfig;
    /// Pending updates pile up behind a failing or stalled webhook.
    pub const WEBHOOK_STUCK: Incident = Incident::WebhookStuck;
    /// The bot's `/health` failed every attempt, or said `down`.
    pub const BOT_DOWN: Incident = Incident::BotDown;
    /// The bot's resident memory is above the limit.
    pub const BOT_MEMORY: Incident = Incident::BotMemory;
    /// `/health` answered slower than the threshold.
    pub const BOT_SLOW: Incident = Incident::BotSlow;
    /// The bot holds parked updates (`updates.parked` > 0): a person must replay or discard
    /// them (`watchdog replay-parked [--discard]`).
    pub const BOT_PARKED: Incident = Incident::BotParked;
    /// The bot's store (its `checks.store`) is not ok.
    pub const BOT_STORE: Incident = Incident::BotStore;
    /// The handler success rate over the window is below the threshold.
    pub const BOT_SUCCESS_RATE: Incident = Incident::BotSuccessRate;
    /// A dependency of the bot (`checks.<name>` other than store) is not ok.
    pub const BOT_DEPENDENCY: Incident = Incident::BotDependency;
    /// `POST /webhook` without the secret was not refused with 401.
    pub const WEBHOOK_AUTH: Incident = Incident::WebhookAuth;
    /// The bot's own `/webhook/health` says it is not healthy.
    pub const WEBHOOK_HEALTH: Incident = Incident::WebhookHealth;
    /// The watchdog's own store did not answer.
    pub const WATCHDOG_STORE: Incident = Incident::WatchdogStore;
    /// A recovery left half done by an earlier watchdog was finished (or could not be).
    pub const RECOVERY_INTERRUPTED: Incident = Incident::RecoveryInterrupted;
    /// The checks did not finish within `watchdog.check_timeout`.
    pub const CHECK_TIMEOUT: Incident = Incident::CheckTimeout;
    /// A recovery drill (`watchdog drill`): passed, failed or not run.
    pub const RECOVERY_DRILL: Incident = Incident::RecoveryDrill;
    /// The webhook points at a backup deployment (`webhook.backup_urls`), not the primary.
    pub const WEBHOOK_FAILOVER: Incident = Incident::WebhookFailover;
    /// The watchdog cannot see: its own network is cut.
    pub const WATCHDOG_BLIND: Incident = Incident::WatchdogBlind;
    /// Another process uses the bot's token.
    pub const TOKEN_CONFLICT: Incident = Incident::TokenConflict;
    /// The canary update was not processed in time.
    pub const CANARY: Incident = Incident::Canary;
    /// A resource past its warning level, or memory approaching the RSS limit.
    pub const BOT_RESOURCES: Incident = Incident::BotResources;
    /// A periodic job of the bot is late.
    pub const BOT_JOBS: Incident = Incident::BotJobs;
    /// The last hour's p95 response time is above the threshold.
    pub const BOT_RESPONSE_TIME: Incident = Incident::BotResponseTime;
    /// The last hour's handled share is below the threshold.
    pub const BOT_HANDLED: Incident = Incident::BotHandled;
    /// The bot's TLS certificate is expiring, expired, for another host or not trusted.
    pub const TLS_CERTIFICATE: Incident = Incident::TlsCertificate;
    /// A new deploy did not become healthy in time.
    pub const DEPLOY_VERIFY: Incident = Incident::DeployVerify;
}

/// One check's verdict about one incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The check that produced it: `telegram`, `bot`, `performance`, `integration`, `recovery`.
    pub check: String,
    /// The incident it judges; stable across runs.
    pub incident: Incident,
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
    pub fn new(check: &str, incident: Incident, level: Level, reason: impl Into<String>) -> Self {
        Finding {
            check: check.to_string(),
            incident,
            level,
            reason: reason.into(),
            evidence: serde_json::Value::Null,
            repaired: false,
        }
    }

    /// An `ok` finding (what clears an incident).
    pub fn ok(check: &str, incident: Incident, reason: impl Into<String>) -> Self {
        Self::new(check, incident, Level::Ok, reason)
    }

    /// At most a warning from now on, the reason saying why (` — {why}` appended): a repair in
    /// this run, or a cause that explains it and is paged (or handled) on its own.
    pub fn soften(&mut self, why: impl std::fmt::Display) {
        self.level = self.level.min(Level::Warning);
        self.reason = format!("{} — {why}", self.reason);
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
    pub incident: Incident,
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
    pub fn finding(&self, incident: Incident) -> Option<&Finding> {
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
    fn incidents_are_stored_by_their_keys_and_read_back() {
        let keys: Vec<&str> = Incident::ALL.iter().map(|i| i.as_str()).collect();
        let unique: std::collections::BTreeSet<&str> = keys.iter().copied().collect();
        assert_eq!(unique.len(), keys.len(), "one key per incident");
        assert!(keys.contains(&"bot-down") && keys.contains(&"webhook-wrong-url"));
        for i in Incident::ALL {
            let json = serde_json::to_value(i).unwrap_or_default();
            assert_eq!(json, i.as_str(), "serde and as_str agree");
            assert_eq!(Incident::from_key(i.as_str()), Some(i));
            assert_eq!(serde_json::from_value::<Incident>(json).ok(), Some(i));
        }
        assert_eq!(Incident::from_key("no-such-incident"), None);
        let f = Finding::ok("bot", incident::BOT_SUCCESS_RATE, "fine");
        assert_eq!(
            serde_json::to_value(&f).unwrap_or_default()["incident"],
            "bot-success-rate"
        );
    }

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
            incident: incident::WEBHOOK_WRONG_URL,
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
