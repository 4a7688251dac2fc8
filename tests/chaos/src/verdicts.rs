//! What some rows must show beyond the common criteria (RELIABILITY.md's "Pass criteria"):
//! the token conflict's page names the other process, the blind watchdog saw itself blind
//! and restarted nothing, the front-down failover moved the webhook and back and restarted
//! nothing, a bot restarted during a drain cut no recovery short.

use mail_sim::Mail;
use serde_json::Value;

use crate::rows::{FaultKind, Row};
use crate::stack::Stack;

/// The row's own failed criteria (empty: none failed).
pub async fn row_specific(row: &Row, st: &Stack, mails: &[Mail]) -> Vec<String> {
    let mut out = Vec::new();
    match row.fault {
        FaultKind::TokenConflict => {
            let named = mails.iter().any(|m| {
                m.subject.starts_with("[CRITICAL]")
                    && m.subject
                        .contains("another process is using this bot's token")
            });
            if !named {
                out.push("no CRITICAL says another process is using the bot's token".into());
            }
        }
        FaultKind::WatchdogBlind => {
            match actions(st).await {
                Ok(kinds) if kinds.iter().any(|k| k == "restart") => {
                    out.push(format!("the blind watchdog restarted the bot: {kinds:?}"))
                }
                Ok(_) => {}
                Err(e) => out.push(e),
            }
            match blind_runs(st).await {
                Ok(0) => out.push("no run was reported as watchdog-blind".into()),
                Ok(_) => {}
                Err(e) => out.push(e),
            }
        }
        FaultKind::FrontDown => match actions(st).await {
            Ok(kinds) => {
                if kinds.iter().any(|k| k == "restart") {
                    out.push(format!("the primary was restarted: {kinds:?}"));
                }
                let moves: Vec<&str> = kinds
                    .iter()
                    .map(String::as_str)
                    .filter(|k| *k == "failover" || *k == "failback")
                    .collect();
                if moves != ["failover", "failback"] {
                    out.push(format!(
                        "moves {moves:?}, expected a failover then a failback"
                    ));
                }
            }
            Err(e) => out.push(e),
        },
        FaultKind::BotRestartDraining => match failed_actions(st).await {
            Ok(failed) if !failed.is_empty() => out.push(format!(
                "a watchdog action failed (the restarted bot's setWebhook cut the drain?): {failed:?}"
            )),
            Ok(_) => {}
            Err(e) => out.push(e),
        },
        _ => {}
    }
    out
}

/// The watchdog's actions that failed, as `kind: detail`.
async fn failed_actions(st: &Stack) -> Result<Vec<String>, String> {
    let db = st.store().await.map_err(|e| e.to_string())?;
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT kind, detail FROM wd_actions WHERE result = 'failed' ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .map_err(|e| format!("reading wd_actions: {e}"))?;
    Ok(rows
        .into_iter()
        .map(|(k, d)| format!("{k}: {}", d.unwrap_or_default()))
        .collect())
}

/// The kinds of the watchdog's actions that were taken or attempted, in order.
async fn actions(st: &Stack) -> Result<Vec<String>, String> {
    let db = st.store().await.map_err(|e| e.to_string())?;
    sqlx::query_scalar(
        "SELECT kind FROM wd_actions WHERE result IN ('running', 'succeeded', 'failed', 'not-configured') ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(|e| format!("reading wd_actions: {e}"))
}

/// Runs whose report holds a `watchdog-blind` warning.
async fn blind_runs(st: &Stack) -> Result<usize, String> {
    let db = st.store().await.map_err(|e| e.to_string())?;
    let reports: Vec<String> = sqlx::query_scalar("SELECT report FROM wd_runs")
        .fetch_all(&db.pool)
        .await
        .map_err(|e| format!("reading wd_runs: {e}"))?;
    Ok(reports
        .iter()
        .filter_map(|r| serde_json::from_str::<Value>(r).ok())
        .filter(|r| {
            r["findings"].as_array().is_some_and(|fs| {
                fs.iter()
                    .any(|f| f["incident"] == "watchdog-blind" && f["level"] == "warning")
            })
        })
        .count())
}
