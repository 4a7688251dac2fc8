//! Lossless webhook recovery, written once for both daemons:
//!
//! - [`run`]: the sequence (getWebhookInfo → record the phase → deleteWebhook keeping the
//!   updates → getUpdates, each batch handed to a [`run::Drain`] and confirmed only after it
//!   was taken → setWebhook again, always → clear the phase), and [`run::resume`] of one a
//!   killed process left half done. bot-server drains into its inbox, the watchdog replays to
//!   the bot over HTTP; both run this code.
//! - [`RecoveryState`]: a recovery's persisted phase (in `kv`), written before deleteWebhook
//!   and removed once the webhook is set again, so an interrupted one can be finished;
//!   written only through the recovery lock ([`crate::lease::RECOVERY_LOCK`]), fenced by it.

pub mod run;

use serde::{Deserialize, Serialize};

use crate::lease::Lease;
use crate::store::{Db, StoreError};

/// The `kv` key of the persisted phase (the watchdog's historical name, kept for old stores).
const KV_RECOVERY: &str = "watchdog.recovery";

/// The webhook settings a recovery restores: read from getWebhookInfo before deleteWebhook
/// (the secret is not shown by Telegram and comes from the config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSettings {
    /// The URL to set again.
    pub url: String,
    /// `max_connections` as Telegram had it.
    pub max_connections: u32,
    /// `allowed_updates` as Telegram had it; empty means Telegram's default set.
    pub allowed_updates: Vec<String>,
    /// A fixed IP address to keep (configured, registered by the bot, or fixed at Telegram).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}

/// Where a recovery is: each phase is persisted before its step starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Before `deleteWebhook` (an interrupted one may or may not have deleted it).
    Deleting,
    /// Taking the pending updates with getUpdates and handing them to the bot.
    Draining,
    /// Setting the webhook again.
    Setting,
}

impl Phase {
    /// The name stored and shown: `deleting`, `draining`, `setting`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Deleting => "deleting",
            Phase::Draining => "draining",
            Phase::Setting => "setting",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which daemon runs a recovery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runner {
    /// The watchdog (`watchdog recover`, or its rules).
    #[default]
    Watchdog,
    /// The bot-server (`POST /webhook/recover`, the dashboard's button).
    BotServer,
}

impl Runner {
    /// `watchdog` or `bot-server`.
    pub fn as_str(self) -> &'static str {
        match self {
            Runner::Watchdog => "watchdog",
            Runner::BotServer => "bot-server",
        }
    }
}

/// What a recovery did: the answer of `POST /webhook/recover` and, turned into the action
/// module's `ActionDetail`, the watchdog's record of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecoveryReport {
    /// Updates taken from Telegram with getUpdates.
    pub drained: u64,
    /// Of those, the ones the bot took (new to its inbox, or answered 200).
    pub replayed: u64,
    /// Of those, already in the inbox (the bot-server's own recovery).
    #[serde(default)]
    pub duplicates: u64,
    /// Thrown away: always 0 in lossless mode.
    pub dropped: u64,
    /// Whether the webhook is set again at the end.
    pub webhook_restored: bool,
    /// The pending count Telegram reported before, if asked.
    #[serde(default)]
    pub pending_before: Option<u64>,
    /// Problems met, in order (the webhook is set again regardless).
    #[serde(default)]
    pub errors: Vec<String>,
    /// Whether this finished a recovery an earlier run left half done.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
    /// Not run: somebody else holds the recovery lock (`errors` says who).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub busy: bool,
}

impl RecoveryReport {
    /// Webhook set and nothing failed.
    pub fn ok(&self) -> bool {
        self.webhook_restored && self.errors.is_empty()
    }
}

/// A recovery's persisted progress. Written before `deleteWebhook`; removed once the webhook
/// is set again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryState {
    /// Where it is.
    pub phase: Phase,
    /// The next getUpdates offset (everything below it was handed over and confirmed).
    pub offset: Option<i64>,
    /// Updates drained so far.
    pub drained: u64,
    /// Updates the bot took so far.
    pub replayed: u64,
    /// When the recovery started.
    pub started_at: i64,
    /// The watchdog's `wd_actions` row of the recovery.
    pub action_id: Option<i64>,
    /// Who runs it.
    #[serde(default)]
    pub by: Runner,
    /// What to restore (None in records written by older builds: the config then).
    #[serde(default)]
    pub settings: Option<WebhookSettings>,
    /// Drain at most this many updates (the pending count when the drain began); newer ones
    /// are delivered by the webhook once it is set again.
    #[serde(default)]
    pub drain_limit: Option<u64>,
    /// The lease owner that wrote it (`watchdog on host (pid 12)`): written through
    /// [`Lease::save_state`] only, so it is always the holder of the recovery lock at the time.
    #[serde(default)]
    pub holder: Option<String>,
}

/// The recovery left in the store, if any.
pub async fn load_state(db: &Db) -> Result<Option<RecoveryState>, StoreError> {
    Ok(db
        .kv_get(KV_RECOVERY)
        .await?
        .and_then(|v| serde_json::from_str(&v).ok()))
}

/// Persists recovery progress.
pub async fn save_state(db: &Db, s: &RecoveryState) -> Result<(), StoreError> {
    let text = serde_json::to_string(s).map_err(|e| StoreError::Db(e.to_string()))?;
    db.kv_set(KV_RECOVERY, &text).await
}

/// The recovery is finished: the webhook is set again.
pub async fn clear_state(db: &Db) -> Result<(), StoreError> {
    db.kv_delete(KV_RECOVERY).await
}

impl Lease {
    /// Persists recovery progress with this lease's owner as its `holder`, fenced by the
    /// lease's token: false (nothing written) when the lease was lost, so a holder that
    /// stalled past its ttl cannot overwrite the phase of the one that took over.
    pub async fn save_state(&self, s: &RecoveryState) -> Result<bool, StoreError> {
        let mut s = s.clone();
        s.holder = Some(self.owner().to_string());
        let text = serde_json::to_string(&s).map_err(|e| StoreError::Db(e.to_string()))?;
        self.kv_set_fenced(KV_RECOVERY, &text).await
    }

    /// Removes the finished recovery's phase, fenced like [`Lease::save_state`]: false when
    /// the lease was lost (the phase is left for whoever holds it now, or the next resume).
    pub async fn clear_state(&self) -> Result<bool, StoreError> {
        self.kv_delete_fenced(KV_RECOVERY).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::lease::{LEASE_TTL, Lease};
    use std::time::Duration;

    fn state(phase: Phase) -> RecoveryState {
        RecoveryState {
            phase,
            offset: Some(7),
            drained: 1,
            replayed: 1,
            started_at: 0,
            action_id: None,
            by: Runner::Watchdog,
            settings: None,
            drain_limit: None,
            holder: None,
        }
    }

    #[test]
    fn phases_and_runners_are_stored_by_their_old_names() {
        let s = serde_json::to_value(state(Phase::Draining)).unwrap();
        assert_eq!(s["phase"], "draining");
        assert_eq!(s["by"], "watchdog");
        let old = r#"{"phase":"setting","offset":null,"drained":0,"replayed":0,"started_at":1,"action_id":null}"#;
        let st: RecoveryState = serde_json::from_str(old).unwrap();
        assert_eq!((st.phase, st.by), (Phase::Setting, Runner::Watchdog));
        let bot = r#"{"phase":"deleting","offset":null,"drained":0,"replayed":0,"started_at":1,"action_id":null,"by":"bot-server"}"#;
        let st: RecoveryState = serde_json::from_str(bot).unwrap();
        assert_eq!(st.by, Runner::BotServer);
        assert!(serde_json::from_str::<RecoveryState>(&old.replace("setting", "dancing")).is_err());
    }

    #[tokio::test]
    async fn the_phase_carries_its_holder_and_a_lost_lease_cannot_write_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::lease::tests::db(&dir).await;
        let dead = Lease::acquire(&db, "stalled watchdog", Duration::ZERO)
            .await
            .unwrap();
        assert!(dead.save_state(&state(Phase::Draining)).await.unwrap());
        let saved = load_state(&db).await.unwrap().unwrap();
        assert_eq!(saved.holder.as_deref(), Some("stalled watchdog"));
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let next = Lease::acquire(&db, "next watchdog", LEASE_TTL)
            .await
            .unwrap();
        assert!(next.save_state(&state(Phase::Setting)).await.unwrap());
        // The stalled one wakes up: neither its progress nor its clear lands.
        assert!(!dead.save_state(&state(Phase::Draining)).await.unwrap());
        assert!(!dead.clear_state().await.unwrap());
        let now = load_state(&db).await.unwrap().unwrap();
        assert_eq!(now.phase, Phase::Setting);
        assert_eq!(now.holder.as_deref(), Some("next watchdog"));
        assert!(next.clear_state().await.unwrap());
        assert!(load_state(&db).await.unwrap().is_none());
        next.release().await.unwrap();
    }
}
