//! The deploy-time commands: `preflight` (safe to deploy?) and `verify` (healthy after the
//! deploy?). Both only read.

use std::time::Duration;

use serde_json::json;

use crate::checks;
use crate::report::{Finding, Level, incident};
use crate::watchdog::Watchdog;

impl Watchdog {
    /// `watchdog preflight`: is it safe to deploy? Bot API answers and the token is accepted
    /// (else critical), pending < max_pending and no current webhook error (else warning).
    pub async fn preflight(&self) -> (Level, Vec<Finding>) {
        let ctx = &self.ctx;
        let info = match ctx.tg.get_me().await {
            Ok(_) => ctx
                .tg
                .get_webhook_info()
                .await
                .map_err(|e| ("getWebhookInfo", e)),
            Err(e) => Err(("getMe", e)),
        };
        let info = match info {
            Ok(i) => i,
            Err((method, e)) => {
                let fs = checks::telegram::api_failure(ctx, method, &e);
                let level = fs.iter().map(|f| f.level).max().unwrap_or(Level::Critical);
                return (level, fs);
            }
        };
        let t = &ctx.cfg.thresholds;
        let now = ctx.clock.now();
        let erroring = info.pending_update_count > 0
            && info
                .last_error_date
                .is_some_and(|d| now - d <= t.error_window.as_secs() as i64);
        let ev = json!({ "pending_update_count": info.pending_update_count, "max_pending": t.max_pending, "last_error_message": info.last_error_message });
        let f = if info.pending_update_count >= t.max_pending {
            Finding::new(
                "preflight",
                incident::WEBHOOK_STUCK,
                Level::Warning,
                format!(
                    "not safe to deploy: {} updates pending (must be below {})",
                    info.pending_update_count, t.max_pending
                ),
            )
        } else if erroring {
            Finding::new(
                "preflight",
                incident::WEBHOOK_STUCK,
                Level::Warning,
                format!(
                    "not safe to deploy: the webhook is erroring: {}",
                    info.last_error_message.clone().unwrap_or_default()
                ),
            )
        } else {
            Finding::ok(
                "preflight",
                incident::WEBHOOK_STUCK,
                format!(
                    "safe to deploy: the Bot API answers, {} pending",
                    info.pending_update_count
                ),
            )
        };
        let f = f.with_evidence(ev);
        let f = Finding {
            reason: ctx.redact(&f.reason),
            evidence: serde_json::from_str(&ctx.redact(&f.evidence.to_string()))
                .unwrap_or_default(),
            ..f
        };
        (f.level, vec![f])
    }

    /// `watchdog verify`: waits until the bot's `/webhook/health` says `is_healthy`, polling
    /// every `every`; critical when `timeout` passes first.
    pub async fn verify(&self, timeout: Duration, every: Duration) -> (Level, String) {
        let ctx = &self.ctx;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = String::from("no answer yet");
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return (
                    Level::Critical,
                    format!("not healthy after {timeout:?}: {last}"),
                );
            }
            match crate::checks::integration::webhook_healthy(ctx, left).await {
                Ok(()) => return (Level::Ok, "the bot's /webhook/health is healthy".into()),
                Err(why) => last = why,
            }
            tokio::time::sleep(
                every.min(deadline.saturating_duration_since(tokio::time::Instant::now())),
            )
            .await;
        }
    }
}
