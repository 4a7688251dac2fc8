//! The e-mailed reports of the watchdog: the daily digest ([`crate::digest`]) and the weekly
//! report ([`crate::weekly`]), gathered from the store and sent to the e-mail channels.

use crate::watchdog::Watchdog;

impl Watchdog {
    /// Gathers the last 7 days from the store and, with `send`, e-mails the weekly report.
    pub async fn weekly(
        &self,
        send: bool,
    ) -> Result<crate::weekly::WeeklyOutcome, telbot_shared::store::StoreError> {
        let w = crate::weekly::gather(&self.ctx, &self.sink.bot_name()).await?;
        let message = crate::weekly::text::render(&w, self.ctx.tg.redactor());
        let channels = self.sink.email(&message, send).await;
        for c in &channels {
            match &c.error {
                None => {
                    tracing::info!(channel = %c.channel, subject = %message.subject, "weekly report sent")
                }
                Some(e) => {
                    tracing::warn!(channel = %c.channel, error = %e, "cannot send the weekly report")
                }
            }
        }
        Ok(crate::weekly::WeeklyOutcome {
            weekly: w,
            message,
            channels,
        })
    }

    /// Gathers the last 24 h from the store and, with `send`, e-mails the digest.
    pub async fn digest(
        &self,
        send: bool,
    ) -> Result<crate::digest::DigestOutcome, telbot_shared::store::StoreError> {
        let d = crate::digest::gather(&self.ctx, &self.sink.bot_name()).await?;
        let (message, channels) = self.sink.digest(&d, send).await;
        for c in &channels {
            match &c.error {
                None => {
                    tracing::info!(channel = %c.channel, subject = %message.subject, "daily digest sent")
                }
                Some(e) => {
                    tracing::warn!(channel = %c.channel, error = %e, "cannot send the daily digest")
                }
            }
        }
        Ok(crate::digest::DigestOutcome {
            digest: d,
            message,
            channels,
        })
    }
}
