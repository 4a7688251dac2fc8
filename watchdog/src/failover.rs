//! Webhook failover (`webhook.backup_urls`): the ops notes' "multiple webhook endpoints".
//!
//! - When the primary's deliveries fail (a stuck webhook the rules would recover in place), or
//!   the primary does not answer through its public front (`bot-down` with `BOT_URL` unset or
//!   the same origin as `PUBLIC_URL`, where a restart is a guess: the front may be what is
//!   down), and a backup's `/health` answers 2xx, the webhook is pointed at that backup
//!   instead of a recovery or a restart. A restart stays the answer when `BOT_URL` bypasses the
//!   front (the process itself is known to be down) or no backup answers. One
//!   `setWebhook` with the same secret, `max_connections` and `allowed_updates`, without
//!   `drop_pending_updates`, so Telegram keeps its queue and delivers it there. Nothing is
//!   drained or replayed: nothing can be lost.
//! - While failed over, the backup's webhook URL is the expected one (a wrong URL is set back to
//!   it, a stuck backup is recovered in place), and the incident `webhook-failover` stays
//!   critical: a person should know the primary is out.
//! - Once the primary has been healthy for `webhook.failback_after` without a break — its
//!   `/health` answers (the bot-down check) and its public webhook URL reaches it (a POST
//!   without the secret gets the bot's own 4xx, not a proxy's 5xx) — the webhook moves back
//!   (the same way) and the incident resolves.
//! - While failed over, a primary that does not answer through its front is not restarted
//!   (`bot-down` is a warning: the backup serves); a primary bot-server that starts registers
//!   nothing (it reads the record). Someone setting the primary's URL by hand is seen as moved
//!   back.
//! - The state is one `kv` row (`watchdog.failover`), shared by every watchdog on the store;
//!   both moves take the recovery lock, so they never overlap a recovery.

use serde_json::json;
use telbot_shared::action::ActionDetail;

use crate::config::Backup;
use crate::context::Ctx;
use crate::recovery::{self, set_webhook};
use crate::report::{ActionKind, ActionResult, Finding, Level, incident};
use crate::rules::Plan;
use crate::store::{FailedOver, WebhookSettings};

const CHECK: &str = "failover";

/// The failover now, if the webhook points at a backup.
pub(crate) async fn state(ctx: &Ctx) -> Option<FailedOver> {
    ctx.store.failover().await.ok().flatten()
}

async fn save(ctx: &Ctx, st: &FailedOver) {
    if let Err(e) = ctx.store.set_failover(st).await {
        tracing::warn!(error = %e, "cannot record the webhook failover");
    }
}

async fn clear(ctx: &Ctx) {
    if let Err(e) = ctx.store.clear_failover().await {
        tracing::warn!(error = %e, "cannot clear the webhook failover record");
    }
}

/// The first backup whose `/health` answers 2xx.
pub(crate) async fn healthy_backup(ctx: &Ctx) -> Option<&Backup> {
    let timeout = ctx.cfg.check_timeout / 2;
    for b in &ctx.cfg.webhook.backups {
        let ok = ctx
            .http
            .get(&b.health_url)
            .timeout(timeout)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            return Some(b);
        }
        tracing::info!(backup = %b.base, "backup's /health does not answer; not failing over to it");
    }
    None
}

/// Before the plans run (the leader): a stuck primary with a healthy backup fails over instead
/// of recovering in place; while failed over, the primary's health is followed and the move
/// back planned after `failback_after`. `webhook_url` is what Telegram reported this run.
pub(crate) async fn adjust(
    ctx: &Ctx,
    fs: &mut [Finding],
    plans: &mut Vec<Plan>,
    webhook_url: Option<&str>,
) {
    if ctx.cfg.webhook.backups.is_empty() {
        return;
    }
    let now = ctx.clock.now();
    let front = ctx.cfg.bot_url_is_public;
    match state(ctx).await {
        None => {
            let stuck = plans.iter().position(|p| {
                (p.incident == incident::WEBHOOK_STUCK
                    && matches!(
                        p.kind,
                        ActionKind::LosslessRecovery | ActionKind::DropPending
                    ))
                    || (front && p.incident == incident::BOT_DOWN && p.kind == ActionKind::Restart)
            });
            if let Some(i) = stuck
                && let Some(b) = healthy_backup(ctx).await
            {
                plans[i] = Plan {
                    kind: ActionKind::Failover,
                    incident: plans[i].incident,
                    reason: format!(
                        "{} — the backup {} answers /health: pointing the webhook at it",
                        plans[i].reason, b.base
                    ),
                };
            }
        }
        Some(mut st) => {
            if webhook_url == Some(ctx.cfg.webhook.expected_url.as_str()) {
                tracing::info!(
                    "the webhook points at the primary again (set by someone else than the watchdog)"
                );
                clear(ctx).await;
                return;
            }
            if front {
                spare_the_primary(fs, plans);
            }
            let primary_ok = fs
                .iter()
                .any(|f| f.incident == incident::BOT_DOWN && f.level == Level::Ok)
                && public_webhook_answers(ctx).await;
            let since = if primary_ok {
                Some(st.primary_ok_since.unwrap_or(now))
            } else {
                None
            };
            if since != st.primary_ok_since {
                st.primary_ok_since = since;
                save(ctx, &st).await;
            }
            let after = ctx.cfg.webhook.failback_after.as_secs() as i64;
            if let Some(s) = since
                && now - s >= after
            {
                plans.push(Plan {
                    kind: ActionKind::Failback,
                    incident: incident::WEBHOOK_FAILOVER,
                    reason: format!(
                        "the primary has answered /health for {} s: moving the webhook back from {}",
                        now - s,
                        st.url
                    ),
                });
            }
        }
    }
}

/// While failed over, a primary that does not answer through its front is the reason for the
/// failover, not a new incident: no restart (the process may be fine behind a broken front;
/// Telegram delivers to the backup), and `bot-down` is a warning saying so.
fn spare_the_primary(fs: &mut [Finding], plans: &mut Vec<Plan>) {
    plans.retain(|p| !(p.incident == incident::BOT_DOWN && p.kind == ActionKind::Restart));
    for f in fs
        .iter_mut()
        .filter(|f| f.incident == incident::BOT_DOWN && f.level == Level::Critical)
    {
        f.soften("the webhook is failed over to the backup, which serves meanwhile; not restarting a primary that may only be cut off behind its front");
    }
}

/// Whether the primary's public webhook URL reaches the bot: a POST without the secret gets
/// the bot's own refusal (a 4xx), not a proxy's 5xx or a timeout. Its `/health` alone says
/// nothing about the path Telegram's deliveries take.
async fn public_webhook_answers(ctx: &Ctx) -> bool {
    ctx.http
        .post(&ctx.cfg.webhook.expected_url)
        .header("content-type", "application/json")
        .body("{}")
        .timeout(ctx.cfg.check_timeout / 2)
        .send()
        .await
        .is_ok_and(|r| r.status().is_client_error())
}

/// After the plans ran: the `webhook-failover` finding (critical while failed over).
pub(crate) async fn finding(ctx: &Ctx) -> Option<Finding> {
    if ctx.cfg.webhook.backups.is_empty() {
        return None;
    }
    Some(match state(ctx).await {
        Some(st) => {
            let wait = match st.primary_ok_since {
                Some(s) => format!(
                    "the primary has answered /health for {} s of the {} s it needs before the webhook moves back",
                    ctx.clock.now() - s,
                    ctx.cfg.webhook.failback_after.as_secs()
                ),
                None => format!(
                    "it moves back once the primary has answered /health for {} s",
                    ctx.cfg.webhook.failback_after.as_secs()
                ),
            };
            Finding::new(
                CHECK,
                incident::WEBHOOK_FAILOVER,
                Level::Critical,
                format!(
                    "the webhook points at the backup {} since {} (the primary's deliveries failed, or it did not answer through its public front); {wait}",
                    st.url,
                    telbot_alerts::format_time(st.since)
                ),
            )
            .with_evidence(json!({ "url": st.url, "since": st.since }))
        }
        None => Finding::ok(
            CHECK,
            incident::WEBHOOK_FAILOVER,
            "the webhook points at the primary",
        ),
    })
}

/// The settings to point the webhook at `url` with (see [`recovery::settings_for`]).
async fn settings_for(ctx: &Ctx, url: &str) -> WebhookSettings {
    let info = ctx.tg.get_webhook_info().await.ok();
    recovery::settings_for(ctx, url.to_string(), info.as_ref()).await
}

/// Points the webhook at `url` under the recovery lock, keeping the queue.
async fn move_to(ctx: &Ctx, url: &str) -> Result<(), (ActionResult, ActionDetail)> {
    let lease = recovery::lock(ctx)
        .await
        .map_err(|why| (ActionResult::SkippedCooldown, ActionDetail::why(why)))?;
    let settings = settings_for(ctx, url).await;
    let r = set_webhook(ctx, &settings, false).await;
    recovery::release(lease).await;
    r.map_err(|e| {
        (
            ActionResult::Failed,
            ActionDetail {
                url: Some(url.to_string()),
                error: Some(ctx.redact(&e.to_string())),
                ..Default::default()
            },
        )
    })
}

/// The failover action: the webhook to the first healthy backup.
pub(crate) async fn fail_over(ctx: &Ctx) -> (ActionResult, ActionDetail) {
    let Some(b) = healthy_backup(ctx).await else {
        return (
            ActionResult::Failed,
            ActionDetail::why("no backup answers /health"),
        );
    };
    let url = b.webhook_url.clone();
    if let Err(e) = move_to(ctx, &url).await {
        return e;
    }
    save(
        ctx,
        &FailedOver {
            url: url.clone(),
            since: ctx.clock.now(),
            primary_ok_since: None,
        },
    )
    .await;
    tracing::warn!(backup = %url, "webhook failed over to the backup; pending updates kept");
    (
        ActionResult::Succeeded,
        moved(url, "failed over to the backup; pending updates kept"),
    )
}

/// The failback action: the webhook to the primary again.
pub(crate) async fn fail_back(ctx: &Ctx) -> (ActionResult, ActionDetail) {
    let url = ctx.cfg.webhook.expected_url.clone();
    if let Err(e) = move_to(ctx, &url).await {
        return e;
    }
    clear(ctx).await;
    tracing::info!(primary = %url, "webhook moved back to the primary; pending updates kept");
    (
        ActionResult::Succeeded,
        moved(url, "moved back to the primary; pending updates kept"),
    )
}

/// The detail of a move of the webhook to `url`.
fn moved(url: String, why: &str) -> ActionDetail {
    ActionDetail {
        url: Some(url),
        why: Some(why.into()),
        ..Default::default()
    }
}
