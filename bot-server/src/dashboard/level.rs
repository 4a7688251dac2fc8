//! The status light: which signals make it yellow or red, and why (pure, table-tested).

use serde::Serialize;

use super::chart::short;
use super::data::mib;

/// The status light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Green.
    Ok,
    /// Yellow.
    Warning,
    /// Red.
    Critical,
}

/// What the light is judged from.
#[derive(Debug, Clone, Default)]
pub struct Signals {
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

/// The levels and reasons these signals give (empty: green). The thresholds are DESIGN.md's:
/// a stuck webhook is critical, any webhook problem a warning, success below 95 % a warning.
pub fn judge(s: &Signals) -> Vec<(Level, String)> {
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
