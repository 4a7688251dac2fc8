//! Delivery: `flush_outbox` sends due outbox rows, retries failures with back-off (never
//! dropping one), and reports a channel that keeps failing through the other channels. A
//! refusal for good ([`AlertError::Rejected`]) is kept as failed at once and reported.

use serde::Serialize;

use crate::error::AlertError;
use crate::model::{Level, Observation};
use crate::notify::Notifier;
use crate::outbox;
use crate::pipeline::AlertPipeline;
use crate::render::{Message, Notice, NoticeKind, render};

/// What one `flush_outbox` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FlushReport {
    /// Rows delivered.
    pub sent: u32,
    /// Rows that failed this time (and will be retried).
    pub failed: u32,
    /// Rows still waiting after this flush.
    pub waiting: u32,
}

impl AlertPipeline {
    /// Delivers every due outbox row. A failure is retried later with back-off (never dropped);
    /// a channel failing `channel_failing_after` times in a row is reported through the others.
    pub async fn flush_outbox(&self, now: i64) -> Result<FlushReport, AlertError> {
        let mut report = FlushReport::default();
        for row in outbox::due(&self.db, now, 200).await? {
            if !outbox::claim(&self.db, &row, now).await? {
                continue;
            }
            let Some(n) = self.notifiers.iter().find(|n| n.name() == row.channel) else {
                let err = format!("channel {} is no longer configured", row.channel);
                tracing::error!(incident = %row.incident_key, subject = %row.subject, %err, "alert not delivered");
                outbox::mark_failed(&self.db, &row, &err, now, true).await?;
                report.failed += 1;
                continue;
            };
            match self.send_one(n.as_ref(), &row.message()).await {
                Ok(()) => {
                    outbox::mark_sent(&self.db, &row, now).await?;
                    tracing::info!(incident = %row.incident_key, channel = %row.channel, subject = %row.subject, "alert delivered");
                    report.sent += 1;
                    self.db
                        .kv_delete(&failing_key(&row.channel))
                        .await
                        .map_err(|e| AlertError::Store(e.to_string()))?;
                }
                Err(e @ AlertError::Rejected { .. }) => {
                    // Retrying cannot help (a bad number, wrong credentials): kept as failed,
                    // and the other channels are told now.
                    let err = self.redactor.redact(&e.to_string());
                    tracing::error!(incident = %row.incident_key, channel = %row.channel, %err, "alert refused by the channel; not retried");
                    outbox::mark_failed(&self.db, &row, &err, now, true).await?;
                    report.failed += 1;
                    self.report_failing_channel(&row, &err, now).await?;
                }
                Err(e) => {
                    let err = self.redactor.redact(&e.to_string());
                    let attempts = row.attempts + 1;
                    let next =
                        now + outbox::backoff(self.cfg.retry_base, self.cfg.retry_max, attempts);
                    tracing::warn!(incident = %row.incident_key, channel = %row.channel, attempts, %err, "alert delivery failed; will retry");
                    outbox::mark_failed(&self.db, &row, &err, next, false).await?;
                    report.failed += 1;
                    if attempts >= i64::from(self.cfg.channel_failing_after) {
                        self.report_failing_channel(&row, &err, now).await?;
                    }
                }
            }
        }
        report.waiting = outbox::undelivered(&self.db.pool).await?.len() as u32;
        Ok(report)
    }

    pub(crate) async fn send_one(&self, n: &dyn Notifier, msg: &Message) -> Result<(), AlertError> {
        let bound = self.cfg.send_timeout * 3;
        match tokio::time::timeout(bound, n.send(msg)).await {
            Ok(r) => r,
            Err(_) => Err(AlertError::send(n.name(), "timed out")),
        }
    }

    /// Tells the other channels (once per repeat interval) that `row.channel` keeps failing.
    async fn report_failing_channel(
        &self,
        row: &outbox::OutboxRow,
        err: &str,
        now: i64,
    ) -> Result<(), AlertError> {
        let key = failing_key(&row.channel);
        let last = self
            .db
            .kv_get(&key)
            .await
            .map_err(|e| AlertError::Store(e.to_string()))?;
        let recent = last
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|t| now - t < self.policy.repeat_interval);
        tracing::error!(channel = %row.channel, attempts = row.attempts + 1, %err, "alert channel keeps failing");
        if recent {
            return Ok(());
        }
        self.db
            .kv_set(&key, &now.to_string())
            .await
            .map_err(|e| AlertError::Store(e.to_string()))?;
        let mut obs = Observation::new(
            format!("alert-channel-{}", row.channel),
            Level::Critical,
            format!("alert channel {} keeps failing", row.channel),
        );
        obs.evidence = serde_json::json!({
            "channel": row.channel, "attempts": row.attempts + 1, "last_error": err,
            "waiting_message": row.subject,
        });
        obs.runbook_cmd = Some("watchdog test-alert".into());
        let msg = render(
            &Notice {
                kind: NoticeKind::Opened,
                level: Level::Critical,
                observation: &obs,
                since: row.created_at,
                now,
            },
            &self.ctx(),
        );
        let mut tx = self.db.pool.begin().await?;
        for n in self.notifiers.iter().filter(|n| n.name() != row.channel) {
            outbox::enqueue(&mut tx, &obs.key, "channel-failing", n.name(), &msg, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

fn failing_key(channel: &str) -> String {
    format!("alerts.channel_failing.{channel}")
}
