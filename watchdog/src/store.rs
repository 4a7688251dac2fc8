//! What the watchdog keeps in the shared store: its actions (`wd_actions`, which cooldowns and
//! caps are counted from), its runs (`wd_runs`), and small state in `kv` — the phase of a
//! recovery in progress (so an interrupted one is finished on the next start), the previous
//! webhook observation, and the bot's counters for the success rate.

use serde::{Deserialize, Serialize};
use telbot_shared::store::{Db, StoreError};

use crate::report::{ActionKind, ActionResult, RunReport};

const KV_WEBHOOK: &str = "watchdog.webhook.previous";
const KV_SAMPLES: &str = "watchdog.bot.samples";
pub(crate) use telbot_shared::failover::FailedOver;
use telbot_shared::failover::KV_FAILOVER;

/// Runs older than this are pruned.
const KEEP_RUNS_SECS: i64 = 8 * 24 * 3600;
/// Drill runs older than this are pruned.
const KEEP_DRILLS_SECS: i64 = 90 * 24 * 3600;

pub(crate) use telbot_shared::recovery::{RecoveryState, WebhookSettings};

/// What the previous check saw of the webhook, to tell "not decreasing" and "new errors".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookObservation {
    /// When it was seen.
    pub at: i64,
    /// pending_update_count.
    pub pending: u64,
    /// last_error_date.
    pub last_error_date: Option<i64>,
    /// Whether that check saw a new error.
    pub new_error: bool,
}

/// One sample of the bot's counters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CounterSample {
    /// When.
    pub at: i64,
    /// `updates.processed`.
    pub processed: u64,
    /// `updates.failed`.
    pub failed: u64,
}

/// The watchdog's view of the store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WdStore {
    db: Db,
}

impl WdStore {
    /// Wraps a connected (and migrated) store.
    pub fn new(db: Db) -> Self {
        WdStore { db }
    }

    /// The underlying store.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Records an action as started; returns its id.
    pub async fn action_started(
        &self,
        kind: ActionKind,
        reason: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO wd_actions (kind, reason, result, started_at) VALUES ($1, $2, 'running', $3) RETURNING id",
        )
        .bind(kind.as_str())
        .bind(reason)
        .bind(now)
        .fetch_one(&self.db.pool)
        .await?)
    }

    /// Records how an action ended.
    pub async fn action_finished(
        &self,
        id: i64,
        result: ActionResult,
        detail: &telbot_shared::action::ActionDetail,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE wd_actions SET result = $1, detail = $2, finished_at = $3 WHERE id = $4",
        )
        .bind(result.as_str())
        .bind(detail.to_json())
        .bind(now)
        .bind(id)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Actions of `kind` attempted (not skipped) since `since`, and the start of the latest.
    pub async fn attempts_since(
        &self,
        kind: ActionKind,
        since: i64,
    ) -> Result<(i64, Option<i64>), StoreError> {
        Ok(sqlx::query_as(
            "SELECT COUNT(*), MAX(started_at) FROM wd_actions \
             WHERE kind = $1 AND started_at >= $2 AND result IN ('running', 'succeeded', 'failed')",
        )
        .bind(kind.as_str())
        .bind(since)
        .fetch_one(&self.db.pool)
        .await?)
    }

    /// The latest attempted action of `kind` at any time (for the cooldown).
    pub async fn last_attempt(&self, kind: ActionKind) -> Result<Option<i64>, StoreError> {
        Ok(self.attempts_since(kind, i64::MIN).await?.1)
    }

    /// Keeps a run for the dashboard, pruning old ones.
    pub async fn save_run(&self, r: &RunReport) -> Result<(), StoreError> {
        let json = serde_json::to_string(r).unwrap_or_else(|_| "{}".into());
        sqlx::query("INSERT INTO wd_runs (run, level, report, started_at, finished_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&r.run)
            .bind(r.level().as_str())
            .bind(json)
            .bind(r.started_at)
            .bind(r.finished_at)
            .execute(&self.db.pool)
            .await?;
        // Drills are kept longer: the weekly report says when recovery was last tested.
        sqlx::query(
            "DELETE FROM wd_runs WHERE started_at < $1 AND (run <> 'drill' OR started_at < $2)",
        )
        .bind(r.started_at - KEEP_RUNS_SECS)
        .bind(r.started_at - KEEP_DRILLS_SECS)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// The recovery in progress, if one was left behind.
    pub async fn recovery(&self) -> Result<Option<RecoveryState>, StoreError> {
        telbot_shared::recovery::load_state(&self.db).await
    }

    /// The previous webhook observation.
    pub async fn webhook_observation(&self) -> Result<Option<WebhookObservation>, StoreError> {
        self.get_json(KV_WEBHOOK).await
    }

    /// Saves this check's webhook observation.
    pub async fn set_webhook_observation(&self, o: &WebhookObservation) -> Result<(), StoreError> {
        self.set_json(KV_WEBHOOK, o).await
    }

    /// The bot's counter samples, oldest first.
    pub async fn samples(&self) -> Result<Vec<CounterSample>, StoreError> {
        Ok(self.get_json(KV_SAMPLES).await?.unwrap_or_default())
    }

    /// Replaces the counter samples.
    pub async fn set_samples(&self, s: &[CounterSample]) -> Result<(), StoreError> {
        self.set_json(KV_SAMPLES, &s).await
    }

    /// The webhook failover in force, if any.
    pub async fn failover(&self) -> Result<Option<FailedOver>, StoreError> {
        telbot_shared::failover::load(&self.db).await
    }

    /// Records the webhook failover.
    pub async fn set_failover(&self, f: &FailedOver) -> Result<(), StoreError> {
        self.set_json(KV_FAILOVER, f).await
    }

    /// The webhook points at the primary again.
    pub async fn clear_failover(&self) -> Result<(), StoreError> {
        self.db.kv_delete(KV_FAILOVER).await
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        Ok(self
            .db
            .kv_get(key)
            .await?
            .and_then(|v| serde_json::from_str(&v).ok()))
    }

    async fn set_json<T: Serialize>(&self, key: &str, v: &T) -> Result<(), StoreError> {
        let text = serde_json::to_string(v).map_err(|e| StoreError::Db(e.to_string()))?;
        self.db.kv_set(key, &text).await
    }
}
