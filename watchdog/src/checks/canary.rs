//! The canary (every integration run, `watchdog.canary_deadline`): a synthetic update
//! ([`telbot_shared::canary`]) posted with the webhook secret to the bot's `/webhook`, taken
//! by bot-server through its inbox like any update (a built-in step instead of the handlers),
//! and read back from the shared store. It measures webhook → stored (the 200) and stored →
//! processed (the row finished), and finds a bot that answers `/health` but processes
//! nothing: a stalled inbox, every worker held by a hanging handler.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::ExposeSecret;
use serde_json::json;
use telbot_shared::canary::{self, State};
use tokio::time::Instant;

use super::bot::describe;
use crate::context::Ctx;
use crate::report::{Finding, Level, incident};

const CHECK: &str = "integration";
/// How often the store is read while waiting.
const POLL: Duration = Duration::from_millis(100);

/// Sends one canary and waits for it; `None` when there is nothing to test (no canary
/// deadline configured, no webhook secret to sign it with, or a bot that takes no webhook
/// posts at all: polling without a secret).
pub async fn check(ctx: &Ctx) -> Option<Finding> {
    let deadline = ctx.cfg.canary_deadline?;
    // Without a secret the bot refuses canaries (anyone could post them); `webhook-auth`
    // already warns about the missing secret.
    let secret = ctx.webhook_secret()?;
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(1);
    let id = canary::new_id(micros);
    let url = &ctx.cfg.webhook.replay_url;
    let started = Instant::now();
    let sent = ctx
        .http
        .post(url)
        .header("content-type", "application/json")
        .header("x-telegram-bot-api-secret-token", secret.expose_secret())
        .body(canary::update(id, telbot_shared::unix_now()))
        .timeout(ctx.cfg.http_timeout)
        .send()
        .await;
    let status = match sent {
        Ok(r) => r.status().as_u16(),
        // Taken and never answered: the webhook waits on an inbox that stores nothing (a
        // store that hangs). Telegram's deliveries time out the same way.
        Err(e) if e.is_timeout() => {
            return Some(
                Finding::new(
                    CHECK,
                    incident::CANARY,
                    Level::Critical,
                    format!(
                        "the bot took the canary update but did not answer within {}: its webhook cannot store updates (a store that hangs, a lock held)",
                        humantime::format_duration(ctx.cfg.http_timeout)
                    ),
                )
                .with_evidence(json!({ "update_id": id })),
            );
        }
        // Refused or reset: the bot is not there; `bot-down` says so.
        Err(e) => {
            return Some(Finding::new(
                CHECK,
                incident::CANARY,
                Level::Warning,
                format!("could not deliver the canary update: {}", describe(&e)),
            ));
        }
    };
    let stored = started.elapsed();
    match status {
        200 => {}
        404 => return None,
        503 => {
            return Some(
                Finding::new(
                    CHECK,
                    incident::CANARY,
                    Level::Critical,
                    "the bot could not store the canary update (503): its inbox takes no updates, and Telegram's deliveries fail the same way",
                )
                .with_evidence(json!({ "update_id": id, "status": 503 })),
            );
        }
        s => {
            let why = match s {
                401 => {
                    "the bot refuses the watchdog's webhook secret: do both daemons have the same WEBHOOK_SECRET?"
                }
                403 => "the bot has no webhook secret, so it takes no canary",
                _ => "expected 200",
            };
            return Some(
                Finding::new(
                    CHECK,
                    incident::CANARY,
                    Level::Warning,
                    format!("the bot answered the canary update with {s}: {why}"),
                )
                .with_evidence(json!({ "update_id": id, "status": s })),
            );
        }
    }
    Some(wait(ctx, id, stored, started, deadline).await)
}

/// Reads the canary's row until it is finished or `deadline` has passed since it was sent.
async fn wait(ctx: &Ctx, id: i64, stored: Duration, sent: Instant, deadline: Duration) -> Finding {
    let db = ctx.store.db();
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    loop {
        let state = canary::state_of(db, id).await;
        let took = sent.elapsed();
        let evidence = json!({
            "update_id": id,
            "stored_ms": ms(stored),
            "processed_ms": ms(took),
            "deadline_ms": ms(deadline),
        });
        match state {
            Ok(State::Done) => {
                return Finding::ok(
                    CHECK,
                    incident::CANARY,
                    format!(
                        "the canary update went through the inbox: stored in {} ms, processed {} ms after it was sent",
                        ms(stored),
                        ms(took)
                    ),
                )
                .with_evidence(evidence);
            }
            Ok(State::Parked(cause)) => {
                return Finding::new(
                    CHECK,
                    incident::CANARY,
                    Level::Critical,
                    ctx.redact(&format!("the canary update was parked: {cause}")),
                )
                .with_evidence(evidence);
            }
            Ok(State::Absent) => {
                return Finding::new(
                    CHECK,
                    incident::CANARY,
                    Level::Warning,
                    "the bot stored the canary update (200) but it is not in the watchdog's store: do both daemons use the same DATABASE_URL?",
                )
                .with_evidence(evidence);
            }
            Err(e) => {
                return Finding::new(
                    CHECK,
                    incident::CANARY,
                    Level::Warning,
                    ctx.redact(&format!("could not read the canary update's state: {e}")),
                );
            }
            Ok(State::Pending) if took >= deadline => {
                let waiting = pending(ctx).await;
                return Finding::new(
                    CHECK,
                    incident::CANARY,
                    Level::Critical,
                    format!(
                        "the canary update was stored in {} ms but not processed within {}: the bot answers its health checks but takes no update through its inbox{waiting} (a stalled inbox, or every worker held by a hanging handler)",
                        ms(stored),
                        humantime::format_duration(deadline)
                    ),
                )
                .with_evidence(evidence);
            }
            Ok(State::Pending) => tokio::time::sleep(POLL).await,
        }
    }
}

/// ", N updates wait in the inbox", when the store says.
async fn pending(ctx: &Ctx) -> String {
    match canary::users_pending(ctx.store.db()).await {
        Ok(n) => format!("; {n} other update(s) wait in the inbox"),
        Err(_) => String::new(),
    }
}
