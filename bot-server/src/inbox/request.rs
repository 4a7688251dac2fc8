//! What the writer task is asked to do: store a new update ([`NewUpdate`], answered with
//! [`Stored`]) or record how handling one ended ([`Finish`]). Defined apart from the writer
//! ([`super::writer`]) so the commit ([`super::commit`]) and the SQL ([`super::sql`]) that
//! carry them out need not import the writer that calls them.

use std::sync::Arc;

use telbot_shared::store::StoreError;
use tokio::sync::oneshot;

use super::Status;

/// An update to store.
#[derive(Debug)]
pub struct NewUpdate {
    /// Telegram's id (the dedup key).
    pub update_id: i64,
    /// Kind name.
    pub kind: String,
    /// Queue key.
    pub key: String,
    /// Raw JSON.
    pub payload: String,
}

/// What storing an update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// New: it will be handled.
    New,
    /// Seen before: acknowledged and ignored.
    Duplicate,
}

/// How handling of one update ended.
#[derive(Debug)]
pub struct Finish {
    /// The row.
    pub seq: i64,
    /// Final (or, with `Pending`, interim) state.
    pub status: Status,
    /// Attempts used.
    pub attempts: u32,
    /// Last handler error.
    pub error: Option<String>,
    /// The reply answered in the webhook (`webhook.reply_in_answer`), kept for redeliveries.
    pub reply: Option<Arc<str>>,
}

pub(super) enum Req {
    Insert(NewUpdate, oneshot::Sender<Result<Stored, StoreError>>),
    Finish(Finish, Option<oneshot::Sender<()>>),
}
