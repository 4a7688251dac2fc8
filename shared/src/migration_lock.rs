//! telbot's own lock around migrations: one row in `telbot_migration_lock`, taken by
//! compare-and-set like [`crate::lease::Lease`] (that table is made by the migrations, so
//! it cannot guard them). sqlx's migrator would take a session advisory lock
//! (`pg_advisory_lock`), which a transaction-mode pooler (Supabase's on port 6543) does not
//! keep on one server connection, and DESIGN.md promises no advisory locks anywhere.
//!
//! The table is made with `CREATE TABLE IF NOT EXISTS` before anything else; a holder killed
//! mid-migration blocks the next one for [`TTL`] at most.

use std::time::Duration;

use sqlx::AnyPool;

/// Why the migration lock could not be taken or given back.
#[derive(Debug, thiserror::Error)]
pub enum MigrationLockError {
    /// The database answered with an error.
    #[error("store: {0}")]
    Db(#[from] sqlx::Error),
    /// Another process held it past the wait.
    #[error("store migration: {0}")]
    Held(String),
}

/// How long the lock lasts unless renewed (renewed every third of it while migrating).
pub const TTL: Duration = Duration::from_secs(60);

const CREATE: &str = "CREATE TABLE IF NOT EXISTS telbot_migration_lock (\
     name TEXT PRIMARY KEY, owner TEXT NOT NULL, token TEXT NOT NULL, expires_at BIGINT NOT NULL)";

/// The held lock; [`MigrationLock::release`] it when done (dropped, it expires after [`TTL`]).
#[derive(Debug)]
pub struct MigrationLock {
    pool: AnyPool,
    token: String,
    keeper: tokio::task::AbortHandle,
}

impl MigrationLock {
    /// Waits (polling) until the lock is free and takes it; gives up after `wait`.
    pub async fn acquire(
        pool: &AnyPool,
        wait: Duration,
    ) -> Result<MigrationLock, MigrationLockError> {
        let deadline = tokio::time::Instant::now() + wait;
        // Two processes creating the table at once may collide in PostgreSQL's catalog
        // ("duplicate key … pg_type"); the second try finds it made.
        if sqlx::query(CREATE).execute(pool).await.is_err() {
            sqlx::query(CREATE).execute(pool).await?;
        }
        let token = format!("{:016x}", rand::random::<u64>());
        let owner = crate::owner::owner_name("migrations");
        loop {
            let now = crate::unix_now();
            let done = sqlx::query(
                "INSERT INTO telbot_migration_lock (name, owner, token, expires_at) \
                 VALUES ('migrations', $1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, \
                 token = excluded.token, expires_at = excluded.expires_at \
                 WHERE telbot_migration_lock.expires_at < $4",
            )
            .bind(&owner)
            .bind(&token)
            .bind(now + TTL.as_secs() as i64)
            .bind(now)
            .execute(pool)
            .await?;
            if done.rows_affected() == 1 {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                let holder: Option<String> = sqlx::query_scalar(
                    "SELECT owner FROM telbot_migration_lock WHERE name = 'migrations'",
                )
                .fetch_optional(pool)
                .await?;
                return Err(MigrationLockError::Held(format!(
                    "another process has been migrating for over {}s ({}); if it was killed, \
                     its lock row expires within {}s",
                    wait.as_secs(),
                    holder.unwrap_or_default(),
                    TTL.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (p, t) = (pool.clone(), token.clone());
        let keeper = tokio::spawn(async move {
            loop {
                tokio::time::sleep(TTL / 3).await;
                let _ = sqlx::query(
                    "UPDATE telbot_migration_lock SET expires_at = $1 \
                     WHERE name = 'migrations' AND token = $2",
                )
                .bind(crate::unix_now() + TTL.as_secs() as i64)
                .bind(&t)
                .execute(&p)
                .await;
            }
        })
        .abort_handle();
        Ok(MigrationLock {
            pool: pool.clone(),
            token,
            keeper,
        })
    }

    /// Gives the lock back (only this holder's row).
    pub async fn release(self) -> Result<(), MigrationLockError> {
        self.keeper.abort();
        sqlx::query("DELETE FROM telbot_migration_lock WHERE name = 'migrations' AND token = $1")
            .bind(&self.token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl Drop for MigrationLock {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}
