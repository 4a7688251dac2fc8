//! What `/health` says of the bot's upkeep, judged every performance run: its resources
//! (`bot-resources`: the bot's own `system.warnings`, and memory approaching the RSS limit it
//! is restarted at), its periodic jobs (`bot-jobs`: one late), and the last hour as users felt
//! it (`bot-response-time`: p95 of stored → handled; `bot-handled`: the share not parked).
//! All warnings: the ops notes page only when the system is down.

use serde_json::json;
use telbot_shared::health::Health;

use crate::context::Ctx;
use crate::report::{Finding, Level, incident};

const CHECK: &str = "bot";
/// `bot-handled` is judged from this many finished updates in the hour on (fewer: noise).
pub(crate) const HANDLED_MIN: u64 = 10;

/// The four findings.
pub(crate) fn judge(ctx: &Ctx, h: &Health) -> Vec<Finding> {
    let t = &ctx.cfg.thresholds;
    vec![
        resources(h, t.rss_limit_bytes, t.rss_warn_percent),
        jobs(h),
        response_time(h, t.response_p95_warn.as_millis() as u64),
        handled(h, t.handled_warn_percent),
    ]
}

/// `bot-resources`.
pub(crate) fn resources(h: &Health, limit: u64, warn_percent: f64) -> Finding {
    let mut why = h.system.warnings.clone();
    let rss = h.process.rss_bytes;
    let share = if limit > 0 {
        100.0 * rss as f64 / limit as f64
    } else {
        0.0
    };
    if limit > 0 && share >= warn_percent && rss <= limit {
        why.push(format!(
            "resident memory {} MiB, {share:.0} % of the {} MiB limit it is restarted at",
            rss >> 20,
            limit >> 20
        ));
    }
    let ev = json!({
        "rss_bytes": rss,
        "limit_bytes": limit,
        "memory_percent": h.system.memory_percent,
        "disk_percent": h.system.disk_percent,
        "cpu_percent": h.process.cpu_percent,
    });
    if why.is_empty() {
        Finding::ok(
            CHECK,
            incident::BOT_RESOURCES,
            "the bot's resources are under their warning levels",
        )
        .with_evidence(ev)
    } else {
        Finding::new(
            CHECK,
            incident::BOT_RESOURCES,
            Level::Warning,
            why.join("; "),
        )
        .with_evidence(ev)
    }
}

/// `bot-jobs`.
pub(crate) fn jobs(h: &Health) -> Finding {
    let late: Vec<String> = h
        .jobs
        .iter()
        .filter(|(_, j)| j.late)
        .map(|(name, j)| {
            let last = match j.last_run {
                Some(t) => format!("last ran at {}", utc(t)),
                None => "has not run since the bot started".to_string(),
            };
            let err = j
                .last_error
                .as_ref()
                .map(|e| format!("; its last run failed: {e}"))
                .unwrap_or_default();
            format!("{name} is late (due every {} s; {last}{err})", j.every_s)
        })
        .collect();
    if late.is_empty() {
        Finding::ok(
            CHECK,
            incident::BOT_JOBS,
            format!("the bot's {} periodic job(s) run on time", h.jobs.len()),
        )
    } else {
        Finding::new(CHECK, incident::BOT_JOBS, Level::Warning, late.join("; "))
            .with_evidence(json!({ "jobs": h.jobs }))
    }
}

fn utc(t: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(t).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// `bot-response-time`.
pub(crate) fn response_time(h: &Health, warn_ms: u64) -> Finding {
    let f = &h.hour;
    let ev = json!({ "p50_ms": f.response_p50_ms, "p95_ms": f.response_p95_ms, "threshold_ms": warn_ms, "finished": f.finished });
    match f.response_p95_ms {
        Some(p95) if p95 > warn_ms => Finding::new(
            CHECK,
            incident::BOT_RESPONSE_TIME,
            Level::Warning,
            format!(
                "users waited {p95} ms at the 95th percentile over the last hour (update stored → handled; threshold {warn_ms} ms, median {} ms)",
                f.response_p50_ms.unwrap_or_default()
            ),
        )
        .with_evidence(ev),
        Some(p95) => Finding::ok(
            CHECK,
            incident::BOT_RESPONSE_TIME,
            format!("users were answered within {p95} ms at the 95th percentile over the last hour"),
        )
        .with_evidence(ev),
        None => Finding::ok(CHECK, incident::BOT_RESPONSE_TIME, "no update was handled in the last hour").with_evidence(ev),
    }
}

/// `bot-handled`.
pub(crate) fn handled(h: &Health, warn_percent: f64) -> Finding {
    let f = &h.hour;
    let ev = json!({ "finished": f.finished, "parked": f.parked, "handled_percent": f.handled_percent, "threshold_percent": warn_percent });
    match f.handled_percent {
        Some(p) if p < warn_percent && f.finished >= HANDLED_MIN => Finding::new(
            CHECK,
            incident::BOT_HANDLED,
            Level::Warning,
            format!(
                "{p:.1} % of the last hour's {} updates were handled ({} parked; threshold {warn_percent} %): `watchdog replay-parked` lists why",
                f.finished, f.parked
            ),
        )
        .with_evidence(ev),
        Some(p) => Finding::ok(
            CHECK,
            incident::BOT_HANDLED,
            format!("{p:.1} % of the last hour's {} updates were handled", f.finished),
        )
        .with_evidence(ev),
        None => Finding::ok(CHECK, incident::BOT_HANDLED, "no update finished in the last hour").with_evidence(ev),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telbot_shared::health::{HourFigures, JobStatus};

    #[test]
    fn memory_near_the_limit_and_the_bots_own_warnings_are_bot_resources() {
        let mut h = Health::default();
        h.process.rss_bytes = 390 << 20;
        assert_eq!(resources(&h, 500 << 20, 80.0).level, Level::Ok);
        h.process.rss_bytes = 410 << 20;
        let f = resources(&h, 500 << 20, 80.0);
        assert_eq!(f.level, Level::Warning);
        assert!(
            f.reason.contains("82 % of the 500 MiB limit"),
            "{}",
            f.reason
        );
        h.process.rss_bytes = 1;
        h.system.warnings = vec!["data disk 92 % (critical at 90 %)".into()];
        let f = resources(&h, 500 << 20, 80.0);
        assert_eq!(
            (f.level, f.reason.as_str()),
            (Level::Warning, "data disk 92 % (critical at 90 %)")
        );
    }

    #[test]
    fn a_late_job_is_named_with_its_last_run_and_error() {
        let mut h = Health::default();
        h.jobs.insert(
            "inbox_prune".into(),
            JobStatus {
                every_s: 600,
                runs: 3,
                ..Default::default()
            },
        );
        assert_eq!(jobs(&h).level, Level::Ok);
        h.jobs.insert(
            "dialogue_sweep".into(),
            JobStatus {
                every_s: 900,
                last_run: Some(0),
                last_error: Some("database is locked".into()),
                late: true,
                ..Default::default()
            },
        );
        let f = jobs(&h);
        assert_eq!(f.level, Level::Warning);
        assert!(
            f.reason.contains("dialogue_sweep is late (due every 900 s"),
            "{}",
            f.reason
        );
        assert!(f.reason.contains("database is locked"), "{}", f.reason);
        assert!(!f.reason.contains("inbox_prune"), "{}", f.reason);
    }

    #[test]
    fn the_hour_figures_are_warnings_past_their_thresholds() {
        let mut h = Health {
            hour: HourFigures {
                finished: 50,
                parked: 0,
                handled_percent: Some(100.0),
                response_p50_ms: Some(300),
                response_p95_ms: Some(4_000),
            },
            ..Default::default()
        };
        assert_eq!(response_time(&h, 5_000).level, Level::Ok);
        h.hour.response_p95_ms = Some(6_000);
        assert_eq!(response_time(&h, 5_000).level, Level::Warning);
        assert_eq!(handled(&h, 95.0).level, Level::Ok);
        h.hour.handled_percent = Some(90.0);
        h.hour.parked = 5;
        let f = handled(&h, 95.0);
        assert_eq!(f.level, Level::Warning);
        assert!(
            f.reason.contains("90.0 % of the last hour's 50 updates"),
            "{}",
            f.reason
        );
        h.hour.finished = HANDLED_MIN - 1;
        assert_eq!(handled(&h, 95.0).level, Level::Ok, "too few to judge");
    }
}
