//! The watchdog's recent actions and alerts, read from the shared store (`wd_actions`,
//! `wd_alerts`), and its verification of the latest deploy (kv
//! `watchdog.deploy_verification`). Empty tables, or a store that does not answer, give empty lists and a note.

use serde::Serialize;
use telbot_shared::deploy_verification::{self, DeployVerification, VerifyStatus};

use crate::state::AppState;

/// Rows shown per table.
const LIMIT: i64 = 20;

/// One `wd_actions` row.
#[derive(Debug, Clone, Serialize, PartialEq, sqlx::FromRow)]
pub(crate) struct ActionRow {
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
pub(crate) struct AlertRow {
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
pub(crate) struct WatchdogView {
    /// Newest first.
    pub actions: Vec<ActionRow>,
    /// Newest first.
    pub alerts: Vec<AlertRow>,
    /// Why the lists could not be read, if they could not.
    pub error: Option<String>,
    /// The watchdog's verification of the latest deploy it saw.
    pub deploy: Option<DeployVerification>,
}

/// Reads both tables (at most [`LIMIT`] rows each).
pub(crate) async fn recent(app: &AppState) -> WatchdogView {
    let mut v = WatchdogView::default();
    match actions(app).await {
        Ok(a) => v.actions = a,
        Err(e) => v.error = Some(format!("watchdog actions unavailable: {e}")),
    }
    v.deploy = deploy_verification::load(&app.db).await.ok().flatten();
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
pub(crate) fn action_cells(rows: &[ActionRow], now: i64) -> Vec<Vec<String>> {
    rows.iter()
        .map(|a| {
            vec![
                super::format::when(a.started_at, now),
                a.kind.clone(),
                a.result.clone(),
                a.reason.clone(),
                telbot_shared::action::detail_text(a.detail.as_deref().unwrap_or_default()),
            ]
        })
        .collect()
}

/// Table cells of the alerts.
pub(crate) fn alert_cells(rows: &[AlertRow], now: i64) -> Vec<Vec<String>> {
    rows.iter()
        .map(|a| {
            vec![
                super::format::when(a.created_at, now),
                a.level.clone(),
                a.channel.clone(),
                a.status.clone(),
                a.subject.clone(),
            ]
        })
        .collect()
}

/// "last deploy verification" in words: `ok at … — version 1.2, started …`.
pub(crate) fn deploy_text(d: Option<&DeployVerification>, now: i64) -> String {
    let Some(d) = d else {
        return "none yet (the watchdog verifies each new deploy it sees)".into();
    };
    let at = |t: i64| super::format::when(t, now);
    let what = format!("version {}, started {}", d.version, at(d.started_at));
    match d.status {
        VerifyStatus::Unverified => format!("none yet ({what} was running before the watchdog)"),
        VerifyStatus::Running => format!("running since {} — {what}", at(d.noticed_at)),
        VerifyStatus::Ok => format!(
            "ok at {} — {what}",
            at(d.finished_at.unwrap_or(d.noticed_at))
        ),
        VerifyStatus::Failed => {
            let healed = d
                .healed_at
                .map(|h| format!("; healthy since {}", at(h)))
                .unwrap_or_default();
            format!(
                "failed at {} — {what}: {}{healed}",
                at(d.finished_at.unwrap_or(d.noticed_at)),
                d.detail
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_deploy_verification_reads_ok_or_failed_at_its_time() {
        let now = 1_796_601_600;
        let d = |status, healed_at| DeployVerification {
            version: "1.2".into(),
            started_at: now - 600,
            noticed_at: now - 590,
            status,
            finished_at: Some(now - 300),
            healed_at,
            detail: "problems: [\"last delivery failed\"]".into(),
        };
        assert!(deploy_text(None, now).starts_with("none yet"));
        assert_eq!(
            deploy_text(Some(&d(VerifyStatus::Ok, None)), now),
            "ok at 2026-12-06 23:55:00Z (5 min ago) — version 1.2, started 2026-12-06 23:50:00Z (10 min ago)"
        );
        let failed = deploy_text(Some(&d(VerifyStatus::Failed, None)), now);
        assert!(
            failed.starts_with("failed at 2026-12-06 23:55:00Z"),
            "{failed}"
        );
        assert!(failed.contains("last delivery failed"), "{failed}");
        let healed = deploy_text(Some(&d(VerifyStatus::Failed, Some(now - 60))), now);
        assert!(
            healed.ends_with("healthy since 2026-12-06 23:59:00Z (1 min ago)"),
            "{healed}"
        );
        assert!(
            deploy_text(Some(&d(VerifyStatus::Running, None)), now).starts_with("running since")
        );
    }
}
