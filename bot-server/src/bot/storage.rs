//! teloxide dialogues in telbot's store: [`TelbotStorage`] implements teloxide's
//! [`Storage`] trait on the `dialogues` table (SQLite or PostgreSQL, the state serialised as
//! JSON with serde), so a `Dialogue<State, TelbotStorage>` survives a restart of the
//! bot-server and is shared by every instance on one PostgreSQL. Dialogues can live for a
//! time to live (a dialogue left half way is forgotten), swept by [`TelbotStorage::sweep`].

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use telbot_shared::store::{Db, StoreError};
use teloxide::dispatching::dialogue::Storage;
use teloxide::types::ChatId;

/// Why a dialogue could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The state did not serialise, or a stored one no longer deserialises (the state type
    /// changed between releases).
    #[error("dialogue state: {0}")]
    State(#[from] serde_json::Error),
    /// `remove_dialogue` of a chat without one (teloxide's storages report this too).
    #[error("no dialogue for this chat")]
    DialogueNotFound,
}

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        StorageError::Store(StoreError::from(e))
    }
}

/// teloxide's dialogue storage on telbot's store.
#[derive(Debug, Clone)]
pub struct TelbotStorage {
    db: Db,
    ttl: Option<Duration>,
}

impl TelbotStorage {
    /// Dialogues in `db` that live until they are removed.
    pub fn new(db: Db) -> Arc<Self> {
        Arc::new(TelbotStorage { db, ttl: None })
    }

    /// Dialogues in `db` that are forgotten `ttl` after their last update.
    pub fn with_ttl(db: Db, ttl: Duration) -> Arc<Self> {
        Arc::new(TelbotStorage { db, ttl: Some(ttl) })
    }

    /// Deletes the dialogues past their time to live; returns how many.
    pub async fn sweep(&self) -> Result<u64, StorageError> {
        let r =
            sqlx::query("DELETE FROM dialogues WHERE expires_at IS NOT NULL AND expires_at <= $1")
                .bind(telbot_shared::unix_now())
                .execute(&self.db.pool)
                .await?;
        Ok(r.rows_affected())
    }

    /// Sweeps every `every` until `stop`.
    pub async fn sweep_every(
        self: Arc<Self>,
        every: Duration,
        stop: tokio_util::sync::CancellationToken,
    ) {
        super::sweep_every(every, stop, "dialogues", || self.sweep()).await;
    }

    /// Dialogues stored now, expired ones included until swept.
    pub async fn count(&self) -> Result<u64, StorageError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dialogues")
            .fetch_one(&self.db.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn expires_at(&self) -> Option<i64> {
        self.ttl
            .map(|t| telbot_shared::unix_now() + t.as_secs().max(1) as i64)
    }
}

impl<D> Storage<D> for TelbotStorage
where
    D: Serialize + DeserializeOwned + Send + 'static,
{
    type Error = StorageError;

    fn remove_dialogue(
        self: Arc<Self>,
        chat_id: ChatId,
    ) -> BoxFuture<'static, Result<(), StorageError>>
    where
        D: Send + 'static,
    {
        Box::pin(async move {
            let r = sqlx::query("DELETE FROM dialogues WHERE chat_id = $1")
                .bind(chat_id.0)
                .execute(&self.db.pool)
                .await?;
            if r.rows_affected() == 0 {
                return Err(StorageError::DialogueNotFound);
            }
            Ok(())
        })
    }

    fn update_dialogue(
        self: Arc<Self>,
        chat_id: ChatId,
        dialogue: D,
    ) -> BoxFuture<'static, Result<(), StorageError>>
    where
        D: Send + 'static,
    {
        Box::pin(async move {
            let state = serde_json::to_string(&dialogue)?;
            sqlx::query(
                "INSERT INTO dialogues (chat_id, state, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (chat_id) DO UPDATE SET state = excluded.state, \
                 expires_at = excluded.expires_at",
            )
            .bind(chat_id.0)
            .bind(state)
            .bind(self.expires_at())
            .execute(&self.db.pool)
            .await?;
            Ok(())
        })
    }

    fn get_dialogue(
        self: Arc<Self>,
        chat_id: ChatId,
    ) -> BoxFuture<'static, Result<Option<D>, StorageError>> {
        Box::pin(async move {
            let state: Option<String> = sqlx::query_scalar(
                "SELECT state FROM dialogues WHERE chat_id = $1 \
                 AND (expires_at IS NULL OR expires_at > $2)",
            )
            .bind(chat_id.0)
            .bind(telbot_shared::unix_now())
            .fetch_optional(&self.db.pool)
            .await?;
            Ok(state.map(|s| serde_json::from_str(&s)).transpose()?)
        })
    }
}
