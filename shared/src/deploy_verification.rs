//! The watchdog's verification of the bot's latest deploy (`kv` row [`KV_KEY`]): the watchdog
//! writes it when `/health` shows a new process and again when `/webhook/health` says healthy
//! or the time is up; the dashboard shows it ("last deploy verification: ok at …").

use serde::{Deserialize, Serialize};

use crate::store::{Db, StoreError};

/// The `kv` key of the record.
pub const KV_KEY: &str = "watchdog.deploy_verification";

/// Where the verification of a deploy stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifyStatus {
    /// The process was running before the watchdog first saw it: not a deploy it watched.
    Unverified,
    /// Noticed; `/webhook/health` not healthy yet, the time not up.
    Running,
    /// `/webhook/health` said healthy within the time.
    Ok,
    /// Not healthy within the time.
    Failed,
}

impl VerifyStatus {
    /// `unverified`, `running`, `ok`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyStatus::Unverified => "unverified",
            VerifyStatus::Running => "running",
            VerifyStatus::Ok => "ok",
            VerifyStatus::Failed => "failed",
        }
    }
}

/// The latest deploy the watchdog saw and how its verification went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployVerification {
    /// `/health`'s `version`.
    pub version: String,
    /// When the process started (unix seconds: the time it was seen minus its `uptime_s`).
    pub started_at: i64,
    /// When the watchdog noticed it.
    pub noticed_at: i64,
    /// Where it stands.
    pub status: VerifyStatus,
    /// When it became `ok` or `failed`.
    pub finished_at: Option<i64>,
    /// A failed deploy that turned healthy later: when.
    #[serde(default)]
    pub healed_at: Option<i64>,
    /// What `/webhook/health` said last (its problems), for people.
    pub detail: String,
}

/// The record, if the watchdog wrote one (an unreadable one counts as none).
pub async fn load(db: &Db) -> Result<Option<DeployVerification>, StoreError> {
    Ok(db
        .kv_get(KV_KEY)
        .await?
        .and_then(|v| serde_json::from_str(&v).ok()))
}

/// Writes the record.
pub async fn save(db: &Db, v: &DeployVerification) -> Result<(), StoreError> {
    let text = serde_json::to_string(v).unwrap_or_default();
    db.kv_set(KV_KEY, &text).await
}
