//! `/report`: a two-step conversation (the command, then a text or a location) kept as a
//! teloxide `Dialogue<State, TelbotStorage>` in the store, so it survives a restart, is shared
//! by every instance, and is forgotten `bot.pending_ttl` after its last step.
//!
//! **Keyed by chat and member.** teloxide keys a dialogue by chat, so in a group anyone's next
//! message would complete the report someone else started. Here the dialogue's key is
//! [`member_key`]`(chat, user)`: user A's `/report` in a group waits for A's next message
//! only; B's messages are B's own (and B can start a report of their own beside A's).

use std::sync::Arc;

use bot_server::TelbotStorage;
use bot_server::bot::storage::StorageError;
use serde::{Deserialize, Serialize};
use telbot_shared::store::Db;
use teloxide::dispatching::dialogue::Dialogue;
use teloxide::types::{ChatId, Message};

/// Where a member's conversation with the bot stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    /// Nothing open.
    #[default]
    Idle,
    /// `/report` was sent; the next text or location is the report.
    AwaitingReport,
}

/// The dialogue of one member of one chat.
pub type ReportDialogue = Dialogue<State, TelbotStorage>;

/// The dialogue key of `user` in `chat`: a 62-bit mix of both ids, placed below -2^62, where
/// no Telegram chat id lies (their ids fit in 52 bits), so it never meets a dialogue keyed by
/// a plain chat id. Stable across builds and instances (it is stored). Two members share a key
/// only by a 2^-62 chance.
pub fn member_key(chat: ChatId, user: i64) -> ChatId {
    let h = mix(mix(chat.0 as u64).wrapping_add(user as u64));
    ChatId(i64::MIN | (h >> 2) as i64)
}

/// splitmix64's finaliser: every input bit moves every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Who sent `msg`: its user, or the chat itself for a message without one (a channel post).
pub fn sender(msg: &Message) -> i64 {
    msg.from
        .as_ref()
        .and_then(|u| i64::try_from(u.id.0).ok())
        .unwrap_or(msg.chat.id.0)
}

/// The sender's dialogue, for the handler tree (`.map(dialogue_of)`).
pub fn dialogue_of(msg: Message, storage: Arc<TelbotStorage>) -> ReportDialogue {
    Dialogue::new(storage, member_key(msg.chat.id, sender(&msg)))
}

/// Closes the dialogue; one already gone (swept past its TTL meanwhile) is closed too.
pub async fn close(dialogue: &ReportDialogue) -> Result<(), StorageError> {
    match dialogue.exit().await {
        Ok(()) | Err(StorageError::DialogueNotFound) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The report of `msg`: its text, or its location; `None` for anything else.
pub fn body(msg: &Message) -> Option<(Option<String>, Option<f64>, Option<f64>)> {
    match (msg.text(), msg.location()) {
        (_, Some(loc)) => Some((None, Some(loc.latitude), Some(loc.longitude))),
        (Some(t), None) => Some((Some(t.to_string()), None, None)),
        (None, None) => None,
    }
}

/// Stores a report in the `reports` table.
pub async fn save(
    db: &Db,
    msg: &Message,
    (text, lat, lon): (Option<String>, Option<f64>, Option<f64>),
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reports (chat_id, user_id, text, latitude, longitude, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(msg.chat.id.0)
    .bind(sender(msg))
    .bind(text)
    .bind(lat)
    .bind(lon)
    .bind(telbot_shared::unix_now())
    .execute(&db.pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_of_one_chat_have_keys_of_their_own_outside_telegrams_ids() {
        let group = ChatId(-1_001_234_567_890);
        let (a, b) = (member_key(group, 11), member_key(group, 12));
        assert_ne!(a, b);
        assert_ne!(
            member_key(ChatId(11), 11),
            a,
            "the same user elsewhere is another key"
        );
        assert_eq!(a, member_key(group, 11), "stable");
        for k in [a, b, member_key(ChatId(1 << 52), i64::MAX)] {
            assert!(k.0 < -(1_i64 << 62), "{k:?}");
        }
    }
}
