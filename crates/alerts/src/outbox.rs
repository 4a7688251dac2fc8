//! The persisted outbox (`alert_outbox`): a message is written here, one row per channel, in
//! the same transaction as the incident change that caused it, and delivered afterwards with
//! back-off. Each row is mirrored in the shared `wd_alerts` table the dashboard reads.

use std::time::Duration;

use serde::Serialize;
use sqlx::{Any, Executor};
use telbot_shared::store::Db;

use crate::error::AlertError;
use crate::model::Level;
use crate::render::Message;

/// How long a claimed row is leased to one sender before another may retry it.
pub(crate) const LEASE_SECS: i64 = 120;

/// One queued message for one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub(crate) struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// The incident it is about.
    pub incident_key: String,
    /// `opened`, `repeat`, `update`, `resolved`, `channel-failing`.
    pub kind: String,
    /// Level it is about.
    pub level: String,
    /// Channel name.
    pub channel: String,
    /// Subject line.
    pub subject: String,
    /// Plain text.
    pub body_text: String,
    /// HTML.
    pub body_html: String,
    /// `pending`, `sending`, `sent`, `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When it is next due.
    pub next_attempt_at: i64,
    /// The last delivery error (redacted).
    pub last_error: Option<String>,
    /// The mirrored `wd_alerts` row.
    pub alert_id: Option<i64>,
    /// When it was queued.
    pub created_at: i64,
}

impl OutboxRow {
    /// The message to send.
    pub(crate) fn message(&self) -> Message {
        Message {
            subject: self.subject.clone(),
            text: self.body_text.clone(),
            html: self.body_html.clone(),
            level: Level::from_stored(&self.level),
            resolved: self.kind == "resolved",
            incident: self.incident_key.clone(),
        }
    }
}

/// Queues `msg` for `channel`.
pub(crate) async fn enqueue(
    tx: &mut sqlx::Transaction<'_, Any>,
    key: &str,
    kind: &str,
    channel: &str,
    msg: &Message,
    now: i64,
) -> Result<(), AlertError> {
    let level = logged_level(msg);
    let alert_id: i64 = sqlx::query_scalar(
        "INSERT INTO wd_alerts (incident_key, level, channel, subject, status, created_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING id",
    )
    .bind(key)
    .bind(level)
    .bind(channel)
    .bind(&msg.subject)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO alert_outbox (incident_key, kind, level, channel, subject, body_text, body_html, status, \
         attempts, next_attempt_at, alert_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $9, $8)",
    )
    .bind(key)
    .bind(kind)
    .bind(msg.level.stored())
    .bind(channel)
    .bind(&msg.subject)
    .bind(&msg.text)
    .bind(&msg.html)
    .bind(now)
    .bind(alert_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records a message no channel takes (a warning, by default: the ops notes keep those to the
/// log and the dashboard) in `wd_alerts` only, as channel `log`, status `logged`, so the
/// dashboard's table of watchdog alerts shows it. Nothing is queued for delivery.
pub(crate) async fn record_logged(
    tx: &mut sqlx::Transaction<'_, Any>,
    key: &str,
    msg: &Message,
    now: i64,
) -> Result<(), AlertError> {
    let level = logged_level(msg);
    sqlx::query(
        "INSERT INTO wd_alerts (incident_key, level, channel, subject, status, created_at) \
         VALUES ($1, $2, 'log', $3, 'logged', $4)",
    )
    .bind(key)
    .bind(level)
    .bind(&msg.subject)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

const SELECT: &str = "SELECT id, incident_key, kind, level, channel, subject, body_text, body_html, status, attempts, \
    next_attempt_at, last_error, alert_id, created_at FROM alert_outbox";

/// Rows due now (pending, or claimed by a sender whose lease ran out), oldest first.
pub(crate) async fn due(db: &Db, now: i64, limit: i64) -> Result<Vec<OutboxRow>, AlertError> {
    let sql = format!(
        "{SELECT} WHERE status IN ('pending', 'sending') AND next_attempt_at <= $1 ORDER BY id LIMIT $2"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?)
}

/// Rows not yet delivered (any channel), oldest first: for reports and tests.
pub(crate) async fn undelivered<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<OutboxRow>, AlertError> {
    let sql = format!("{SELECT} WHERE status IN ('pending', 'sending') ORDER BY id");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(ex)
        .await?)
}

/// Takes a row for this sender; false when another sender took it first.
pub(crate) async fn claim(db: &Db, row: &OutboxRow, now: i64) -> Result<bool, AlertError> {
    let r = sqlx::query(
        "UPDATE alert_outbox SET status = 'sending', next_attempt_at = $1 \
         WHERE id = $2 AND status = $3 AND next_attempt_at = $4",
    )
    .bind(now + LEASE_SECS)
    .bind(row.id)
    .bind(&row.status)
    .bind(row.next_attempt_at)
    .execute(&db.pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records a delivery.
pub(crate) async fn mark_sent(db: &Db, row: &OutboxRow, now: i64) -> Result<(), AlertError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE alert_outbox SET status = 'sent', attempts = attempts + 1, sent_at = $1, last_error = NULL WHERE id = $2")
        .bind(now)
        .bind(row.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE wd_alerts SET status = 'sent', sent_at = $1 WHERE id = $2")
        .bind(now)
        .bind(row.alert_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Records a failed attempt (`final_failure`: the channel no longer exists; no retry).
pub(crate) async fn mark_failed(
    db: &Db,
    row: &OutboxRow,
    error: &str,
    next_at: i64,
    final_failure: bool,
) -> Result<(), AlertError> {
    let status = if final_failure { "failed" } else { "pending" };
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE alert_outbox SET status = $1, attempts = attempts + 1, next_attempt_at = $2, last_error = $3 WHERE id = $4")
        .bind(status)
        .bind(next_at)
        .bind(error)
        .bind(row.id)
        .execute(&mut *tx)
        .await?;
    let shown = if final_failure { "failed" } else { "retrying" };
    sqlx::query("UPDATE wd_alerts SET status = $1 WHERE id = $2")
        .bind(shown)
        .bind(row.alert_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The delay before attempt `attempts + 1` in whole seconds: `base × 2^(attempts-1)`, capped
/// at `max` (both at least a second), on the workspace's one schedule.
pub(crate) fn backoff(base: Duration, max: Duration, attempts: i64) -> i64 {
    let second = Duration::from_secs(1);
    let schedule = telbot_shared::backoff::Backoff::new(base.max(second), max.max(second));
    schedule.delay(attempts.clamp(1, 30) as u32).as_secs() as i64
}

/// The level `wd_alerts` records for a message: `resolved`, or its level as stored.
fn logged_level(msg: &Message) -> &'static str {
    if msg.resolved {
        "resolved"
    } else {
        msg.level.stored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let (b, m) = (Duration::from_secs(30), Duration::from_secs(900));
        let got: Vec<i64> = (1..=7).map(|a| backoff(b, m, a)).collect();
        assert_eq!(got, vec![30, 60, 120, 240, 480, 900, 900]);
    }
}
