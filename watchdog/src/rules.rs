//! Rules: findings → the actions DESIGN.md's "Recovery, precisely" calls for. Pure, so every
//! rule is tested with a table of finding sets.
//!
//! - bot down or over its memory limit → restart, and the webhook is left alone (Telegram keeps
//!   the updates for 24 h; a recovery now could not hand them to anybody);
//! - token refused or Bot API unreachable → nothing (no action can help; alerts do);
//! - wrong webhook URL → setWebhook (pending updates untouched), unless the bot is polling —
//!   its fallback, which restores the webhook itself;
//! - stuck or erroring webhook while the bot is healthy → lossless recovery (or drop, when
//!   configured).

use crate::config::PendingMode;
use crate::report::{ActionKind, Finding, Incident, Level, incident};

/// An action the rules chose.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// What to do.
    pub kind: ActionKind,
    /// The incident it answers.
    pub incident: Incident,
    /// Why, for a person.
    pub reason: String,
}

fn critical(fs: &[Finding], key: Incident) -> Option<&Finding> {
    fs.iter()
        .find(|f| f.incident == key && f.level == Level::Critical)
}

/// Chooses the actions for one run's findings.
pub(crate) fn plan(findings: &[Finding], bot_polling: bool, mode: PendingMode) -> Vec<Plan> {
    let bot_bad =
        critical(findings, incident::BOT_DOWN).or_else(|| critical(findings, incident::BOT_MEMORY));
    if let Some(f) = bot_bad {
        return vec![Plan {
            kind: ActionKind::Restart,
            incident: incident_key(f.incident),
            reason: f.reason.clone(),
        }];
    }
    if critical(findings, incident::TOKEN_INVALID).is_some()
        || critical(findings, incident::TELEGRAM_UNREACHABLE).is_some()
    {
        return Vec::new();
    }
    if let Some(f) = critical(findings, incident::WEBHOOK_WRONG_URL) {
        if bot_polling {
            return Vec::new();
        }
        return vec![Plan {
            kind: ActionKind::SetWebhook,
            incident: incident::WEBHOOK_WRONG_URL,
            reason: f.reason.clone(),
        }];
    }
    if let Some(f) = critical(findings, incident::WEBHOOK_STUCK) {
        let kind = match mode {
            PendingMode::Lossless => ActionKind::LosslessRecovery,
            PendingMode::Drop => ActionKind::DropPending,
        };
        return vec![Plan {
            kind,
            incident: incident::WEBHOOK_STUCK,
            reason: f.reason.clone(),
        }];
    }
    Vec::new()
}

/// A wrong URL seen while the bot polls is its own fallback: a warning, not a critical.
pub(crate) fn soften_for_polling(findings: &mut [Finding], bot_polling: bool) {
    if !bot_polling {
        return;
    }
    for f in findings
        .iter_mut()
        .filter(|f| f.incident == incident::WEBHOOK_WRONG_URL && f.level == Level::Critical)
    {
        f.soften("the bot is polling (its fallback) and restores the webhook itself");
    }
}

/// While somebody else's recovery holds the lock (the dashboard's, another watchdog's), a
/// deleted or stuck webhook is theirs to finish: a warning naming them, and no action (which
/// the lock would refuse anyway) — not a CRITICAL e-mail for a repair in progress.
pub(crate) fn soften_for_recovery(findings: &mut [Finding], holder: Option<&str>) {
    let Some(owner) = holder else {
        return;
    };
    for f in findings.iter_mut().filter(|f| {
        (f.incident == incident::WEBHOOK_WRONG_URL || f.incident == incident::WEBHOOK_STUCK)
            && f.level == Level::Critical
    }) {
        f.soften(format_args!("a recovery is running (owner {owner})"));
    }
}

/// While the bot says its own store is down, the 503s Telegram records are its backpressure
/// (Telegram keeps the updates and redelivers): the webhook is not what is broken, and a
/// recovery would replay into a bot that cannot store. One incident (`bot-store`), not two.
pub(crate) fn soften_for_store(findings: &mut [Finding], bot_store_trouble: bool) {
    if !bot_store_trouble && critical(findings, incident::BOT_STORE).is_none() {
        return;
    }
    for f in findings
        .iter_mut()
        .filter(|f| f.incident == incident::WEBHOOK_STUCK && f.level == Level::Critical)
    {
        f.soften(
            "the bot's store is down (bot-store); Telegram keeps the updates until it is back",
        );
    }
}

/// While another process uses the token (or someone deleted the webhook behind the bot's
/// back: the bot takes it back itself), the emptied webhook is their doing: the wrong-URL
/// finding is a warning pointing at `token-conflict`, so one page tells the story.
pub(crate) fn soften_for_conflict(findings: &mut [Finding]) {
    let conflict = findings
        .iter()
        .any(|f| f.incident == incident::TOKEN_CONFLICT && f.level > Level::Ok);
    if !conflict {
        return;
    }
    for f in findings
        .iter_mut()
        .filter(|f| f.incident == incident::WEBHOOK_WRONG_URL && f.level == Level::Critical)
    {
        f.soften("another process is using the token (token-conflict)");
    }
}

/// Findings that are symptoms: a canary that did not get through, a deploy that did not
/// come up healthy (also after a restart the watchdog asked for).
const SYMPTOMS: [Incident; 2] = [incident::CANARY, incident::DEPLOY_VERIFY];

/// A symptom is softened when the same run pages a cause (the bot's store down, the bot
/// down, a stuck webhook…): the symptom's finding is then a warning naming it, so one cause
/// sends one CRITICAL. Alone, it stays critical: e.g. the bot answers its health checks and
/// still processes nothing.
pub(crate) fn soften_symptoms(findings: &mut [Finding]) {
    let Some(cause) = findings
        .iter()
        .find(|f| !SYMPTOMS.contains(&f.incident) && f.level == Level::Critical)
        .map(|f| f.incident)
    else {
        return;
    };
    for f in findings
        .iter_mut()
        .filter(|f| SYMPTOMS.contains(&f.incident) && f.level == Level::Critical)
    {
        f.soften(format_args!("see {cause}, paged in the same run"));
    }
}

fn incident_key(k: Incident) -> Incident {
    if k == incident::BOT_MEMORY {
        incident::BOT_MEMORY
    } else {
        incident::BOT_DOWN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(key: Incident, level: Level) -> Finding {
        Finding::new("t", key, level, key.as_str())
    }

    #[test]
    fn a_store_down_at_the_bot_makes_a_stuck_webhook_a_warning_without_recovery() {
        let mut fs = vec![
            f(incident::WEBHOOK_STUCK, Level::Critical),
            f(incident::BOT_STORE, Level::Critical),
        ];
        soften_for_store(&mut fs, false);
        assert_eq!(fs[0].level, Level::Warning);
        // A degraded store at the bot (its /health still 200) is enough.
        let mut fs = vec![f(incident::WEBHOOK_STUCK, Level::Critical)];
        soften_for_store(&mut fs, true);
        assert_eq!(fs[0].level, Level::Warning);
        assert!(plan(&fs, false, PendingMode::Lossless).is_empty());
        // Without the store finding the stuck webhook stays critical and is recovered.
        let mut fs = vec![f(incident::WEBHOOK_STUCK, Level::Critical)];
        soften_for_store(&mut fs, false);
        assert_eq!(fs[0].level, Level::Critical);
        assert_eq!(plan(&fs, false, PendingMode::Lossless).len(), 1);
    }

    #[test]
    fn symptoms_are_softened_only_beside_another_critical() {
        let mut fs = vec![
            f(incident::CANARY, Level::Critical),
            f(incident::BOT_SLOW, Level::Warning),
            f(incident::DEPLOY_VERIFY, Level::Critical),
        ];
        soften_symptoms(&mut fs);
        assert_eq!(fs[0].level, Level::Critical, "alone, the canary pages");
        assert_eq!(
            fs[2].level,
            Level::Critical,
            "a symptom is no cause of another"
        );
        fs.push(f(incident::BOT_DOWN, Level::Critical));
        soften_symptoms(&mut fs);
        assert_eq!((fs[0].level, fs[2].level), (Level::Warning, Level::Warning));
        assert!(fs[2].reason.contains("bot-down"), "{}", fs[2].reason);
        assert_eq!(fs[3].level, Level::Critical, "the cause still pages");
    }

    #[test]
    fn a_recovery_in_progress_softens_the_webhook_findings_only() {
        let mut fs = vec![
            f(incident::WEBHOOK_WRONG_URL, Level::Critical),
            f(incident::WEBHOOK_STUCK, Level::Critical),
            f(incident::BOT_DOWN, Level::Critical),
        ];
        soften_for_recovery(&mut fs, None);
        assert!(fs.iter().all(|x| x.level == Level::Critical));
        soften_for_recovery(&mut fs, Some("bot-server on web-1 (pid 3)"));
        assert_eq!(fs[0].level, Level::Warning);
        assert!(
            fs[0]
                .reason
                .ends_with("(owner bot-server on web-1 (pid 3))")
        );
        assert_eq!(fs[1].level, Level::Warning);
        assert_eq!(fs[2].level, Level::Critical, "a dead bot is still critical");
        let got: Vec<ActionKind> = plan(&fs, false, PendingMode::Lossless)
            .into_iter()
            .map(|p| p.kind)
            .collect();
        assert_eq!(got, vec![ActionKind::Restart]);
        fs.pop();
        assert!(plan(&fs, false, PendingMode::Lossless).is_empty());
    }

    #[test]
    fn each_rule_fires_on_its_fault_only() {
        use ActionKind::*;
        use Level::*;
        let ok_all = vec![
            f(incident::BOT_DOWN, Ok),
            f(incident::WEBHOOK_WRONG_URL, Ok),
            f(incident::WEBHOOK_STUCK, Ok),
            f(incident::TOKEN_INVALID, Ok),
        ];
        let with = |key: Incident, level: Level| {
            let mut v = ok_all.clone();
            v.retain(|x| x.incident != key);
            v.push(f(key, level));
            v
        };
        let cases: Vec<(Vec<Finding>, bool, PendingMode, Vec<ActionKind>)> = vec![
            (ok_all.clone(), false, PendingMode::Lossless, vec![]),
            (
                with(incident::WEBHOOK_WRONG_URL, Critical),
                false,
                PendingMode::Lossless,
                vec![SetWebhook],
            ),
            (
                with(incident::WEBHOOK_WRONG_URL, Critical),
                true,
                PendingMode::Lossless,
                vec![],
            ),
            (
                with(incident::WEBHOOK_STUCK, Critical),
                false,
                PendingMode::Lossless,
                vec![LosslessRecovery],
            ),
            (
                with(incident::WEBHOOK_STUCK, Critical),
                false,
                PendingMode::Drop,
                vec![DropPending],
            ),
            (
                with(incident::WEBHOOK_STUCK, Warning),
                false,
                PendingMode::Lossless,
                vec![],
            ),
            (
                with(incident::BOT_DOWN, Critical),
                false,
                PendingMode::Lossless,
                vec![Restart],
            ),
            (
                with(incident::BOT_MEMORY, Critical),
                false,
                PendingMode::Lossless,
                vec![Restart],
            ),
            (
                with(incident::TOKEN_INVALID, Critical),
                false,
                PendingMode::Lossless,
                vec![],
            ),
            (
                with(incident::TELEGRAM_UNREACHABLE, Critical),
                false,
                PendingMode::Lossless,
                vec![],
            ),
            (
                with(incident::WEBHOOK_CONFIG, Warning),
                false,
                PendingMode::Lossless,
                vec![],
            ),
        ];
        for (i, (fs, polling, mode, want)) in cases.into_iter().enumerate() {
            let got: Vec<ActionKind> = plan(&fs, polling, mode)
                .into_iter()
                .map(|p| p.kind)
                .collect();
            assert_eq!(got, want, "case {i}");
        }
        // Bot down beats a stuck webhook: the webhook is left alone.
        let mut both = with(incident::BOT_DOWN, Critical);
        both.push(f(incident::WEBHOOK_STUCK, Critical));
        both.push(f(incident::WEBHOOK_WRONG_URL, Critical));
        let got: Vec<ActionKind> = plan(&both, false, PendingMode::Lossless)
            .into_iter()
            .map(|p| p.kind)
            .collect();
        assert_eq!(got, vec![Restart]);
    }

    #[test]
    fn any_sign_of_a_conflict_softens_the_wrong_url_and_none_does_not() {
        let wrong = || {
            Finding::new(
                "telegram",
                incident::WEBHOOK_WRONG_URL,
                Level::Critical,
                "no webhook is set",
            )
        };
        let none = Finding::ok("telegram", incident::TOKEN_CONFLICT, "no sign");
        let mut fs = vec![wrong(), none];
        soften_for_conflict(&mut fs);
        assert_eq!(fs[0].level, Level::Critical);
        let rec = |deletes, conflicts| telbot_shared::conflict::TokenConflict {
            first_seen: 1_000,
            last_seen: 1_050,
            foreign_deletes: deletes,
            poll_conflicts: conflicts,
            update_id_before: Some(10),
            pending_at_delete: Some(4),
        };
        for rec in [rec(1, 0), rec(3, 1)] {
            let mut fs = vec![
                wrong(),
                crate::checks::conflict::judge(&rec, Some(0), None, 1_060, 600),
            ];
            soften_for_conflict(&mut fs);
            assert_eq!(fs[0].level, Level::Warning);
            assert!(fs[0].reason.ends_with("(token-conflict)"));
        }
    }
}
