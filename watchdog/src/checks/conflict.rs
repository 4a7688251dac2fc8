//! `token-conflict`: another process uses the bot's token — the most reported webhook problem
//! there is (a forgotten dev instance, a laptop with the production `.env`: its library calls
//! deleteWebhook at start and then polls, taking users' messages). bot-server records what only
//! it sees ([`telbot_shared::conflict`]: its webhook deleted by nobody telbot knows of, its
//! getUpdates ended by another one); this check reads that record beside getWebhookInfo and
//! counts the updates the bot never got (gaps in Telegram's update_id sequence).
//!
//! One deleteWebhook alone could be a person's curl: a warning. Repeated deletes, a polling
//! conflict or updates gone missing are critical: one page whose subject says another process
//! is using the token. It resolves after `watchdog.conflict_quiet` without a new sign.

use serde_json::json;
use telbot_shared::conflict::{self, TokenConflict};
use telbot_shared::telegram::WebhookInfo;

use crate::context::Ctx;
use crate::report::{Finding, Level, incident};

const CHECK: &str = "telegram";

/// The `token-conflict` finding, or `None` when the store does not answer. `bot_in_webhook_mode`:
/// the bot's `/health` says webhook mode — with no webhook at Telegram and no recovery that
/// could have deleted it, that is a foreign delete the watchdog sees itself, before the bot's
/// own check records it.
pub(crate) async fn check(
    ctx: &Ctx,
    info: Option<&WebhookInfo>,
    bot_in_webhook_mode: bool,
) -> Option<Finding> {
    let db = ctx.store.db();
    let rec = match conflict::load(db).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = %e, "cannot read the token-conflict record");
            return None;
        }
    };
    let now = ctx.clock.now();
    let quiet = ctx.cfg.thresholds.conflict_quiet.as_secs() as i64;
    let deleted_now = bot_in_webhook_mode
        && info.is_some_and(|i| i.url.is_empty())
        && matches!(telbot_shared::recovery::load_state(db).await, Ok(None))
        && matches!(telbot_shared::lease::holder(db).await, Ok(None));
    let rec = match rec.filter(|r| now - r.last_seen < quiet) {
        Some(r) => Some(r),
        None if deleted_now => Some(TokenConflict::with(
            None,
            conflict::Sign::ForeignDelete(info.map_or(0, |i| i.pending_update_count)),
            now,
            None,
        )),
        None => None,
    };
    let Some(rec) = rec else {
        return Some(Finding::ok(
            CHECK,
            incident::TOKEN_CONFLICT,
            "no sign of another process using the bot's token",
        ));
    };
    let missing = match rec.update_id_before {
        Some(before) => conflict::missing_since(db, before)
            .await
            .ok()
            .map(|(n, _)| n),
        None => None,
    };
    let pending_now = info.map(|i| i.pending_update_count);
    Some(judge(&rec, missing, pending_now, now, quiet))
}

/// The finding for a recent record. Pure.
pub(crate) fn judge(
    rec: &TokenConflict,
    missing: Option<u64>,
    pending_now: Option<u64>,
    now: i64,
    quiet: i64,
) -> Finding {
    let ev = json!({
        "first_seen": rec.first_seen,
        "last_seen": rec.last_seen,
        "foreign_deletes": rec.foreign_deletes,
        "poll_conflicts": rec.poll_conflicts,
        "missing_updates": missing,
        "pending_at_delete": rec.pending_at_delete,
        "pending_now": pending_now,
    });
    let signs = rec.signs();
    let lost = missing.unwrap_or(0);
    let critical = rec.poll_conflicts > 0 || rec.foreign_deletes >= 2 || lost > 0;
    if !critical {
        return Finding::new(
            CHECK,
            incident::TOKEN_CONFLICT,
            Level::Warning,
            format!(
                "{signs} ({} s ago); the bot restores it. If this repeats, another process is using the bot's token",
                now - rec.last_seen
            ),
        )
        .with_evidence(ev);
    }
    let cost = match (missing, rec.pending_at_delete) {
        (Some(n), _) if n > 0 => format!(
            "at least {n} update(s) since {} went to it and never reached the bot",
            telbot_alerts::format_time(rec.first_seen)
        ),
        (_, Some(p)) if p > 0 => format!(
            "Telegram held {p} pending update(s) when the webhook was last deleted; those it takes never reach the bot"
        ),
        _ => "every update it takes never reaches the bot".to_string(),
    };
    Finding::new(
        CHECK,
        incident::TOKEN_CONFLICT,
        Level::Critical,
        format!(
            "another process is using this bot's token: {signs} since {}; {cost}. Find it (a forgotten dev instance, a laptop or CI job with the production token, an old deploy still running) or revoke the token with @BotFather and redeploy both services with the new one. telbot takes the webhook back meanwhile; this resolves {} min after the last sign",
            telbot_alerts::format_time(rec.first_seen),
            quiet / 60
        ),
    )
    .with_evidence(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(deletes: u64, conflicts: u64) -> TokenConflict {
        TokenConflict {
            first_seen: 1_000,
            last_seen: 1_050,
            foreign_deletes: deletes,
            poll_conflicts: conflicts,
            update_id_before: Some(10),
            pending_at_delete: Some(4),
        }
    }

    #[test]
    fn one_delete_is_a_warning_and_repeats_conflicts_or_losses_are_critical() {
        let cases = [
            (rec(1, 0), Some(0), Level::Warning),
            (rec(2, 0), Some(0), Level::Critical),
            (rec(0, 1), Some(0), Level::Critical),
            (rec(1, 0), Some(3), Level::Critical),
        ];
        for (i, (r, missing, want)) in cases.iter().enumerate() {
            let f = judge(r, *missing, Some(0), 1_060, 600);
            assert_eq!(f.level, *want, "case {i}: {}", f.reason);
            assert_eq!(f.incident, incident::TOKEN_CONFLICT);
        }
        let f = judge(&rec(1, 0), Some(3), Some(0), 1_060, 600);
        assert!(
            f.reason
                .starts_with("another process is using this bot's token"),
            "{}",
            f.reason
        );
        assert!(f.reason.contains("at least 3 update(s)"), "{}", f.reason);
        assert!(f.reason.contains("@BotFather"), "{}", f.reason);
    }
}
