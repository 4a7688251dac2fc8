//! The alert policy, as a pure state machine (gatus's model): one [`IncidentState`] per key,
//! advanced by one observation at a time. Flap damping (`failure_threshold`,
//! `success_threshold`), reminders after `repeat_interval`, escalation, silences, and the
//! RESOLVED message are all decided here; the pipeline only loads, saves and enqueues.

use crate::model::{DecisionKind, Level, Observation};
use crate::render::NoticeKind;

/// Where an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Nothing wrong.
    Ok,
    /// Failing, fewer than `failure_threshold` runs in a row.
    Pending,
    /// Open: notified, or held by a silence.
    Open,
}

impl Phase {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Ok => "ok",
            Phase::Pending => "pending",
            Phase::Open => "open",
        }
    }

    /// From the stored text (unknown: open, so nothing is forgotten).
    pub fn parse(s: &str) -> Phase {
        match s {
            "ok" => Phase::Ok,
            "pending" => Phase::Pending,
            _ => Phase::Open,
        }
    }
}

/// The persisted state of one incident key.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentState {
    /// The incident key.
    pub key: String,
    /// Ok, pending or open.
    pub phase: Phase,
    /// The latest failing level.
    pub level: Level,
    /// Failing runs in a row.
    pub consecutive_failures: i64,
    /// Passing runs in a row.
    pub consecutive_successes: i64,
    /// First failing run of this episode ("since when").
    pub first_failure_at: Option<i64>,
    /// When the threshold was crossed.
    pub opened_at: Option<i64>,
    /// Last observation of this key.
    pub last_seen_at: i64,
    /// Last time people were told (survives restarts: no duplicate after one).
    pub last_notified_at: Option<i64>,
    /// The highest level people were told about in this episode; `None`: nobody was told.
    pub notified_level: Option<Level>,
    /// The silence that held a message back, until when.
    pub silenced_until: Option<i64>,
    /// A message was due while silenced; sent when the silence ends if still open.
    pub held: bool,
    /// The latest failing observation (what messages show).
    pub observation: Option<Observation>,
    /// When it last resolved.
    pub resolved_at: Option<i64>,
    /// When it went to the escalation channels (`alerts.escalate_after`); once per episode.
    pub escalated_at: Option<i64>,
    /// When a person acknowledged it (`watchdog ack`): no reminders or escalation after it.
    pub acked_at: Option<i64>,
    /// Who acknowledged it.
    pub acked_by: Option<String>,
}

impl IncidentState {
    /// A key never seen before.
    pub fn new(key: &str, now: i64) -> Self {
        IncidentState {
            key: key.to_string(),
            phase: Phase::Ok,
            level: Level::Ok,
            consecutive_failures: 0,
            consecutive_successes: 0,
            first_failure_at: None,
            opened_at: None,
            last_seen_at: now,
            last_notified_at: None,
            notified_level: None,
            silenced_until: None,
            held: false,
            observation: None,
            resolved_at: None,
            escalated_at: None,
            acked_at: None,
            acked_by: None,
        }
    }
}

/// The thresholds, from config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// Failing runs in a row before an incident opens.
    pub failure_threshold: u32,
    /// Passing runs in a row before it resolves.
    pub success_threshold: u32,
    /// Seconds between reminders.
    pub repeat_interval: i64,
    /// Whether RESOLVED is sent.
    pub send_resolved: bool,
    /// Seconds a critical incident may stay open, unacknowledged, before it is escalated
    /// (`None`: never).
    pub escalate_after: Option<i64>,
}

/// What one step decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    /// For the caller's report.
    pub kind: DecisionKind,
    /// The message to send now, if any.
    pub notice: Option<NoticeKind>,
    /// The level the message is about (decides the channels).
    pub level: Level,
    /// "Since when" for the message.
    pub since: i64,
    /// Why, for a person.
    pub detail: String,
    /// The message goes to the escalation channels too (an escalation, or the RESOLVED of an
    /// escalated incident).
    pub escalation: bool,
}

impl Policy {
    /// Advances `st` by one observation. `silenced`: until when a silence or maintenance window
    /// covers this key now, if one does.
    pub(crate) fn step(
        &self,
        st: &mut IncidentState,
        obs: &Observation,
        now: i64,
        silenced: Option<i64>,
    ) -> Step {
        st.last_seen_at = now;
        if obs.level == Level::Ok {
            return self.pass(st, now, silenced);
        }
        st.consecutive_failures += 1;
        st.consecutive_successes = 0;
        st.observation = Some(obs.clone());
        st.level = obs.level;
        if st.phase == Phase::Ok {
            st.phase = Phase::Pending;
            st.first_failure_at = Some(now);
        }
        let since = st.first_failure_at.unwrap_or(now);
        let notice = match st.phase {
            Phase::Pending if st.consecutive_failures < i64::from(self.failure_threshold) => {
                let detail = format!(
                    "{}/{} consecutive failures",
                    st.consecutive_failures, self.failure_threshold
                );
                return step(
                    DecisionKind::SuppressedByThreshold,
                    None,
                    obs.level,
                    since,
                    detail,
                );
            }
            Phase::Pending => {
                st.phase = Phase::Open;
                st.opened_at = Some(now);
                NoticeKind::Opened
            }
            _ if obs.level > st.notified_level.unwrap_or(Level::Ok)
                && st.notified_level.is_some() =>
            {
                NoticeKind::Update
            }
            _ if st.held => NoticeKind::Update,
            _ if self.escalation_due(st, now) => NoticeKind::Escalation,
            _ if st.acked_at.is_some() => {
                let detail = format!(
                    "acknowledged by {} at {}: no reminders",
                    st.acked_by.as_deref().unwrap_or("someone"),
                    crate::render::format_time(st.acked_at.unwrap_or(now))
                );
                return step(DecisionKind::Ongoing, None, obs.level, since, detail);
            }
            _ => match st.last_notified_at {
                Some(t) if now - t < self.repeat_interval => {
                    let detail = format!("already notified at {}", crate::render::format_time(t));
                    return step(DecisionKind::Ongoing, None, obs.level, since, detail);
                }
                _ => NoticeKind::Repeat,
            },
        };
        self.notify(st, notice, now, silenced)
    }

    /// Whether an open incident is due for escalation: critical, told about, not acknowledged,
    /// not escalated yet, open for `escalate_after`.
    fn escalation_due(&self, st: &IncidentState, now: i64) -> bool {
        let Some(after) = self.escalate_after else {
            return false;
        };
        st.level == Level::Critical
            && st.notified_level.is_some()
            && st.acked_at.is_none()
            && st.escalated_at.is_none()
            && st.opened_at.is_some_and(|t| now - t >= after)
    }

    /// A held incident whose silence has ended and that is still open: its message is due.
    pub(crate) fn release(
        &self,
        st: &mut IncidentState,
        now: i64,
        silenced: Option<i64>,
    ) -> Option<Step> {
        if st.phase != Phase::Open || !st.held || silenced.is_some() {
            return None;
        }
        Some(self.notify(st, NoticeKind::Update, now, None))
    }

    fn notify(
        &self,
        st: &mut IncidentState,
        notice: NoticeKind,
        now: i64,
        silenced: Option<i64>,
    ) -> Step {
        let since = st.first_failure_at.unwrap_or(now);
        if let Some(until) = silenced {
            st.held = true;
            st.silenced_until = Some(until);
            let detail = format!(
                "{} message held: silenced until {}",
                notice.as_str(),
                crate::render::format_time(until)
            );
            return step(DecisionKind::Silenced, None, st.level, since, detail);
        }
        st.held = false;
        st.silenced_until = None;
        st.last_notified_at = Some(now);
        st.notified_level = Some(st.notified_level.map_or(st.level, |l| l.max(st.level)));
        let kind = match notice {
            NoticeKind::Opened => DecisionKind::Opened,
            NoticeKind::Repeat => DecisionKind::Repeat,
            NoticeKind::Escalation => DecisionKind::Escalated,
            _ => DecisionKind::Notified,
        };
        let escalation = notice == NoticeKind::Escalation;
        if escalation {
            st.escalated_at = Some(now);
        }
        let mut s = step(
            kind,
            Some(notice),
            st.level,
            since,
            format!("{} message queued", notice.as_str()),
        );
        s.escalation = escalation;
        s
    }

    fn pass(&self, st: &mut IncidentState, now: i64, silenced: Option<i64>) -> Step {
        st.consecutive_successes += 1;
        st.consecutive_failures = 0;
        let since = st.first_failure_at.unwrap_or(now);
        match st.phase {
            Phase::Ok => step(DecisionKind::Ok, None, Level::Ok, now, "ok".into()),
            Phase::Pending => {
                st.phase = Phase::Ok;
                st.first_failure_at = None;
                step(
                    DecisionKind::Ok,
                    None,
                    Level::Ok,
                    since,
                    "recovered below the failure threshold".into(),
                )
            }
            Phase::Open if st.consecutive_successes < i64::from(self.success_threshold) => {
                let detail = format!(
                    "{}/{} consecutive successes",
                    st.consecutive_successes, self.success_threshold
                );
                step(DecisionKind::Recovering, None, st.level, since, detail)
            }
            Phase::Open => {
                let told = st.notified_level;
                let escalated = st.escalated_at.is_some();
                st.escalated_at = None;
                st.acked_at = None;
                st.acked_by = None;
                let level = told.unwrap_or(st.level);
                st.phase = Phase::Ok;
                st.resolved_at = Some(now);
                st.first_failure_at = None;
                st.opened_at = None;
                st.notified_level = None;
                st.held = false;
                st.silenced_until = None;
                let (notice, detail) = match (told, silenced) {
                    (None, _) => (None, "resolved; nobody had been told".to_string()),
                    (Some(_), _) if !self.send_resolved => {
                        (None, "resolved; send_resolved is off".into())
                    }
                    (Some(_), Some(until)) => (
                        None,
                        format!(
                            "resolved while silenced until {}; not sent",
                            crate::render::format_time(until)
                        ),
                    ),
                    (Some(_), None) => {
                        (Some(NoticeKind::Resolved), "resolved message queued".into())
                    }
                };
                let mut s = step(DecisionKind::Resolved, notice, level, since, detail);
                s.escalation = escalated && notice.is_some();
                s
            }
        }
    }
}

fn step(
    kind: DecisionKind,
    notice: Option<NoticeKind>,
    level: Level,
    since: i64,
    detail: String,
) -> Step {
    Step {
        kind,
        notice,
        level,
        since,
        detail,
        escalation: false,
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
