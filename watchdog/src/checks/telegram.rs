//! The Telegram check: getMe (is the token valid, is the Bot API reachable) and getWebhookInfo,
//! judged against the expected webhook and the previous observation (kept in the store).
//!
//! `last_error_*` persist after later successful deliveries, so an error counts only by its
//! age (`error_window`) and by whether it is new since the previous check. The pending count
//! alone proves nothing — a busy, healthy bot hovers at 20–40 — so "stuck" needs a recent
//! delivery error as well (new since the previous check, or with the count not going down).

use serde_json::json;
use telbot_shared::telegram::{TelegramError, WebhookInfo};

use crate::config::{Thresholds, WebhookTarget};
use crate::context::Ctx;
use crate::report::{Finding, Level, incident};
use crate::store::WebhookObservation;

const CHECK: &str = "telegram";

/// What the Telegram check saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct TelegramFacts {
    /// getWebhookInfo's answer, when it came.
    pub info: Option<WebhookInfo>,
    /// Findings.
    pub findings: Vec<Finding>,
    /// The Bot API gave no answer at all (network error, timeout): the watchdog saw nothing.
    pub silent: bool,
}

impl TelegramFacts {
    /// The check did not finish within `limit`.
    pub(crate) fn timed_out(limit: std::time::Duration) -> Self {
        TelegramFacts {
            info: None,
            findings: vec![Finding::new(
                CHECK,
                incident::TELEGRAM_UNREACHABLE,
                Level::Critical,
                format!("the Bot API did not answer getMe/getWebhookInfo within {limit:?}"),
            )],
            silent: true,
        }
    }
}

/// No answer at all: the request never reached Telegram or its answer never came back.
fn no_answer(e: &TelegramError) -> bool {
    matches!(
        e,
        TelegramError::Network { .. } | TelegramError::Timeout { .. }
    )
}

/// Runs getMe and getWebhookInfo and judges them. Only the leader (`keep`) writes the
/// observation back: a follower ticking in the same second would otherwise overwrite the
/// leader's memory and hide a new delivery error from it on every run.
pub(crate) async fn check(ctx: &Ctx, keep: bool) -> TelegramFacts {
    let mut findings = Vec::new();
    if let Err(e) = ctx.tg.get_me().await {
        findings.extend(api_failure(ctx, "getMe", &e));
        return TelegramFacts {
            info: None,
            findings,
            silent: no_answer(&e),
        };
    }
    findings.push(Finding::ok(
        CHECK,
        incident::TOKEN_INVALID,
        "the Bot API accepts the token",
    ));
    let info = match ctx.tg.get_webhook_info().await {
        Ok(i) => i,
        Err(e) => {
            findings.extend(api_failure(ctx, "getWebhookInfo", &e));
            return TelegramFacts {
                info: None,
                findings,
                silent: no_answer(&e),
            };
        }
    };
    findings.push(Finding::ok(
        CHECK,
        incident::TELEGRAM_UNREACHABLE,
        "the Bot API answers",
    ));
    let prev = ctx.store.webhook_observation().await.ok().flatten();
    let now = ctx.clock.now();
    // While failed over (webhook.backup_urls), the backup's URL is the expected one.
    let mut want = ctx.cfg.webhook.clone();
    want.expected_url = ctx.webhook_url_now().await;
    // The settings bot-server registered are the ones to expect (its configuration may add
    // update kinds the watchdog's does not name).
    if let Ok(Some(r)) = telbot_shared::webhook_settings::load(ctx.store.db()).await {
        want.max_connections = r.max_connections;
        want.allowed_updates = r.allowed_updates;
        if want.ip_address.is_none() {
            want.ip_address = r.ip_address;
        }
    }
    let (mut judged, obs) = judge_webhook(&info, prev.as_ref(), now, &want, &ctx.cfg.thresholds);
    if keep && let Err(e) = ctx.store.set_webhook_observation(&obs).await {
        tracing::warn!(error = %e, "cannot keep the webhook observation; stuck detection loses its memory");
    }
    for f in &mut judged {
        f.reason = ctx.redact(&f.reason);
        f.evidence = serde_json::from_str(&ctx.redact(&f.evidence.to_string())).unwrap_or_default();
    }
    findings.extend(judged);
    TelegramFacts {
        info: Some(info),
        findings,
        silent: false,
    }
}

/// The finding for a failed Bot API call (never holds the token: the client redacts).
pub(crate) fn api_failure(ctx: &Ctx, method: &str, e: &TelegramError) -> Vec<Finding> {
    let text = ctx.redact(&e.to_string());
    let ev = json!({ "method": method, "error": text, "kind": e.kind() });
    if e.is_unauthorized() {
        return vec![
            Finding::new(CHECK, incident::TOKEN_INVALID, Level::Critical, format!("Telegram refused the bot token ({method}: 401); nothing works until TELEGRAM_BOT_TOKEN is fixed")).with_evidence(ev),
        ];
    }
    let level = if e.is_unreachable() {
        Level::Critical
    } else {
        Level::Warning
    };
    let reason = match e {
        TelegramError::RetryAfter { retry_after, .. } => {
            format!("the Bot API keeps answering 429 to {method} (retry after {retry_after} s)")
        }
        _ if e.is_unreachable() => format!("the Bot API cannot be reached: {text}"),
        _ => format!("the Bot API answered {method} with an error: {text}"),
    };
    vec![Finding::new(CHECK, incident::TELEGRAM_UNREACHABLE, level, reason).with_evidence(ev)]
}

/// Judges a getWebhookInfo answer. Pure: `prev` is the previous observation, `now` unix seconds.
pub(crate) fn judge_webhook(
    info: &WebhookInfo,
    prev: Option<&WebhookObservation>,
    now: i64,
    want: &WebhookTarget,
    t: &Thresholds,
) -> (Vec<Finding>, WebhookObservation) {
    let mut out = Vec::new();
    let window = t.error_window.as_secs() as i64;
    let error_age = info.last_error_date.map(|d| now.saturating_sub(d));
    let recent_error = error_age.is_some_and(|a| a <= window);
    let new_error = recent_error && prev.is_none_or(|p| p.last_error_date != info.last_error_date);
    let pending = info.pending_update_count;
    let obs = WebhookObservation {
        at: now,
        pending,
        last_error_date: info.last_error_date,
        new_error,
    };

    // URL.
    let url_ok = info.url == want.expected_url;
    if url_ok {
        out.push(Finding::ok(
            CHECK,
            incident::WEBHOOK_WRONG_URL,
            "the webhook points at the bot",
        ));
    } else {
        let reason = if info.url.is_empty() {
            format!("no webhook is set (expected {})", want.expected_url)
        } else {
            format!(
                "the webhook points at {} instead of {}",
                info.url, want.expected_url
            )
        };
        out.push(
            Finding::new(CHECK, incident::WEBHOOK_WRONG_URL, Level::Critical, reason)
                .with_evidence(json!({ "url": info.url, "expected": want.expected_url, "pending_update_count": pending })),
        );
    }

    // Delivery: stuck or erroring. Judged only on a webhook that points at the bot.
    let evidence = json!({
        "pending_update_count": pending,
        "max_pending": t.max_pending,
        "last_error_message": info.last_error_message,
        "last_error_age_s": error_age,
        "previous_pending": prev.map(|p| p.pending),
    });
    let last_msg = info.last_error_message.clone().unwrap_or_default();
    if url_ok {
        let not_decreasing =
            prev.is_some_and(|p| p.pending > t.max_pending && pending >= p.pending);
        // Progress is judged by delivery errors, not by the count: without a recent error
        // Telegram's deliveries are going through, however many are queued.
        let stuck = pending > t.max_pending && recent_error && (new_error || not_decreasing);
        let erroring = pending > 0 && new_error && prev.is_some_and(|p| p.new_error);
        let f = if stuck {
            let why = format!(
                "the last delivery error was {} s ago: {last_msg}",
                error_age.unwrap_or_default()
            );
            Finding::new(
                CHECK,
                incident::WEBHOOK_STUCK,
                Level::Critical,
                format!(
                    "{pending} updates are stuck at Telegram (more than {}); {why}",
                    t.max_pending
                ),
            )
        } else if erroring {
            Finding::new(
                CHECK,
                incident::WEBHOOK_STUCK,
                Level::Critical,
                format!("webhook deliveries keep failing ({pending} pending): {last_msg}"),
            )
        } else if pending > t.max_pending {
            Finding::new(
                CHECK,
                incident::WEBHOOK_STUCK,
                Level::Warning,
                format!("{pending} updates pending, but deliveries are going through"),
            )
        } else if let Some(age) = error_age.filter(|_| !recent_error) {
            Finding::ok(
                CHECK,
                incident::WEBHOOK_STUCK,
                format!(
                    "{pending} pending; the last delivery error is old ({} min ago)",
                    age / 60
                ),
            )
        } else {
            Finding::ok(CHECK, incident::WEBHOOK_STUCK, format!("{pending} pending"))
        };
        out.push(f.with_evidence(evidence));
    }

    // Settings.
    let mut diffs = Vec::new();
    if !info.url.is_empty()
        && info
            .max_connections
            .is_some_and(|m| m != want.max_connections)
    {
        diffs.push(format!(
            "max_connections is {} (expected {})",
            info.max_connections.unwrap_or_default(),
            want.max_connections
        ));
    }
    if !info.url.is_empty()
        && !telbot_shared::telegram::same_allowed_updates(
            info.allowed_updates.as_deref(),
            &want.allowed_updates,
        )
    {
        let mut have = info.allowed_updates.clone().unwrap_or_default();
        let mut expect = want.allowed_updates.clone();
        have.sort();
        expect.sort();
        diffs.push(format!("allowed_updates is {have:?} (expected {expect:?})"));
    }
    if let Some(ip) = want.ip_address.as_deref().filter(|_| !info.url.is_empty())
        && info.ip_address.as_deref() != Some(ip)
    {
        diffs.push(format!(
            "ip_address is {} (expected the fixed {ip})",
            info.ip_address.as_deref().unwrap_or("not shown")
        ));
    }
    if !info.url.is_empty() && info.has_custom_certificate != want.certificate.is_some() {
        diffs.push(if info.has_custom_certificate {
            "Telegram holds a custom certificate for this webhook but webhook.certificate is not set: a repair would drop it (give the watchdog the same PEM file as the bot)".to_string()
        } else {
            "webhook.certificate is set but Telegram holds no custom certificate: deliveries to a self-signed bot fail until the webhook is set with it".to_string()
        });
    }
    out.push(if diffs.is_empty() {
        Finding::ok(
            CHECK,
            incident::WEBHOOK_CONFIG,
            "webhook settings as configured",
        )
    } else {
        Finding::new(
            CHECK,
            incident::WEBHOOK_CONFIG,
            Level::Warning,
            diffs.join("; "),
        )
    });

    // Telegram's own sync trouble.
    let sync_age = info
        .last_synchronization_error_date
        .map(|d| now.saturating_sub(d));
    out.push(match sync_age {
        Some(a) if a <= window => Finding::new(CHECK, incident::TELEGRAM_SYNC, Level::Warning, format!("Telegram reported a synchronization error {a} s ago (on its side; updates may be late)")),
        _ => Finding::ok(CHECK, incident::TELEGRAM_SYNC, "no recent synchronization error"),
    });
    (out, obs)
}

#[cfg(test)]
#[path = "telegram_tests.rs"]
mod tests;
