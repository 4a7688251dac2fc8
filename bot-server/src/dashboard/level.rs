//! The status light: which signals make it yellow or red, and why (pure, table-tested).

use serde::Serialize;

use super::format::{mib, short};

/// The status light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Level {
    /// Green.
    Ok,
    /// Yellow.
    Warning,
    /// Red.
    Critical,
}

/// What the light is judged from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Signals {
    /// `/health` says down (store down, RSS over the limit).
    pub down: bool,
    /// The bot runs (or should run) on its webhook.
    pub webhook_mode: bool,
    /// getWebhookInfo answered.
    pub telegram_answered: bool,
    /// `/webhook/health` problems.
    pub problems: Vec<String>,
    /// Pending above the limit with a recent delivery error.
    pub stuck: bool,
    /// Handler success rate, percent.
    pub success_percent: Option<f64>,
    /// System memory used, percent.
    pub memory_percent: f32,
    /// Its warning level.
    pub memory_warn: f32,
    /// Its critical level.
    pub memory_critical: f32,
    /// Resident memory.
    pub rss_bytes: u64,
    /// The RSS limit.
    pub rss_limit_bytes: u64,
}

/// Yellow for what `/health` says of the bot's upkeep: a resource past its level (other than
/// system memory, judged in [`judge`]), a late periodic job, and the last hour as users felt
/// it against the ops notes' daily checklist (response times < 5 s, success > 95 %, judged
/// from 10 finished updates on).
pub(crate) fn upkeep(h: &telbot_shared::health::Health) -> Vec<(Level, String)> {
    let mut out: Vec<(Level, String)> = h
        .system
        .warnings
        .iter()
        .filter(|w| !w.starts_with("system memory"))
        .map(|w| (Level::Warning, w.clone()))
        .collect();
    for (name, j) in h.jobs.iter().filter(|(_, j)| j.late) {
        out.push((
            Level::Warning,
            format!("periodic job {name} is late (due every {} s)", j.every_s),
        ));
    }
    if let Some(p95) = h.hour.response_p95_ms.filter(|v| *v > 5_000) {
        out.push((
            Level::Warning,
            format!("users waited {p95} ms at the 95th percentile over the last hour (above 5 s)"),
        ));
    }
    if let Some(p) = h
        .hour
        .handled_percent
        .filter(|p| *p < 95.0 && h.hour.finished >= 10)
    {
        out.push((
            Level::Warning,
            format!(
                "{} % of the last hour's updates were handled (below 95 %)",
                short(p)
            ),
        ));
    }
    out
}

/// The levels and reasons these signals give (empty: green). The thresholds are DESIGN.md's:
/// a stuck webhook is critical, any webhook problem a warning, success below 95 % a warning.
pub(crate) fn judge(s: &Signals) -> Vec<(Level, String)> {
    let mut out = Vec::new();
    if s.down {
        out.push((
            Level::Critical,
            "the bot reports itself down (/health)".to_string(),
        ));
    }
    if !s.telegram_answered {
        out.push((
            Level::Critical,
            "Telegram's Bot API does not answer".to_string(),
        ));
    } else if s.stuck && s.webhook_mode {
        out.push((
            Level::Critical,
            "webhook delivery is failing and updates are piling up at Telegram: run Emergency recovery".to_string(),
        ));
    }
    for p in &s.problems {
        if !s.telegram_answered && p.starts_with("Bot API unreachable") {
            continue;
        }
        out.push((Level::Warning, format!("webhook: {p}")));
    }
    if let Some(r) = s.success_percent.filter(|r| *r < 95.0) {
        out.push((
            Level::Warning,
            format!("handler success rate {} % (below 95 %)", short(r)),
        ));
    }
    if s.memory_percent >= s.memory_critical {
        out.push((
            Level::Critical,
            format!(
                "system memory {} % used",
                short(f64::from(s.memory_percent))
            ),
        ));
    } else if s.memory_percent >= s.memory_warn {
        out.push((
            Level::Warning,
            format!(
                "system memory {} % used",
                short(f64::from(s.memory_percent))
            ),
        ));
    }
    if s.rss_limit_bytes > 0 && s.rss_bytes * 10 >= s.rss_limit_bytes * 8 {
        out.push((
            Level::Warning,
            format!(
                "RSS {} is near the limit of {}",
                mib(s.rss_bytes),
                mib(s.rss_limit_bytes)
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upkeep_turns_the_light_yellow_for_disk_cpu_late_jobs_and_the_hour() {
        let mut h = telbot_shared::health::Health::default();
        assert!(upkeep(&h).is_empty());
        h.system.warnings = vec![
            "system memory 85 % (warning at 80 %)".into(),
            "data disk 92 % (critical at 90 %)".into(),
        ];
        h.jobs.insert(
            "inbox_prune".into(),
            telbot_shared::health::JobStatus {
                every_s: 600,
                late: true,
                ..Default::default()
            },
        );
        h.hour.finished = 20;
        h.hour.handled_percent = Some(90.0);
        h.hour.response_p95_ms = Some(6_000);
        let r: Vec<String> = upkeep(&h)
            .into_iter()
            .map(|(l, why)| {
                assert_eq!(l, Level::Warning);
                why
            })
            .collect();
        assert_eq!(r.len(), 4, "memory is judged elsewhere: {r:?}");
        assert!(r[0].starts_with("data disk"), "{r:?}");
        assert!(r[1].contains("inbox_prune is late"), "{r:?}");
        assert!(r[2].contains("6000 ms"), "{r:?}");
        assert!(r[3].contains("90 %"), "{r:?}");
    }

    fn fine() -> Signals {
        Signals {
            webhook_mode: true,
            telegram_answered: true,
            memory_percent: 10.0,
            memory_warn: 80.0,
            memory_critical: 90.0,
            rss_bytes: 10,
            rss_limit_bytes: 100,
            ..Default::default()
        }
    }

    fn worst(s: &Signals) -> Level {
        judge(s).iter().map(|r| r.0).max().unwrap_or(Level::Ok)
    }

    #[test]
    fn each_signal_sets_its_level_with_a_reason() {
        assert!(judge(&fine()).is_empty());
        let cases: Vec<(Signals, Level, &str)> = vec![
            (
                Signals {
                    down: true,
                    ..fine()
                },
                Level::Critical,
                "down",
            ),
            (
                Signals {
                    telegram_answered: false,
                    ..fine()
                },
                Level::Critical,
                "does not answer",
            ),
            (
                Signals {
                    stuck: true,
                    problems: vec!["9 updates pending".into()],
                    ..fine()
                },
                Level::Critical,
                "Emergency recovery",
            ),
            (
                Signals {
                    problems: vec!["no webhook is set".into()],
                    ..fine()
                },
                Level::Warning,
                "no webhook",
            ),
            (
                Signals {
                    success_percent: Some(90.0),
                    ..fine()
                },
                Level::Warning,
                "success rate 90",
            ),
            (
                Signals {
                    success_percent: Some(99.0),
                    ..fine()
                },
                Level::Ok,
                "",
            ),
            (
                Signals {
                    memory_percent: 85.0,
                    ..fine()
                },
                Level::Warning,
                "memory 85",
            ),
            (
                Signals {
                    memory_percent: 95.0,
                    ..fine()
                },
                Level::Critical,
                "memory 95",
            ),
            (
                Signals {
                    rss_bytes: 85,
                    ..fine()
                },
                Level::Warning,
                "near the limit",
            ),
        ];
        for (s, level, words) in cases {
            assert_eq!(worst(&s), level, "{s:?}");
            assert!(
                judge(&s).iter().any(|r| r.1.contains(words)) || level == Level::Ok,
                "{s:?}"
            );
        }
    }

    #[test]
    fn a_stuck_webhook_in_polling_mode_is_only_a_warning() {
        let s = Signals {
            stuck: true,
            webhook_mode: false,
            problems: vec!["9 updates pending".into()],
            ..fine()
        };
        assert_eq!(worst(&s), Level::Warning);
    }
}
