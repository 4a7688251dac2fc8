//! Incident state in the store (`alert_incidents`), so a restarted watchdog remembers what it
//! already told people.

use serde::Serialize;
use sqlx::{Any, Executor};

use crate::error::AlertError;
use crate::model::{Level, Observation};
use crate::policy::{IncidentState, Phase};

const COLUMNS: &str = "incident_key, state, level, consecutive_failures, consecutive_successes, \
    first_failure_at, opened_at, last_seen_at, last_notified_at, notified_level, silenced_until, \
    held, summary, observation, resolved_at, escalated_at, acked_at, acked_by";

/// An `alert_incidents` row as stored ([`COLUMNS`]); [`IncidentState`] is what the policy
/// works with.
#[derive(sqlx::FromRow)]
struct IncidentRow {
    incident_key: String,
    state: String,
    level: String,
    consecutive_failures: i64,
    consecutive_successes: i64,
    first_failure_at: Option<i64>,
    opened_at: Option<i64>,
    last_seen_at: i64,
    last_notified_at: Option<i64>,
    notified_level: Option<String>,
    silenced_until: Option<i64>,
    held: i64,
    observation: Option<String>,
    resolved_at: Option<i64>,
    escalated_at: Option<i64>,
    acked_at: Option<i64>,
    acked_by: Option<String>,
}

impl TryFrom<IncidentRow> for IncidentState {
    type Error = AlertError;

    fn try_from(r: IncidentRow) -> Result<IncidentState, AlertError> {
        Ok(IncidentState {
            key: r.incident_key,
            phase: Phase::parse(&r.state),
            level: Level::from_stored(&r.level),
            consecutive_failures: r.consecutive_failures,
            consecutive_successes: r.consecutive_successes,
            first_failure_at: r.first_failure_at,
            opened_at: r.opened_at,
            last_seen_at: r.last_seen_at,
            last_notified_at: r.last_notified_at,
            notified_level: r.notified_level.as_deref().map(Level::from_stored),
            silenced_until: r.silenced_until,
            held: r.held != 0,
            observation: r
                .observation
                .as_deref()
                .map(serde_json::from_str::<Observation>)
                .transpose()?,
            resolved_at: r.resolved_at,
            escalated_at: r.escalated_at,
            acked_at: r.acked_at,
            acked_by: r.acked_by,
        })
    }
}

/// Takes the write lock on `key`'s row before it is read, so two watchdog processes (the
/// daemon and a `watchdog check`) observing at once serialize instead of both notifying:
/// PostgreSQL locks the row; SQLite takes its write lock (waiting out the busy timeout).
pub(crate) async fn lock<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key: &str,
) -> Result<(), AlertError> {
    sqlx::query("UPDATE alert_incidents SET updated_at = updated_at WHERE incident_key = $1")
        .bind(key)
        .execute(ex)
        .await?;
    Ok(())
}

/// Reads one incident.
pub(crate) async fn load<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    key: &str,
) -> Result<Option<IncidentState>, AlertError> {
    let sql = format!("SELECT {COLUMNS} FROM alert_incidents WHERE incident_key = $1");
    let row: Option<IncidentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .fetch_optional(ex)
        .await?;
    row.map(IncidentState::try_from).transpose()
}

/// Every incident that is pending or open, oldest first.
pub(crate) async fn list_active<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<Vec<IncidentState>, AlertError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM alert_incidents WHERE state <> 'ok' ORDER BY last_seen_at, incident_key"
    );
    let rows: Vec<IncidentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(ex)
        .await?;
    rows.into_iter().map(IncidentState::try_from).collect()
}

/// Writes one incident (insert or update).
pub(crate) async fn save<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    st: &IncidentState,
    now: i64,
) -> Result<(), AlertError> {
    let obs = st
        .observation
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    let summary = st
        .observation
        .as_ref()
        .map(|o| o.summary.clone())
        .unwrap_or_default();
    sqlx::query(
        "INSERT INTO alert_incidents (incident_key, state, level, consecutive_failures, consecutive_successes, \
         first_failure_at, opened_at, last_seen_at, last_notified_at, notified_level, silenced_until, held, \
         summary, observation, resolved_at, updated_at, escalated_at, acked_at, acked_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
         ON CONFLICT (incident_key) DO UPDATE SET state = excluded.state, level = excluded.level, \
         consecutive_failures = excluded.consecutive_failures, consecutive_successes = excluded.consecutive_successes, \
         first_failure_at = excluded.first_failure_at, opened_at = excluded.opened_at, last_seen_at = excluded.last_seen_at, \
         last_notified_at = excluded.last_notified_at, notified_level = excluded.notified_level, \
         silenced_until = excluded.silenced_until, held = excluded.held, summary = excluded.summary, \
         observation = excluded.observation, resolved_at = excluded.resolved_at, updated_at = excluded.updated_at, \
         escalated_at = excluded.escalated_at, acked_at = excluded.acked_at, acked_by = excluded.acked_by",
    )
    .bind(&st.key)
    .bind(st.phase.as_str())
    .bind(st.level.stored())
    .bind(st.consecutive_failures)
    .bind(st.consecutive_successes)
    .bind(st.first_failure_at)
    .bind(st.opened_at)
    .bind(st.last_seen_at)
    .bind(st.last_notified_at)
    .bind(st.notified_level.map(Level::stored))
    .bind(st.silenced_until)
    .bind(i64::from(st.held))
    .bind(summary)
    .bind(obs)
    .bind(st.resolved_at)
    .bind(now)
    .bind(st.escalated_at)
    .bind(st.acked_at)
    .bind(st.acked_by.as_deref())
    .execute(ex)
    .await?;
    Ok(())
}

/// An incident as the CLI and dashboard show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentSummary {
    /// The key.
    pub key: String,
    /// `pending` or `open`.
    pub state: String,
    /// Latest level.
    pub level: Level,
    /// What is wrong.
    pub summary: String,
    /// Failing since (unix seconds).
    pub since: Option<i64>,
    /// Last notified (unix seconds).
    pub last_notified_at: Option<i64>,
    /// A message is held back by a silence.
    pub held: bool,
    /// When it went to the escalation channels.
    pub escalated_at: Option<i64>,
    /// When it was acknowledged (`watchdog ack`).
    pub acked_at: Option<i64>,
    /// Who acknowledged it.
    pub acked_by: Option<String>,
}

impl From<&IncidentState> for IncidentSummary {
    fn from(s: &IncidentState) -> Self {
        IncidentSummary {
            key: s.key.clone(),
            state: s.phase.as_str().to_string(),
            level: s.level,
            summary: s
                .observation
                .as_ref()
                .map(|o| o.summary.clone())
                .unwrap_or_default(),
            since: s.first_failure_at,
            last_notified_at: s.last_notified_at,
            held: s.held,
            escalated_at: s.escalated_at,
            acked_at: s.acked_at,
            acked_by: s.acked_by.clone(),
        }
    }
}
