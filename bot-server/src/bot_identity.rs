//! Dedup is tied to one bot. update_ids are per bot: a token switched to another bot on the
//! same store would have the new bot's updates dropped as "duplicates" wherever their ids
//! collide with the old bot's remembered ones. So the store remembers whose inbox it is
//! (`kv` row [`KV_BOT_ID`], getMe's id), and a start with another bot's token is refused —
//! or, with `inbox.new_bot = "fresh"`, starts a fresh inbox (the old bot's rows deleted,
//! counted in the log).

use telbot_shared::store::{Db, StoreError};

/// The `kv` key: the id of the bot whose inbox this store holds.
pub(crate) const KV_BOT_ID: &str = "bot.id";

/// Why the store cannot be used with this bot.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The store holds another bot's inbox.
    #[error(
        "the store holds the inbox of bot {stored}, but TELEGRAM_BOT_TOKEN belongs to bot {now}: update ids are per bot, so this bot's updates would be dropped as duplicates of the other's. Use another DATABASE_URL / DATA_DIR for this bot, or set inbox.new_bot = \"fresh\" (TELBOT__INBOX__NEW_BOT=fresh) to delete the other bot's inbox and start a fresh one"
    )]
    OtherBot {
        /// The id the store remembers.
        stored: i64,
        /// getMe's id now.
        now: i64,
    },
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `inbox.new_bot`: what a start does when the store holds another bot's inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NewBot {
    /// Refuse to start, naming both bots (the default).
    #[default]
    Refuse,
    /// Delete the other bot's inbox and start a fresh one.
    Fresh,
}

/// What [`check`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Identity {
    /// The store's inbox is this bot's (or now is: first start).
    Same,
    /// Another bot's inbox was deleted (`inbox.new_bot = "fresh"`): this many rows.
    Fresh(u64),
}

/// Checks (and on first use records) that the store's inbox is bot `me`'s. `fresh`: another
/// bot's inbox is deleted instead of refused.
pub(crate) async fn check(db: &Db, me: i64, fresh: bool) -> Result<Identity, IdentityError> {
    let stored = db
        .kv_get(KV_BOT_ID)
        .await?
        .and_then(|v| v.trim().parse::<i64>().ok());
    match stored {
        Some(id) if id == me => Ok(Identity::Same),
        Some(id) if !fresh => Err(IdentityError::OtherBot {
            stored: id,
            now: me,
        }),
        Some(_) => {
            let r = sqlx::query("DELETE FROM inbox")
                .execute(&db.pool)
                .await
                .map_err(StoreError::from)?;
            db.kv_set(KV_BOT_ID, &me.to_string()).await?;
            Ok(Identity::Fresh(r.rows_affected()))
        }
        None => {
            db.kv_set(KV_BOT_ID, &me.to_string()).await?;
            Ok(Identity::Same)
        }
    }
}
