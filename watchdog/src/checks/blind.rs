//! Can the watchdog see? A run that hears nothing back from the Bot API *and* nothing from the
//! bot (no HTTP answer at all: timeouts, refused or reset connections) says more about the
//! watchdog's own network than about either of them. Acting on it would restart a healthy
//! bot and page about an outage nobody else sees, so such a run is `watchdog-blind`: a
//! warning, no action, no bot-down or Telegram finding (the next runs decide afresh), and a
//! `/fail` heartbeat ping so an outside dead-man's switch pages about the watcher.
//!
//! `watchdog.reference_url` (an address the watchdog should always reach) sharpens the call:
//! when it does not answer either, one silent side is enough to be blind; when it answers,
//! the watchdog's network works and what it saw is believed.

use serde_json::json;

use crate::context::Ctx;
use crate::report::{Finding, Level, incident};

const CHECK: &str = "watchdog";

/// Whether the reference URL answers (any HTTP status counts); `None` when none is configured.
pub(crate) async fn reference(ctx: &Ctx) -> Option<bool> {
    let url = ctx.cfg.reference_url.as_ref()?;
    let answered = ctx
        .http
        .get(url.as_str())
        .timeout(ctx.cfg.http_timeout)
        .send()
        .await
        .is_ok();
    if !answered {
        tracing::warn!("the watchdog's reference URL (watchdog.reference_url) does not answer");
    }
    Some(answered)
}

/// What one run heard back. `telegram_silent`: no answer from the Bot API; `bot_silent`: no
/// HTTP answer from the bot (or the proxy in front of it) on any attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sight {
    /// No answer from the Bot API.
    pub telegram_silent: bool,
    /// No HTTP answer from the bot's URL.
    pub bot_silent: bool,
    /// The reference URL answered (`None`: not configured).
    pub reference: Option<bool>,
}

impl Sight {
    /// Whether the run saw too little to act on. Pure.
    pub(crate) fn blind(&self) -> bool {
        match self.reference {
            Some(false) => self.telegram_silent || self.bot_silent,
            Some(true) => false,
            None => self.telegram_silent && self.bot_silent,
        }
    }

    /// The `watchdog-blind` finding of this run.
    pub(crate) fn finding(&self) -> Finding {
        let ev = json!({
            "telegram_silent": self.telegram_silent,
            "bot_silent": self.bot_silent,
            "reference_answered": self.reference,
        });
        if !self.blind() {
            return Finding::ok(
                CHECK,
                incident::WATCHDOG_BLIND,
                "the watchdog reaches the Bot API or the bot",
            )
            .with_evidence(ev);
        }
        let what = match (self.telegram_silent, self.bot_silent) {
            (true, true) => "neither the Bot API nor the bot answered",
            (true, false) => "the Bot API did not answer",
            _ => "the bot's URL did not answer",
        };
        let reference = match self.reference {
            Some(false) => ", and neither did the reference URL (watchdog.reference_url)",
            _ => "",
        };
        Finding::new(
            CHECK,
            incident::WATCHDOG_BLIND,
            Level::Warning,
            format!(
                "the watchdog cannot see: {what}{reference}. Its own network is the likely cause, so it restarted nothing and paged about neither; the next runs decide afresh"
            ),
        )
        .with_evidence(ev)
    }
}

/// Of a blind run's findings, keeps only what does not rest on reaching Telegram or the bot
/// (the watchdog's own, an interrupted recovery's): the rest is unknown this run, and an
/// absent finding leaves its incident as it was.
pub(crate) fn keep_sighted(findings: &mut Vec<Finding>) {
    findings.retain(|f| {
        (f.check == "watchdog" || f.check == "recovery") && f.incident != incident::CHECK_TIMEOUT
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blind_only_when_nothing_answers_or_the_reference_agrees() {
        let s = |t, b, r| Sight {
            telegram_silent: t,
            bot_silent: b,
            reference: r,
        };
        let cases = [
            (s(false, false, None), false),
            (s(true, false, None), false),
            (s(false, true, None), false),
            (s(true, true, None), true),
            (s(true, true, Some(true)), false),
            (s(true, false, Some(false)), true),
            (s(false, true, Some(false)), true),
            (s(false, false, Some(false)), false),
        ];
        for (i, (sight, want)) in cases.iter().enumerate() {
            assert_eq!(sight.blind(), *want, "case {i}: {sight:?}");
            let f = sight.finding();
            assert_eq!(f.incident, incident::WATCHDOG_BLIND);
            assert_eq!(f.level == Level::Warning, *want, "case {i}");
        }
    }

    #[test]
    fn a_blind_run_keeps_only_the_watchdogs_own_findings() {
        let mut fs = vec![
            Finding::new("bot", incident::BOT_DOWN, Level::Critical, "down"),
            Finding::new(
                "telegram",
                incident::TELEGRAM_UNREACHABLE,
                Level::Critical,
                "x",
            ),
            Finding::new("watchdog", incident::CHECK_TIMEOUT, Level::Critical, "late"),
            Finding::new(
                "watchdog",
                incident::WATCHDOG_BLIND,
                Level::Warning,
                "blind",
            ),
            Finding::new(
                "recovery",
                incident::RECOVERY_INTERRUPTED,
                Level::Warning,
                "r",
            ),
        ];
        keep_sighted(&mut fs);
        let keys: Vec<_> = fs.iter().map(|f| f.incident).collect();
        assert_eq!(
            keys,
            [incident::WATCHDOG_BLIND, incident::RECOVERY_INTERRUPTED]
        );
    }
}
