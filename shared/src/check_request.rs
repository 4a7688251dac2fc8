//! The dashboard's "Refresh status" (the ops notes' manual health check trigger): bot-server
//! asks the watchdog for a check pass through the shared store, and the watchdog answers with
//! what that pass found. Two kv rows: the newest request and the newest answer; a request is
//! answered by the first pass that starts after it.

use serde::{Deserialize, Serialize};

use crate::store::{Db, StoreError};

/// kv key of the newest request.
pub const KV_REQUEST: &str = "watchdog.check_request";
/// kv key of the newest answer.
pub const KV_RESULT: &str = "watchdog.check_result";

/// A request for a check pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Chosen by the asker; the answer carries it.
    pub id: String,
    /// When it was asked (unix seconds).
    pub at: i64,
}

/// One finding of the pass, for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The incident key, e.g. `bot-down`.
    pub incident: String,
    /// `ok`, `warning` or `critical`.
    pub level: String,
    /// What was seen (already redacted by the watchdog).
    pub reason: String,
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The request's id.
    pub id: String,
    /// When the pass started (unix seconds).
    pub at: i64,
    /// The pass's level: `ok`, `warning` or `critical`.
    pub level: String,
    /// Its findings, problems first.
    pub findings: Vec<Line>,
    /// Who answered (the watchdog's instance).
    pub by: String,
}

fn bad(e: serde_json::Error) -> StoreError {
    StoreError::Db(e.to_string())
}

/// Stores a new request (replacing an older one) and returns it.
pub async fn ask(db: &Db, id: String, now: i64) -> Result<Request, StoreError> {
    let r = Request { id, at: now };
    db.kv_set(KV_REQUEST, &serde_json::to_string(&r).map_err(bad)?)
        .await?;
    Ok(r)
}

/// The newest request, if any (an unreadable row counts as none).
pub async fn request(db: &Db) -> Result<Option<Request>, StoreError> {
    Ok(db
        .kv_get(KV_REQUEST)
        .await?
        .and_then(|t| serde_json::from_str(&t).ok()))
}

/// The newest answer, if any.
pub async fn answer(db: &Db) -> Result<Option<Answer>, StoreError> {
    Ok(db
        .kv_get(KV_RESULT)
        .await?
        .and_then(|t| serde_json::from_str(&t).ok()))
}

/// The request a pass that started at `started` should answer: the newest one, asked at or
/// before `started`, not answered yet.
pub async fn unanswered(db: &Db, started: i64) -> Result<Option<Request>, StoreError> {
    let Some(r) = request(db).await? else {
        return Ok(None);
    };
    if r.at > started {
        return Ok(None);
    }
    let done = answer(db).await?.is_some_and(|a| a.id == r.id);
    Ok((!done).then_some(r))
}

/// Stores the answer.
pub async fn reply(db: &Db, a: &Answer) -> Result<(), StoreError> {
    db.kv_set(KV_RESULT, &serde_json::to_string(a).map_err(bad)?)
        .await
}
