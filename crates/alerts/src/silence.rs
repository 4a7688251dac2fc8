//! Silences (`watchdog silence <incident|all> --for 2h`) in `alert_silences`, and the
//! maintenance windows from config. A silenced incident is logged and kept, not sent.

use serde::Serialize;
use telbot_shared::store::Db;

use crate::config::MaintenanceWindow;
use crate::error::AlertError;

/// The target meaning every incident.
pub(crate) const ALL: &str = "all";

/// One silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Silence {
    /// Row id (0 for a maintenance window).
    pub id: i64,
    /// An incident key, or `all`.
    pub target: String,
    /// First silenced second.
    pub starts_at: i64,
    /// First second no longer silenced.
    pub ends_at: i64,
    /// Why.
    pub reason: String,
}

/// Adds a silence on `target` from `now` for `secs` seconds.
pub(crate) async fn add(
    db: &Db,
    target: &str,
    secs: i64,
    reason: &str,
    now: i64,
) -> Result<Silence, AlertError> {
    let target = target.trim();
    if target.is_empty() {
        return Err(AlertError::Invalid(
            "silence: the target is an incident key or \"all\"".into(),
        ));
    }
    if secs <= 0 {
        return Err(AlertError::Invalid(
            "silence: the duration must be more than 0".into(),
        ));
    }
    let ends_at = now.saturating_add(secs);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO alert_silences (target, starts_at, ends_at, reason, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(target)
    .bind(now)
    .bind(ends_at)
    .bind(reason)
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    Ok(Silence {
        id,
        target: target.to_string(),
        starts_at: now,
        ends_at,
        reason: reason.to_string(),
    })
}

/// Ends every active silence on `target` (`all` ends only silences whose target is `all`;
/// use [`clear_everything`] for every silence). Returns how many ended.
pub(crate) async fn clear(db: &Db, target: &str, now: i64) -> Result<u64, AlertError> {
    let r =
        sqlx::query("UPDATE alert_silences SET ends_at = $1 WHERE target = $2 AND ends_at > $1")
            .bind(now)
            .bind(target.trim())
            .execute(&db.pool)
            .await?;
    Ok(r.rows_affected())
}

/// Ends every active silence.
pub(crate) async fn clear_everything(db: &Db, now: i64) -> Result<u64, AlertError> {
    let r = sqlx::query("UPDATE alert_silences SET ends_at = $1 WHERE ends_at > $1")
        .bind(now)
        .execute(&db.pool)
        .await?;
    Ok(r.rows_affected())
}

/// Active silences (stored ones and maintenance windows), soonest end first.
pub(crate) async fn active(
    db: &Db,
    windows: &[MaintenanceWindow],
    now: i64,
) -> Result<Vec<Silence>, AlertError> {
    let mut out: Vec<Silence> = sqlx::query_as(
        "SELECT id, target, starts_at, ends_at, reason FROM alert_silences WHERE starts_at <= $1 AND ends_at > $1 ORDER BY ends_at",
    )
    .bind(now)
    .fetch_all(&db.pool)
    .await?;
    for w in windows.iter().filter(|w| w.start <= now && now < w.end) {
        let targets = if w.incidents.is_empty() {
            vec![ALL.to_string()]
        } else {
            w.incidents.clone()
        };
        for t in targets {
            out.push(Silence {
                id: 0,
                target: t,
                starts_at: w.start,
                ends_at: w.end,
                reason: format!("maintenance: {}", w.reason),
            });
        }
    }
    out.sort_by_key(|s| s.ends_at);
    Ok(out)
}

/// Until when `key` is silenced by any of `active`, if it is.
pub(crate) fn covering(active: &[Silence], key: &str) -> Option<i64> {
    active
        .iter()
        .filter(|s| s.target == ALL || s.target == key)
        .map(|s| s.ends_at)
        .max()
}
