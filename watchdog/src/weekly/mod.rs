//! The weekly report (`watchdog report --week`, `watchdog.schedule.weekly`): the ops notes'
//! weekly checklist answered from the store — "review error logs for patterns" (the bot's
//! failed updates and the watchdog's findings, grouped), "update thresholds" (each figure
//! against its threshold, with a note where one is never or always crossed), "test emergency
//! recovery procedures" (the last drill and its age) and "back up configuration and
//! environment variables" (the effective configuration, secrets named by their variables).
//!
//! - [`gather`]: reads the last 7 days into a [`Weekly`].
//! - [`text`]: the pure rendering into a message.

pub(crate) mod text;

use std::collections::BTreeMap;

use serde::Serialize;
use telbot_shared::store::StoreError;

use crate::context::Ctx;
use crate::digest::{self, Digest};
use crate::report::{Level, RunReport, incident};

/// The period a weekly report covers.
pub(crate) const PERIOD_SECS: i64 = 7 * 24 * 3600;
/// Groups of errors listed at most.
pub(crate) const TOP: usize = 5;

/// One group of like messages and how often it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// What it is about: the update kind, or the incident key.
    pub about: String,
    /// The message, numbers replaced by `N` so like ones group together.
    pub message: String,
    /// How many times.
    pub count: u64,
}

/// The last drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drill {
    /// When it ran (unix seconds).
    pub at: i64,
    /// Whether it passed.
    pub passed: bool,
    /// What it said.
    pub reason: String,
}

/// Everything the weekly report says.
#[derive(Debug, Clone, Serialize)]
pub struct Weekly {
    /// The week's figures, incidents and actions (the daily digest's shape over 7 days).
    pub digest: Digest,
    /// The bot's failed updates of the week, by error, most frequent first.
    pub update_errors: Vec<Group>,
    /// The watchdog's problem findings of the week, by incident and reason.
    pub findings: Vec<Group>,
    /// The last drill in the store (any age), if one ever ran.
    pub last_drill: Option<Drill>,
    /// The configuration backup (TOML, no secret in it).
    pub config: String,
}

/// What `watchdog report --week` (or its schedule) made and where it went.
#[derive(Debug, Clone)]
pub struct WeeklyOutcome {
    /// The figures.
    pub weekly: Weekly,
    /// The message.
    pub message: telbot_alerts::Message,
    /// Each e-mail channel's result (empty: not sent, or no e-mail channel).
    pub channels: Vec<telbot_alerts::ChannelResult>,
}

/// `text` with every run of digits replaced by `N`.
pub(crate) fn shape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

fn top(counts: BTreeMap<(String, String), u64>) -> Vec<Group> {
    let mut v: Vec<Group> = counts
        .into_iter()
        .map(|((about, message), count)| Group {
            about,
            message,
            count,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.about.cmp(&b.about)));
    v.truncate(TOP);
    v
}

/// The drill a run reports, if it is a drill's.
fn drill_of(run: &RunReport) -> Option<Drill> {
    if run.run != "drill" {
        return None;
    }
    let f = run.finding(incident::RECOVERY_DRILL)?;
    Some(Drill {
        at: run.started_at,
        passed: f.level == Level::Ok,
        reason: f.reason.clone(),
    })
}

/// Reads the last [`PERIOD_SECS`] from the store.
pub(crate) async fn gather(ctx: &Ctx, bot: &str) -> Result<Weekly, StoreError> {
    let mut findings: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut last_drill: Option<Drill> = None;
    let mut note = |run: &RunReport| {
        for f in run.findings.iter().filter(|f| f.level > Level::Ok) {
            *findings
                .entry((f.incident.to_string(), shape(&f.reason)))
                .or_default() += 1;
        }
        if let Some(d) = drill_of(run) {
            last_drill = Some(d);
        }
    };
    let d = digest::gather_over(ctx, bot, PERIOD_SECS, &mut note).await?;
    let pool = &ctx.store.db().pool;
    // A drill older than the week still answers "when was recovery last tested".
    if last_drill.is_none() {
        let older: Option<String> = sqlx::query_scalar(
            "SELECT report FROM wd_runs WHERE run = 'drill' ORDER BY started_at DESC, id DESC LIMIT 1",
        )
        .fetch_optional(pool)
        .await?;
        last_drill = older
            .and_then(|t| serde_json::from_str::<RunReport>(&t).ok())
            .and_then(|run| drill_of(&run));
    }
    // The bot's failed updates: their last error, kept in the inbox (parked ones, and done
    // ones that failed before they succeeded), canaries left out.
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, last_error FROM inbox WHERE last_error IS NOT NULL AND update_id >= 0 AND received_at >= $1",
    )
    .bind(d.from)
    .fetch_all(pool)
    .await?;
    let mut errors: BTreeMap<(String, String), u64> = BTreeMap::new();
    for (kind, e) in rows {
        *errors.entry((kind, shape(&ctx.redact(&e)))).or_default() += 1;
    }
    let findings = top(findings)
        .into_iter()
        .map(|g| Group {
            message: ctx.redact(&g.message),
            ..g
        })
        .collect();
    Ok(Weekly {
        digest: d,
        update_errors: top(errors),
        findings,
        last_drill,
        config: ctx.cfg.backup.clone(),
    })
}
