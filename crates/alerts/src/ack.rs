//! `watchdog ack INCIDENT`: a person has the incident in hand. Reminders and escalation stop
//! for it until it resolves (the RESOLVED message still goes out); who and when are kept on
//! the incident row (`alert_incidents.acked_by`, `acked_at`) and cleared when it resolves.

use crate::error::AlertError;
use crate::incident::{self, IncidentSummary};
use crate::pipeline::AlertPipeline;
use crate::policy::Phase;

impl AlertPipeline {
    /// Acknowledges the open incident `key` for `by` at `now`. An incident that is not open
    /// (unknown, resolved, or still below the failure threshold) is an error naming it.
    pub async fn ack(&self, key: &str, by: &str, now: i64) -> Result<IncidentSummary, AlertError> {
        let key = key.trim();
        let by = match self.redactor.redact(by.trim()) {
            b if b.is_empty() => "unknown".to_string(),
            b => crate::notify::truncate(&b, 100),
        };
        let mut tx = self.db.pool.begin().await?;
        incident::lock(&mut *tx, key).await?;
        let Some(mut st) = incident::load(&mut *tx, key).await? else {
            return Err(AlertError::Invalid(format!(
                "no incident {key:?} (see `watchdog check --json` for the open ones)"
            )));
        };
        if st.phase != Phase::Open {
            return Err(AlertError::Invalid(format!(
                "incident {key:?} is not open (it is {}); nothing to acknowledge",
                st.phase.as_str()
            )));
        }
        if st.acked_at.is_none() {
            st.acked_at = Some(now);
            st.acked_by = Some(by.clone());
        }
        incident::save(&mut *tx, &st, now).await?;
        tx.commit().await?;
        tracing::info!(incident = %key, by = st.acked_by.as_deref().unwrap_or_default(), "incident acknowledged: no reminders or escalation until it resolves");
        Ok(IncidentSummary::from(&st))
    }
}
