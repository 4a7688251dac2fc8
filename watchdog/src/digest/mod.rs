//! The daily digest (`watchdog digest`, `watchdog.schedule.digest`): the ops notes' daily
//! checklist answered from the store, in one e-mail (text and HTML, redacted) to the e-mail
//! channels. Everything comes from what the watchdog already keeps: its runs (`wd_runs`, whose
//! findings carry pending updates, /health latency, the success rate, parked updates and RSS),
//! its actions (`wd_actions`) and the alert incidents (`alert_incidents`).
//!
//! - [`gather`]: reads the last 24 h into a [`Digest`].
//! - [`text`]: the pure rendering of a [`Digest`] into a message.

pub(crate) mod text;

use serde::Serialize;
use telbot_shared::store::StoreError;

use crate::context::Ctx;
use crate::report::{Level, RunReport, incident};

/// The period a digest covers.
pub(crate) const PERIOD_SECS: i64 = 24 * 3600;

/// A series of numbers seen over the period: first, last, lowest, highest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Series {
    /// The oldest value in the period.
    pub first: f64,
    /// The latest value.
    pub last: f64,
    /// The lowest.
    pub min: f64,
    /// The highest.
    pub max: f64,
    /// How many values.
    pub count: u64,
}

impl Series {
    fn push(s: &mut Option<Series>, v: f64) {
        match s {
            None => {
                *s = Some(Series {
                    first: v,
                    last: v,
                    min: v,
                    max: v,
                    count: 1,
                })
            }
            Some(s) => {
                s.last = v;
                s.min = s.min.min(v);
                s.max = s.max.max(v);
                s.count += 1;
            }
        }
    }
}

/// An incident that failed at least one run in the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeenIncident {
    /// The incident key.
    pub key: String,
    /// The worst level seen.
    pub worst: Level,
    /// Runs in which it failed.
    pub failing_runs: u64,
    /// First and last failing run (unix seconds).
    pub first_seen: i64,
    /// Last failing run.
    pub last_seen: i64,
    /// Open now (in `alert_incidents`), and who acknowledged it, if anyone.
    pub open: bool,
    /// Who acknowledged it (open incidents only).
    pub acked_by: Option<String>,
}

/// One action of the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionLine {
    /// When it started.
    pub at: i64,
    /// `lossless-recovery`, `restart`, ….
    pub kind: String,
    /// `succeeded`, `failed`, `dry-run`, ….
    pub result: String,
    /// Its detail in words (`drained 9, replayed 9, dropped 0; webhook set again`).
    pub detail: String,
}

/// The daily checklist, answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Digest {
    /// The bot's name.
    pub bot: String,
    /// Start of the period (unix seconds).
    pub from: i64,
    /// End of the period: when it was made.
    pub to: i64,
    /// Pending updates at Telegram (getWebhookInfo), as the runs saw them.
    pub pending: Option<Series>,
    /// The handler success rate (percent) per measured window.
    pub success_percent: Option<Series>,
    /// `/health` response time (ms).
    pub response_ms: Option<Series>,
    /// Parked updates.
    pub parked: Option<Series>,
    /// The bot's resident memory (bytes).
    pub rss_bytes: Option<Series>,
    /// The restart limit on RSS (bytes).
    pub rss_limit_bytes: Option<u64>,
    /// The watchdog's runs in the period, by level: ok, warning, critical.
    pub runs: [u64; 3],
    /// Incidents that failed a run in the period, or are open now.
    pub incidents: Vec<SeenIncident>,
    /// Actions taken (or not) in the period, oldest first.
    pub actions: Vec<ActionLine>,
    /// The last hour's p95 of update stored → handled (ms), as each performance run read it.
    pub user_p95_ms: Option<Series>,
    /// The last hour's share handled without being parked (percent), likewise.
    pub handled_percent: Option<Series>,
    /// Runs that read Telegram's webhook, and of those the ones where Telegram reported a
    /// delivery error within `watchdog.error_window` (its `last_error_date` over time).
    pub delivery_runs: [u64; 2],
    /// Target: p95 of stored → handled below this (ms).
    pub user_p95_target_ms: u64,
    /// Target: handled share above this percent.
    pub handled_target: f64,
    /// Target: success rate above this percent.
    pub success_target: f64,
    /// Target: `/health` faster than this (ms).
    pub response_target_ms: u64,
    /// A Telegram delivery error younger than this is a current one (seconds).
    pub error_window_s: u64,
}

/// Reads the last [`PERIOD_SECS`] from the store. `bot` names the bot in the digest.
pub(crate) async fn gather(ctx: &Ctx, bot: &str) -> Result<Digest, StoreError> {
    gather_over(ctx, bot, PERIOD_SECS, |_| {}).await
}

/// Reads the last `period` seconds from the store, handing each run's report to `each` too
/// (the weekly report reads more of them than the digest keeps).
pub(crate) async fn gather_over(
    ctx: &Ctx,
    bot: &str,
    period: i64,
    mut each: impl FnMut(&RunReport),
) -> Result<Digest, StoreError> {
    let to = ctx.clock.now();
    let from = to - period;
    let t = &ctx.cfg.thresholds;
    let mut d = Digest {
        bot: bot.to_string(),
        from,
        to,
        success_target: t.success_rate_warn,
        user_p95_target_ms: t.response_p95_warn.as_millis() as u64,
        handled_target: t.handled_warn_percent,
        error_window_s: t.error_window.as_secs(),
        response_target_ms: t.response_time_warn.as_millis() as u64,
        ..Digest::default()
    };
    // Monitoring reads: a read replica when store.read_url is set.
    let pool = ctx.store.db().reader();
    let reports: Vec<String> = sqlx::query_scalar(
        "SELECT report FROM wd_runs WHERE started_at >= $1 AND started_at <= $2 ORDER BY started_at, id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    for text in &reports {
        // A report this build cannot read (an older shape) is skipped, not fatal.
        if let Ok(run) = serde_json::from_str::<RunReport>(text) {
            d.add_run(&run);
            each(&run);
        }
    }
    let actions: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
        "SELECT started_at, kind, result, detail FROM wd_actions WHERE started_at >= $1 ORDER BY started_at, id",
    )
    .bind(from)
    .fetch_all(pool)
    .await?;
    for (at, kind, result, detail) in actions {
        d.actions.push(ActionLine {
            at,
            kind,
            result,
            detail: telbot_shared::action::detail_text(&detail.unwrap_or_default()),
        });
    }
    let open: Vec<(String, String, Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT incident_key, level, first_failure_at, acked_by FROM alert_incidents WHERE state = 'open'",
    )
    .fetch_all(pool)
    .await?;
    for (key, level, since, acked_by) in open {
        // An open incident is critical unless its row says warning (one recovering reads
        // normal: it was opened critical).
        let level = match Level::from_stored(&level) {
            Level::Warning => Level::Warning,
            _ => Level::Critical,
        };
        match d.incidents.iter_mut().find(|i| i.key == key) {
            Some(i) => {
                i.open = true;
                i.acked_by = acked_by;
            }
            None => d.incidents.push(SeenIncident {
                key,
                worst: level,
                failing_runs: 0,
                first_seen: since.unwrap_or(to),
                last_seen: since.unwrap_or(to),
                open: true,
                acked_by,
            }),
        }
    }
    Ok(d)
}

impl Digest {
    /// Takes one run's figures and problems.
    pub fn add_run(&mut self, run: &RunReport) {
        let slot = match run.level() {
            Level::Ok => 0,
            Level::Warning => 1,
            Level::Critical => 2,
        };
        self.runs[slot] += 1;
        for f in &run.findings {
            let ev = &f.evidence;
            let num = |k: &str| ev.get(k).and_then(serde_json::Value::as_f64);
            match f.incident {
                incident::WEBHOOK_STUCK | incident::WEBHOOK_WRONG_URL => {
                    if let Some(p) = num("pending_update_count") {
                        Series::push(&mut self.pending, p);
                    }
                    if f.incident == incident::WEBHOOK_STUCK {
                        self.delivery_runs[0] += 1;
                        if num("last_error_age_s")
                            .is_some_and(|a| a >= 0.0 && a < self.error_window_s as f64)
                        {
                            self.delivery_runs[1] += 1;
                        }
                    }
                }
                incident::BOT_RESPONSE_TIME => {
                    if let Some(ms) = num("p95_ms") {
                        Series::push(&mut self.user_p95_ms, ms);
                    }
                }
                incident::BOT_HANDLED => {
                    if let Some(p) = num("handled_percent") {
                        Series::push(&mut self.handled_percent, p);
                    }
                }
                incident::BOT_DOWN | incident::BOT_SLOW => {
                    if let Some(ms) = num("latency_ms") {
                        Series::push(&mut self.response_ms, ms);
                    }
                }
                incident::BOT_SUCCESS_RATE => {
                    if let Some(p) = num("percent") {
                        Series::push(&mut self.success_percent, p);
                    }
                }
                incident::BOT_PARKED => {
                    Series::push(&mut self.parked, num("parked").unwrap_or(0.0));
                }
                incident::BOT_MEMORY => {
                    if let Some(b) = num("rss_bytes") {
                        Series::push(&mut self.rss_bytes, b);
                    }
                    if let Some(l) = ev.get("limit_bytes").and_then(serde_json::Value::as_u64) {
                        self.rss_limit_bytes = Some(l);
                    }
                }
                _ => {}
            }
            if f.level == Level::Ok {
                continue;
            }
            match self.incidents.iter_mut().find(|i| f.incident == i.key) {
                Some(i) => {
                    i.worst = i.worst.max(f.level);
                    i.failing_runs += 1;
                    i.last_seen = run.started_at;
                }
                None => self.incidents.push(SeenIncident {
                    key: f.incident.to_string(),
                    worst: f.level,
                    failing_runs: 1,
                    first_seen: run.started_at,
                    last_seen: run.started_at,
                    open: false,
                    acked_by: None,
                }),
            }
        }
    }
}

/// What `watchdog digest` (or its schedule) made and where it went.
#[derive(Debug, Clone)]
pub struct DigestOutcome {
    /// The figures.
    pub digest: Digest,
    /// The message (subject, text, HTML).
    pub message: telbot_alerts::Message,
    /// Each e-mail channel's result (empty: not sent, or no e-mail channel).
    pub channels: Vec<telbot_alerts::ChannelResult>,
}
