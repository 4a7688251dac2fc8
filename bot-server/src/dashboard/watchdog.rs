//! The watchdog's recent actions and alerts, read from the shared store (`wd_actions`,
//! `wd_alerts`). Empty tables, or a store that does not answer, give empty lists and a note.

use serde::Serialize;

use crate::state::AppState;

/// Rows shown per table.
const LIMIT: i64 = 20;

/// One `wd_actions` row.
#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct ActionRow {
    /// Row id.
    pub id: i64,
    /// e.g. `set_webhook`, `recovery`, `restart`.
    pub kind: String,
    /// Why the watchdog acted.
    pub reason: String,
    /// `running`, `ok`, `failed`, ...
    pub result: String,
    /// Free text (a recovery report, an error).
    pub detail: Option<String>,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds, once finished.
    pub finished_at: Option<i64>,
}

/// One `wd_alerts` row.
#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub struct AlertRow {
    /// Row id.
    pub id: i64,
    /// e.g. `bot-down`.
    pub incident_key: String,
    /// `critical`, `warning`, `resolved`.
    pub level: String,
    /// `email`, `slack`, ...
    pub channel: String,
    /// The subject line.
    pub subject: String,
    /// `pending`, `sent`, `failed`.
    pub status: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, once sent.
    pub sent_at: Option<i64>,
}

/// What the dashboard shows of the watchdog.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct WatchdogView {
    /// Newest first.
    pub actions: Vec<ActionRow>,
    /// Newest first.
    pub alerts: Vec<AlertRow>,
    /// Why the lists could not be read, if they could not.
    pub error: Option<String>,
}

/// Reads both tables (at most [`LIMIT`] rows each).
pub async fn recent(app: &AppState) -> WatchdogView {
    let mut v = WatchdogView::default();
    match actions(app).await {
        Ok(a) => v.actions = a,
        Err(e) => v.error = Some(format!("watchdog actions unavailable: {e}")),
    }
    match alerts(app).await {
        Ok(a) => v.alerts = a,
        Err(e) => {
            v.error
                .get_or_insert_with(|| format!("watchdog alerts unavailable: {e}"));
        }
    }
    v
}

async fn actions(app: &AppState) -> Result<Vec<ActionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, reason, result, detail, started_at, finished_at \
         FROM wd_actions ORDER BY id DESC LIMIT $1",
    )
    .bind(LIMIT)
    .fetch_all(app.db.reader())
    .await
}

async fn alerts(app: &AppState) -> Result<Vec<AlertRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, incident_key, level, channel, subject, status, created_at, sent_at \
         FROM wd_alerts ORDER BY id DESC LIMIT $1",
    )
    .bind(LIMIT)
    .fetch_all(app.db.reader())
    .await
}

/// Table cells, formatted once for both the page and the script.
pub fn action_cells(rows: &[ActionRow], now: i64) -> Vec<Vec<String>> {
    rows.iter()
        .map(|a| {
            vec![
                super::data::when(a.started_at, now),
                a.kind.clone(),
                a.result.clone(),
                a.reason.clone(),
                telbot_shared::action::detail_text(a.detail.as_deref().unwrap_or_default()),
            ]
        })
        .collect()
}

/// Table cells of the alerts.
pub fn alert_cells(rows: &[AlertRow], now: i64) -> Vec<Vec<String>> {
    rows.iter()
        .map(|a| {
            vec![
                super::data::when(a.created_at, now),
                a.level.clone(),
                a.channel.clone(),
                a.status.clone(),
                a.subject.clone(),
            ]
        })
        .collect()
}
