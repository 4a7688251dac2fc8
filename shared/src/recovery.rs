//! What both daemons share about webhook recovery:
//!
//! - [`Lease`]: a named lease, a row in `recovery_lock` with owner and expiry taken by
//!   compare-and-set (works on SQLite and PostgreSQL, through a transaction-mode pooler; no
//!   advisory locks). Two names are used:
//!   - [`RECOVERY_LOCK`], the ONE recovery lock: the watchdog and bot-server's
//!     `POST /webhook/recover` (the dashboard's button) both take it, so only one recovery
//!     runs at a time; bot-server also leaves the queue alone (no polling, no setWebhook of
//!     its own) while somebody holds it.
//!   - [`WEBHOOK_LEADER`], the bot-servers' leadership over what faces Telegram (setWebhook
//!     at start, polling, the restore loop).
//!   - [`LEADER_LOCK`], the watchdogs' leadership: of several `watchdog run` / `watchdog
//!     check` processes on one store, the holder acts and alerts, the others observe.
//! - [`RecoveryState`]: a recovery's persisted phase (in `kv`), written before deleteWebhook
//!   and removed once the webhook is set again, so an interrupted one can be finished.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::{Db, StoreError};

/// The recovery lock's row name.
pub const RECOVERY_LOCK: &str = "webhook-recovery";
/// The watchdogs' leadership lease's row name.
pub const LEADER_LOCK: &str = "watchdog-leader";
/// The bot-servers' leadership lease's row name: of several bot-servers on one PostgreSQL,
/// the holder registers the webhook, runs the polling fallback and its restore loop.
pub const WEBHOOK_LEADER: &str = "webhook-leader";
/// The `kv` key of the persisted phase (the watchdog's historical name, kept for old stores).
const KV_RECOVERY: &str = "watchdog.recovery";

/// How long a lease lasts unless renewed. A held lease is renewed in the background every
/// third of it (and at every drain batch), so a killed holder blocks others this long at most.
pub const LEASE_TTL: Duration = Duration::from_secs(30);

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Somebody else holds an unexpired lease.
    #[error("a recovery is already running (owner {owner})")]
    Held {
        /// Who holds it, e.g. `watchdog on host (pid 12)`.
        owner: String,
        /// Until when (unix seconds) unless renewed.
        expires_at: i64,
    },
    /// The store did not answer.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who holds the lock now.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Holder {
    /// Owner name.
    pub owner: String,
    /// Lease end (unix seconds).
    pub expires_at: i64,
}

/// A held recovery lock, kept alive in the background while it is held. Release it when
/// done; dropped without a release (a cancelled or panicking task) it is released in the
/// background; a killed process's lease expires after its ttl.
#[derive(Debug)]
pub struct Lease {
    db: Db,
    name: &'static str,
    owner: String,
    /// Tells this lease from a later one with the same owner name.
    token: String,
    ttl: Duration,
    /// Renews the lease every ttl/3 (not for leases shorter than 3 s).
    keeper: Option<tokio::task::AbortHandle>,
    /// Set by the keeper when a renewal found the lease gone (it expired and was taken).
    lost: std::sync::Arc<std::sync::atomic::AtomicBool>,
    released: bool,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(k) = self.keeper.take() {
            k.abort();
        }
        if self.released {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (db, name, token) = (self.db.clone(), self.name, self.token.clone());
            rt.spawn(async move {
                let _ = delete(&db, name, &token).await;
            });
        }
    }
}

async fn delete(db: &Db, name: &str, token: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM recovery_lock WHERE name = $1 AND token = $2")
        .bind(name)
        .bind(token)
        .execute(&db.pool)
        .await?;
    Ok(())
}

async fn extend(db: &Db, name: &str, token: &str, ttl: Duration) -> Result<bool, StoreError> {
    let now = crate::unix_now();
    let done =
        sqlx::query("UPDATE recovery_lock SET expires_at = $1 WHERE name = $2 AND token = $3")
            .bind(now + ttl.as_secs() as i64)
            .bind(name)
            .bind(token)
            .execute(&db.pool)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub use crate::owner::owner_name;

impl Lease {
    /// Takes the recovery lock for `ttl`, or says who holds it.
    pub async fn acquire(db: &Db, owner: &str, ttl: Duration) -> Result<Lease, LockError> {
        Self::acquire_named(db, RECOVERY_LOCK, owner, ttl).await
    }

    /// Takes the lease `name` for `ttl`, or says who holds it.
    pub async fn acquire_named(
        db: &Db,
        name: &'static str,
        owner: &str,
        ttl: Duration,
    ) -> Result<Lease, LockError> {
        // A holder that releases between the upsert and the look-up: try again (bounded).
        for _ in 0..3 {
            match Self::try_acquire(db, name, owner, ttl).await? {
                Ok(lease) => return Ok(lease),
                Err(Some(h)) => {
                    return Err(LockError::Held {
                        owner: h.owner,
                        expires_at: h.expires_at,
                    });
                }
                Err(None) => {}
            }
        }
        Err(LockError::Held {
            owner: "another process (the lock changed hands while it was asked for)".into(),
            expires_at: crate::unix_now(),
        })
    }

    /// One compare-and-set: the lease, or who holds it (None: nobody any more).
    async fn try_acquire(
        db: &Db,
        name: &'static str,
        owner: &str,
        ttl: Duration,
    ) -> Result<Result<Lease, Option<Holder>>, StoreError> {
        let now = crate::unix_now();
        let token = format!("{:016x}", rand::random::<u64>());
        let done = sqlx::query(
            "INSERT INTO recovery_lock (name, owner, token, expires_at, acquired_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, token = excluded.token, \
             expires_at = excluded.expires_at, acquired_at = excluded.acquired_at \
             WHERE recovery_lock.expires_at < $6",
        )
        .bind(name)
        .bind(owner)
        .bind(&token)
        .bind(now + ttl.as_secs() as i64)
        .bind(now)
        .bind(now)
        .execute(&db.pool)
        .await?;
        if done.rows_affected() == 1 {
            let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let keeper = (ttl >= Duration::from_secs(3)).then(|| {
                let (db, token, lost) = (db.clone(), token.clone(), lost.clone());
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(ttl / 3).await;
                        match extend(&db, name, &token, ttl).await {
                            Ok(true) => {}
                            Ok(false) => {
                                lost.store(true, std::sync::atomic::Ordering::Relaxed);
                                return;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, lease = name, "cannot renew a lease")
                            }
                        }
                    }
                })
                .abort_handle()
            });
            return Ok(Ok(Lease {
                db: db.clone(),
                name,
                owner: owner.to_string(),
                token,
                ttl,
                keeper,
                lost,
                released: false,
            }));
        }
        Ok(Err(holder_of(db, name).await?))
    }

    /// Extends the lease by its ttl; `Held` when it expired and somebody else took it.
    pub async fn renew(&self) -> Result<(), LockError> {
        let now = crate::unix_now();
        let done =
            sqlx::query("UPDATE recovery_lock SET expires_at = $1 WHERE name = $2 AND token = $3")
                .bind(now + self.ttl.as_secs() as i64)
                .bind(self.name)
                .bind(&self.token)
                .execute(&self.db.pool)
                .await
                .map_err(StoreError::from)?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        self.lost.store(true, std::sync::atomic::Ordering::Relaxed);
        let h = holder_of(&self.db, self.name).await?;
        Err(LockError::Held {
            owner: h.as_ref().map(|h| h.owner.clone()).unwrap_or_default(),
            expires_at: h.map(|h| h.expires_at).unwrap_or_default(),
        })
    }

    /// Gives the lock back (only this lease's row is removed).
    pub async fn release(mut self) -> Result<(), StoreError> {
        if let Some(k) = self.keeper.take() {
            k.abort();
        }
        let r = delete(&self.db, self.name, &self.token).await;
        // On an error the Drop tries once more in the background.
        self.released = r.is_ok();
        r
    }

    /// The owner name this lease was taken with.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// False once a renewal found the lease taken by somebody else (it had expired: the
    /// process was stalled past its ttl, or the store was unreachable that long).
    pub fn is_held(&self) -> bool {
        !self.lost.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Persists recovery progress with this lease's owner as its `holder`, fenced by the
    /// lease's token: false (nothing written) when the lease was lost, so a holder that
    /// stalled past its ttl cannot overwrite the phase of the one that took over.
    pub async fn save_state(&self, s: &RecoveryState) -> Result<bool, StoreError> {
        let mut s = s.clone();
        s.holder = Some(self.owner.clone());
        let text = serde_json::to_string(&s).map_err(|e| StoreError::Db(e.to_string()))?;
        let r = sqlx::query(
            "INSERT INTO kv (key, value, updated_at) SELECT $1, $2, $3 \
             WHERE EXISTS (SELECT 1 FROM recovery_lock WHERE name = $4 AND token = $5) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(KV_RECOVERY)
        .bind(text)
        .bind(crate::unix_now())
        .bind(self.name)
        .bind(&self.token)
        .execute(&self.db.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Removes the finished recovery's phase, fenced like [`Lease::save_state`]: false when
    /// the lease was lost (the phase is left for whoever holds it now, or the next resume).
    pub async fn clear_state(&self) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "DELETE FROM kv WHERE key = $1 \
             AND EXISTS (SELECT 1 FROM recovery_lock WHERE name = $2 AND token = $3)",
        )
        .bind(KV_RECOVERY)
        .bind(self.name)
        .bind(&self.token)
        .execute(&self.db.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}

/// The unexpired holder of the recovery lock, if any.
pub async fn holder(db: &Db) -> Result<Option<Holder>, StoreError> {
    holder_of(db, RECOVERY_LOCK).await
}

/// The unexpired holder of the lease `name`, if any.
pub async fn holder_of(db: &Db, name: &str) -> Result<Option<Holder>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT owner, expires_at FROM recovery_lock WHERE name = $1 AND expires_at >= $2",
    )
    .bind(name)
    .bind(crate::unix_now())
    .fetch_optional(&db.pool)
    .await?)
}

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::{Backend, StoreConfig};

    async fn db(dir: &tempfile::TempDir) -> Db {
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        let cfg = StoreConfig {
            url: secrecy::SecretString::from(url),
            backup_dir: std::path::PathBuf::new(),
            backup_keep: 1,
            backup_max_age: std::time::Duration::from_secs(3600),
            migrate_url: None,
            read_url: None,
            backend: Backend::Sqlite,
            data_dir: dir.path().to_path_buf(),
            max_connections: 2,
            acquire_timeout: Duration::from_secs(5),
            sqlite_synchronous: "normal".into(),
        };
        crate::store::connect(&cfg).await.unwrap()
    }

    #[tokio::test]
    async fn one_holder_at_a_time_and_the_loser_learns_who() {
        let dir = tempfile::tempdir().unwrap();
        let db = db(&dir).await;
        assert_eq!(db.backend, Backend::Sqlite);
        let a = Lease::acquire(&db, "watchdog on a (pid 1)", LEASE_TTL)
            .await
            .unwrap();
        let err = Lease::acquire(&db, "bot-server on b (pid 2)", LEASE_TTL)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "a recovery is already running (owner watchdog on a (pid 1))"
        );
        // The same owner name does not take it twice either.
        assert!(
            Lease::acquire(&db, "watchdog on a (pid 1)", LEASE_TTL)
                .await
                .is_err()
        );
        a.renew().await.unwrap();
        assert_eq!(
            holder(&db).await.unwrap().map(|h| h.owner).as_deref(),
            Some("watchdog on a (pid 1)")
        );
        a.release().await.unwrap();
        assert!(holder(&db).await.unwrap().is_none());
        let b = Lease::acquire(&db, "bot-server on b (pid 2)", LEASE_TTL)
            .await
            .unwrap();
        b.release().await.unwrap();
    }

    #[tokio::test]
    async fn a_lease_dropped_without_release_is_released_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let db = db(&dir).await;
        let task = {
            let db = db.clone();
            tokio::spawn(async move {
                let _lease = Lease::acquire(&db, "cancelled", LEASE_TTL).await.unwrap();
                std::future::pending::<()>().await;
            })
        };
        for _ in 0..100 {
            if holder(&db).await.unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(holder(&db).await.unwrap().is_some());
        task.abort();
        let _ = task.await;
        let mut freed = false;
        for _ in 0..100 {
            if holder(&db).await.unwrap().is_none() {
                freed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(freed, "the aborted holder's lease is released");
    }

    #[tokio::test]
    async fn an_expired_lease_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let db = db(&dir).await;
        let dead = Lease::acquire(&db, "killed watchdog", Duration::ZERO)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(holder(&db).await.unwrap().is_none());
        let next = Lease::acquire(&db, "next watchdog", LEASE_TTL)
            .await
            .unwrap();
        assert!(dead.renew().await.is_err(), "the dead one lost it");
        // Its release removes only its own row.
        assert!(dead.release().await.is_ok());
        assert_eq!(
            holder(&db).await.unwrap().map(|h| h.owner).as_deref(),
            Some("next watchdog")
        );
        next.release().await.unwrap();
    }

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
        let db = db(&dir).await;
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
