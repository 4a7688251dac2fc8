//! [`AlertPipeline`]: what the watchdog calls. `observe` runs the policy over one run's
//! observations and writes incident changes and outbox rows in one transaction per key;
//! `flush_outbox` delivers due rows with back-off and reports a channel that keeps failing
//! through the other channels.

use std::sync::Arc;

use secrecy::SecretString;
use serde::Serialize;
use telbot_shared::redact::Redactor;
use telbot_shared::store::Db;

use crate::config::AlertsConfig;
use crate::error::AlertError;
use crate::incident::{self, IncidentSummary};
use crate::model::{Decision, DecisionKind, Level, Observation};
use crate::notify::Notifier;
use crate::policy::{IncidentState, Policy, Step};
use crate::render::{Notice, NoticeKind, RenderCtx, render};
use crate::{outbox, silence};

/// The alerting pipeline. Holds no incident state in memory: everything is in the store, so a
/// restarted watchdog carries on where the previous one stopped.
#[derive(Clone)]
pub struct AlertPipeline {
    pub(crate) cfg: Arc<AlertsConfig>,
    pub(crate) db: Db,
    pub(crate) notifiers: Vec<Arc<dyn Notifier>>,
    pub(crate) redactor: Redactor,
    pub(crate) policy: Policy,
}

impl std::fmt::Debug for AlertPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertPipeline")
            .field("channels", &self.channel_names())
            .finish_non_exhaustive()
    }
}

/// One channel's answer to `test_alert`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelResult {
    /// The channel.
    pub channel: String,
    /// Whether it accepted the message.
    pub ok: bool,
    /// Why not (redacted).
    pub error: Option<String>,
}

impl AlertPipeline {
    /// Builds every configured channel. `extra_secrets` are the other secrets messages must
    /// never show (the bot token, the webhook secret, the admin token).
    pub fn new(
        cfg: AlertsConfig,
        db: Db,
        extra_secrets: impl IntoIterator<Item = SecretString>,
    ) -> Result<Self, AlertError> {
        let notifiers = crate::channels::from_config(&cfg)?;
        Ok(Self::with_notifiers(cfg, db, notifiers, extra_secrets))
    }

    /// With channels chosen by the caller (tests, or a custom channel).
    pub fn with_notifiers(
        cfg: AlertsConfig,
        db: Db,
        notifiers: Vec<Arc<dyn Notifier>>,
        extra_secrets: impl IntoIterator<Item = SecretString>,
    ) -> Self {
        let redactor = Redactor::new(cfg.secrets().into_iter().chain(extra_secrets));
        let policy = Policy {
            failure_threshold: cfg.failure_threshold,
            success_threshold: cfg.success_threshold,
            repeat_interval: cfg.repeat_interval.as_secs() as i64,
            send_resolved: cfg.send_resolved,
            escalate_after: cfg.escalate_after.map(|d| d.as_secs() as i64),
        };
        AlertPipeline {
            cfg: Arc::new(cfg),
            db,
            notifiers,
            redactor,
            policy,
        }
    }

    /// The configured channels' names.
    pub fn channel_names(&self) -> Vec<String> {
        self.notifiers
            .iter()
            .map(|n| n.name().to_string())
            .collect()
    }

    /// The bot's name, as every subject shows it.
    pub fn bot_name(&self) -> &str {
        &self.cfg.bot_name
    }

    /// Sends a finished message (the daily digest) to the e-mail channels only (`email`,
    /// `resend`), directly; redacted again on the way. Empty: no e-mail channel.
    pub async fn send_email(&self, msg: &crate::render::Message) -> Vec<ChannelResult> {
        let mut msg = msg.clone();
        msg.subject = self.redactor.redact(&msg.subject);
        msg.text = self.redactor.redact(&msg.text);
        msg.html = self.redactor.redact(&msg.html);
        let sends = self
            .notifiers
            .iter()
            .filter(|n| matches!(n.name(), "email" | "resend"))
            .map(|n| async {
                let r = self.send_one(n.as_ref(), &msg).await;
                ChannelResult {
                    channel: n.name().to_string(),
                    ok: r.is_ok(),
                    error: r.err().map(|e| self.redactor.redact(&e.to_string())),
                }
            });
        futures::future::join_all(sends).await
    }

    /// The redactor holding every configured secret.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Runs one watchdog run's observations through the policy, then releases held incidents
    /// whose silence has ended. Messages are queued, not sent: call [`Self::flush_outbox`].
    pub async fn observe(
        &self,
        run: &[Observation],
        now: i64,
    ) -> Result<Vec<Decision>, AlertError> {
        let active = silence::active(&self.db, &self.cfg.maintenance, now).await?;
        let mut out = Vec::with_capacity(run.len());
        for obs in merge_by_key(run)? {
            self.log_observation(obs);
            let silenced = silence::covering(&active, &obs.key);
            let mut tx = self.db.pool.begin().await?;
            incident::lock(&mut *tx, &obs.key).await?;
            let mut st = incident::load(&mut *tx, &obs.key)
                .await?
                .unwrap_or_else(|| IncidentState::new(&obs.key, now));
            let step = self.policy.step(&mut st, obs, now, silenced);
            let channels = self.queue(&mut tx, &st, &step, now).await?;
            incident::save(&mut *tx, &st, now).await?;
            tx.commit().await?;
            out.push(self.decision(&st.key, obs.level, step, channels));
        }
        // Held incidents not observed in this run still notify when their silence ends.
        for candidate in incident::list_active(&self.db.pool).await? {
            let silenced = silence::covering(&active, &candidate.key);
            if !candidate.held || silenced.is_some() {
                continue;
            }
            let mut tx = self.db.pool.begin().await?;
            incident::lock(&mut *tx, &candidate.key).await?;
            let Some(mut st) = incident::load(&mut *tx, &candidate.key).await? else {
                continue;
            };
            let Some(step) = self.policy.release(&mut st, now, silenced) else {
                continue;
            };
            let channels = self.queue(&mut tx, &st, &step, now).await?;
            incident::save(&mut *tx, &st, now).await?;
            tx.commit().await?;
            let level = st.level;
            out.retain(|d| d.key != st.key);
            out.push(self.decision(&st.key, level, step, channels));
        }
        Ok(out)
    }

    fn log_observation(&self, obs: &Observation) {
        let summary = self.redactor.redact(&obs.summary);
        match obs.level {
            Level::Critical => tracing::error!(incident = %obs.key, %summary, "critical finding"),
            Level::Warning => tracing::warn!(incident = %obs.key, %summary, "warning finding"),
            Level::Ok => tracing::debug!(incident = %obs.key, "check passed"),
        }
    }

    fn decision(&self, key: &str, level: Level, step: Step, channels: Vec<String>) -> Decision {
        let detail = self.redactor.redact(&step.detail);
        match step.kind {
            DecisionKind::Ok | DecisionKind::Ongoing | DecisionKind::Recovering => {
                tracing::debug!(incident = %key, kind = ?step.kind, %detail, "alert decision")
            }
            _ => {
                tracing::info!(incident = %key, kind = ?step.kind, ?channels, %detail, "alert decision")
            }
        }
        Decision {
            key: key.to_string(),
            level,
            kind: step.kind,
            channels,
            detail,
        }
    }

    /// The channels a message about `level` goes to; with `escalation`, the escalation
    /// channels as well.
    fn channels_for(&self, level: Level, escalation: bool) -> Vec<Arc<dyn Notifier>> {
        self.notifiers
            .iter()
            .filter(|n| {
                if n.escalation_only() {
                    return escalation;
                }
                level == Level::Critical || (self.cfg.warnings_to_chat && n.takes_warnings())
            })
            .cloned()
            .collect()
    }

    pub(crate) fn ctx(&self) -> RenderCtx<'_> {
        RenderCtx {
            bot_name: &self.cfg.bot_name,
            dashboard_url: self.cfg.dashboard_url.as_ref(),
            redactor: &self.redactor,
        }
    }

    async fn queue(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        st: &IncidentState,
        step: &Step,
        now: i64,
    ) -> Result<Vec<String>, AlertError> {
        let Some(kind) = step.notice else {
            return Ok(Vec::new());
        };
        let fallback = Observation::new(st.key.clone(), step.level, st.key.clone());
        let obs = st.observation.as_ref().unwrap_or(&fallback);
        let msg = render(
            &Notice {
                kind,
                level: step.level,
                observation: obs,
                since: step.since,
                now,
            },
            &self.ctx(),
        );
        let mut names = Vec::new();
        for n in self.channels_for(step.level, step.escalation) {
            outbox::enqueue(tx, &st.key, kind.as_str(), n.name(), &msg, now).await?;
            names.push(n.name().to_string());
        }
        if names.is_empty() {
            tracing::warn!(incident = %st.key, subject = %msg.subject, "no alert channel takes this message; logged (and shown on the dashboard) only");
            outbox::record_logged(tx, &st.key, &msg, now).await?;
        }
        Ok(names)
    }

    /// Silences `target` (an incident key or `all`) for `length` from `now`
    /// (`watchdog silence <incident|all> --for 2h [--reason …]`).
    pub async fn silence(
        &self,
        target: &str,
        length: std::time::Duration,
        reason: &str,
        now: i64,
    ) -> Result<silence::Silence, AlertError> {
        let secs = i64::try_from(length.as_secs()).unwrap_or(i64::MAX);
        let s = silence::add(&self.db, target, secs, &self.redactor.redact(reason), now).await?;
        tracing::info!(target = %s.target, until = %crate::render::format_time(s.ends_at), reason = %s.reason, "alerts silenced");
        Ok(s)
    }

    /// Ends silences on `target` now (`all`: every silence). Held incidents notify at the next `observe`.
    pub async fn unsilence(&self, target: &str, now: i64) -> Result<u64, AlertError> {
        let n = if target.trim() == silence::ALL {
            silence::clear_everything(&self.db, now).await?
        } else {
            silence::clear(&self.db, target, now).await?
        };
        tracing::info!(%target, ended = n, "silences ended");
        Ok(n)
    }

    /// Active silences and maintenance windows.
    pub async fn silences(&self, now: i64) -> Result<Vec<silence::Silence>, AlertError> {
        silence::active(&self.db, &self.cfg.maintenance, now).await
    }

    /// Pending and open incidents, for the CLI and the dashboard.
    pub async fn incidents(&self) -> Result<Vec<IncidentSummary>, AlertError> {
        Ok(incident::list_active(&self.db.pool)
            .await?
            .iter()
            .map(IncidentSummary::from)
            .collect())
    }

    /// Sends a test message through every configured channel, directly (not via the outbox).
    pub async fn test_alert(&self, now: i64) -> Vec<ChannelResult> {
        let mut obs = Observation::new(
            crate::model::TEST_INCIDENT,
            Level::Warning,
            "test alert (no action needed)",
        );
        obs.runbook_cmd = Some("none: this was a test".into());
        self.send_direct(&obs, NoticeKind::Test, now).await
    }

    /// Sends a report (a recovery drill's) through every configured channel, directly: it is
    /// no incident, so it is neither damped nor repeated. Its level colours it (critical: the
    /// drill failed).
    pub async fn report(&self, obs: &Observation, now: i64) -> Vec<ChannelResult> {
        self.send_direct(obs, NoticeKind::Drill, now).await
    }

    async fn send_direct(
        &self,
        obs: &Observation,
        kind: NoticeKind,
        now: i64,
    ) -> Vec<ChannelResult> {
        let msg = render(
            &Notice {
                kind,
                level: obs.level,
                observation: obs,
                since: now,
                now,
            },
            &self.ctx(),
        );
        // A drill's report is no incident: the escalation contacts do not get it.
        let notifiers = self
            .notifiers
            .iter()
            .filter(|n| kind == NoticeKind::Test || !n.escalation_only());
        let sends = notifiers.map(|n| async {
            let r = self.send_one(n.as_ref(), &msg).await;
            let error = r
                .as_ref()
                .err()
                .map(|e| self.redactor.redact(&e.to_string()));
            ChannelResult {
                channel: n.name().to_string(),
                ok: r.is_ok(),
                error,
            }
        });
        futures::future::join_all(sends).await
    }
}

/// One observation per key: the worst level wins (the first among equals), so two checks
/// reporting the same incident in one run count as one run, not two.
fn merge_by_key(run: &[Observation]) -> Result<Vec<&Observation>, AlertError> {
    let mut out: Vec<&Observation> = Vec::with_capacity(run.len());
    for obs in run {
        if obs.key.trim().is_empty() {
            return Err(AlertError::Invalid(format!(
                "an observation has an empty incident key (summary: {:?})",
                obs.summary
            )));
        }
        match out.iter_mut().find(|o| o.key == obs.key) {
            Some(seen) if obs.level > seen.level => *seen = obs,
            Some(_) => {}
            None => out.push(obs),
        }
    }
    Ok(out)
}
