//! Multi-step "pending actions" (e.g. /report waiting for a text or a location), kept in the
//! store with a TTL and swept on a schedule, so neither memory nor the table grows unbounded.

use std::time::Duration;

use telbot_shared::store::{Db, StoreError};

/// Pending actions of one store.
#[derive(Debug, Clone)]
pub struct PendingActions {
    db: Db,
    ttl: Duration,
}

/// An open action.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Pending {
    /// What is being done, e.g. `report`.
    pub action: String,
    /// Free-form state of the action.
    pub state: String,
}

impl PendingActions {
    /// Actions in `db`, living `ttl`.
    pub fn new(db: Db, ttl: Duration) -> Self {
        PendingActions { db, ttl }
    }

    /// Opens (or replaces) the action of `user` in `chat`.
    pub async fn begin(
        &self,
        chat: i64,
        user: i64,
        action: &str,
        state: &str,
    ) -> Result<(), StoreError> {
        let expires = telbot_shared::unix_now() + self.ttl.as_secs() as i64;
        sqlx::query(
            "INSERT INTO pending_actions (chat_id, user_id, action, state, expires_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (chat_id, user_id) DO UPDATE SET action = excluded.action, state = excluded.state, expires_at = excluded.expires_at",
        )
        .bind(chat)
        .bind(user)
        .bind(action)
        .bind(state)
        .bind(expires)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// The live action of `user` in `chat`, if any (an expired one counts as none).
    pub async fn get(&self, chat: i64, user: i64) -> Result<Option<Pending>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT action, state FROM pending_actions WHERE chat_id = $1 AND user_id = $2 AND expires_at > $3",
        )
        .bind(chat)
        .bind(user)
        .bind(telbot_shared::unix_now())
        .fetch_optional(&self.db.pool)
        .await?)
    }

    /// Closes the action of `user` in `chat`.
    pub async fn end(&self, chat: i64, user: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM pending_actions WHERE chat_id = $1 AND user_id = $2")
            .bind(chat)
            .bind(user)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// Deletes expired actions; returns how many.
    pub async fn sweep(&self) -> Result<u64, StoreError> {
        let r = sqlx::query("DELETE FROM pending_actions WHERE expires_at <= $1")
            .bind(telbot_shared::unix_now())
            .execute(&self.db.pool)
            .await?;
        Ok(r.rows_affected())
    }

    /// Rows in the table (expired ones included until swept).
    pub async fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pending_actions")
            .fetch_one(&self.db.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Sweeps every `every` until `stop`.
    pub async fn sweep_every(self, every: Duration, stop: tokio_util::sync::CancellationToken) {
        super::sweep_every(every, stop, "pending actions", || self.sweep()).await;
    }
}
