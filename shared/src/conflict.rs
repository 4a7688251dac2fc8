//! Another process using the bot's token, as bot-server sees it (DESIGN.md's store, `kv` row
//! [`KV_TOKEN_CONFLICT`]): its webhook deleted by nobody telbot knows of, and its own
//! getUpdates ended by "terminated by other getUpdates request". Only the webhook leader
//! writes the row; the watchdog reads it beside getWebhookInfo and pages `token-conflict`.

use serde::{Deserialize, Serialize};

use crate::store::{Db, StoreError};

/// The `kv` key of the record.
pub const KV_TOKEN_CONFLICT: &str = "bot.token_conflict";

/// A new episode starts when the previous one has been quiet this long (seconds).
pub const EPISODE_GAP_SECS: i64 = 3600;

/// What the bot saw of another process using its token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenConflict {
    /// When this episode's first sign was seen (unix seconds).
    pub first_seen: i64,
    /// When the latest sign was seen.
    pub last_seen: i64,
    /// Times Telegram reported no webhook while nobody telbot knows of had deleted it.
    #[serde(default)]
    pub foreign_deletes: u64,
    /// Times the bot's getUpdates was ended by another getUpdates with the same token.
    #[serde(default)]
    pub poll_conflicts: u64,
    /// The highest update_id the bot had stored when the episode began: updates above it that
    /// the bot never got went to the other process.
    #[serde(default)]
    pub update_id_before: Option<i64>,
    /// The pending count Telegram reported at the latest foreign delete.
    #[serde(default)]
    pub pending_at_delete: Option<u64>,
}

/// A sign of another process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// The webhook was deleted behind the bot's back; Telegram's pending count then.
    ForeignDelete(u64),
    /// getUpdates answered 409 "terminated by other getUpdates request".
    PollConflict,
}

impl TokenConflict {
    /// The record after `sign` at `now`, starting a new episode after a quiet hour.
    /// `max_update_id`: the highest update_id in the inbox, for a new episode. Pure.
    pub fn with(prev: Option<Self>, sign: Sign, now: i64, max_update_id: Option<i64>) -> Self {
        let mut c = match prev {
            Some(p) if now - p.last_seen < EPISODE_GAP_SECS => p,
            _ => TokenConflict {
                first_seen: now,
                update_id_before: max_update_id,
                ..Default::default()
            },
        };
        c.last_seen = now;
        match sign {
            Sign::ForeignDelete(pending) => {
                c.foreign_deletes += 1;
                c.pending_at_delete = Some(pending);
            }
            Sign::PollConflict => c.poll_conflicts += 1,
        }
        c
    }

    /// What was seen, for a person: "the webhook was deleted 3 times and getUpdates ended 5
    /// times by another getUpdates".
    pub fn signs(&self) -> String {
        let mut parts = Vec::new();
        if self.foreign_deletes > 0 {
            parts.push(format!(
                "the webhook was deleted by someone else {} time(s)",
                self.foreign_deletes
            ));
        }
        if self.poll_conflicts > 0 {
            parts.push(format!(
                "the bot's getUpdates was ended by another getUpdates {} time(s)",
                self.poll_conflicts
            ));
        }
        parts.join(" and ")
    }
}

/// The record, if any.
pub async fn load(db: &Db) -> Result<Option<TokenConflict>, StoreError> {
    Ok(db
        .kv_get(KV_TOKEN_CONFLICT)
        .await?
        .and_then(|v| serde_json::from_str(&v).ok()))
}

/// Records `sign` (the webhook leader only).
pub async fn record(db: &Db, sign: Sign, now: i64) -> Result<TokenConflict, StoreError> {
    let prev = load(db).await?;
    let max_id = if prev
        .as_ref()
        .is_none_or(|p| now - p.last_seen >= EPISODE_GAP_SECS)
    {
        max_update_id(db).await?
    } else {
        None
    };
    let c = TokenConflict::with(prev, sign, now, max_id);
    let text = serde_json::to_string(&c).map_err(|e| StoreError::Db(e.to_string()))?;
    db.kv_set(KV_TOKEN_CONFLICT, &text).await?;
    Ok(c)
}

/// The highest update_id in the inbox.
pub async fn max_update_id(db: &Db) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar("SELECT MAX(update_id) FROM inbox")
        .fetch_one(&db.pool)
        .await?)
}

/// Updates with an id in `(after, upto]` the inbox never got: `(upto - after) - stored`.
/// Telegram numbers a bot's updates one by one, so each gap is an update another process
/// took (or one older than the inbox keeps, which the caller's window rules out).
pub async fn missing_since(db: &Db, after: i64) -> Result<(u64, Option<i64>), StoreError> {
    let (count, max): (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MAX(update_id) FROM inbox WHERE update_id > $1")
            .bind(after)
            .fetch_one(&db.pool)
            .await?;
    let Some(max) = max else {
        return Ok((0, None));
    };
    let span = (max - after).max(0) as u64;
    Ok((span.saturating_sub(count.max(0) as u64), Some(max)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_add_up_within_an_episode_and_a_quiet_hour_starts_a_new_one() {
        let c = TokenConflict::with(None, Sign::ForeignDelete(7), 100, Some(41));
        assert_eq!(
            (
                c.first_seen,
                c.foreign_deletes,
                c.pending_at_delete,
                c.update_id_before
            ),
            (100, 1, Some(7), Some(41))
        );
        let c = TokenConflict::with(Some(c), Sign::PollConflict, 160, Some(99));
        assert_eq!((c.first_seen, c.last_seen, c.poll_conflicts), (100, 160, 1));
        assert_eq!(c.update_id_before, Some(41), "kept within the episode");
        assert!(c.signs().contains("deleted by someone else 1 time(s)"));
        assert!(c.signs().contains("ended by another getUpdates 1 time(s)"));
        let c = TokenConflict::with(
            Some(c),
            Sign::PollConflict,
            160 + EPISODE_GAP_SECS,
            Some(99),
        );
        assert_eq!(
            (c.first_seen, c.foreign_deletes, c.poll_conflicts),
            (160 + EPISODE_GAP_SECS, 0, 1)
        );
        assert_eq!(c.update_id_before, Some(99));
    }
}
