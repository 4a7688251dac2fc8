//! Named leases: a row in `recovery_lock` with owner, token and expiry, taken by
//! compare-and-set (works on SQLite and PostgreSQL, through any pooler; no advisory locks),
//! renewed in the background, fenced by its token. Three names are used:
//!
//! - [`RECOVERY_LOCK`], the ONE recovery lock: the watchdog and bot-server's
//!   `POST /webhook/recover` (the dashboard's button) both take it, so only one recovery runs
//!   at a time; bot-server also leaves the queue alone (no polling, no setWebhook of its own)
//!   while somebody holds it ([`crate::recovery`]).
//! - [`WEBHOOK_LEADER`], the bot-servers' leadership over what faces Telegram (setWebhook at
//!   start, polling, the restore loop).
//! - [`LEADER_LOCK`], the watchdogs' leadership: of several `watchdog run` / `watchdog check`
//!   processes on one store, the holder acts and alerts, the others observe.

use std::time::Duration;

use crate::store::{Db, StoreError};

pub use crate::owner::owner_name;

/// The recovery lock's row name.
pub const RECOVERY_LOCK: &str = "webhook-recovery";
/// The watchdogs' leadership lease's row name.
pub const LEADER_LOCK: &str = "watchdog-leader";
/// The bot-servers' leadership lease's row name: of several bot-servers on one PostgreSQL,
/// the holder registers the webhook, runs the polling fallback and its restore loop.
pub const WEBHOOK_LEADER: &str = "webhook-leader";
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
        if extend(&self.db, self.name, &self.token, self.ttl).await? {
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

    /// Writes `value` under `key` in `kv` only while this lease is held (fenced by its token
    /// in the same statement): false, nothing written, when the lease was lost.
    pub async fn kv_set_fenced(&self, key: &str, value: &str) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "INSERT INTO kv (key, value, updated_at) SELECT $1, $2, $3 \
             WHERE EXISTS (SELECT 1 FROM recovery_lock WHERE name = $4 AND token = $5) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(crate::unix_now())
        .bind(self.name)
        .bind(&self.token)
        .execute(&self.db.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Removes `key` from `kv`, fenced like [`Lease::kv_set_fenced`].
    pub async fn kv_delete_fenced(&self, key: &str) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "DELETE FROM kv WHERE key = $1 \
             AND EXISTS (SELECT 1 FROM recovery_lock WHERE name = $2 AND token = $3)",
        )
        .bind(key)
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

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::{Backend, StoreConfig};

    pub(crate) async fn db(dir: &tempfile::TempDir) -> Db {
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
}
