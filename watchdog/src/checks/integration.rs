//! The integration probes (every 15 min and in `check`): a webhook POST without the secret
//! must be refused with 401, and the bot's own `/webhook/health` must say `is_healthy`; the
//! [`super::canary`] runs beside them.

use std::time::Duration;

use serde_json::json;

use super::bot::describe;
use crate::context::Ctx;
use crate::report::{Finding, Level, incident};

const CHECK: &str = "integration";

/// Both probes, and the canary beside them unless `canary` is false: a bot that is down or
/// says its store is in trouble is already paged for it, and a canary would only wait out
/// its timeouts, lengthening the runs that must see the outage to page it.
pub(crate) async fn check(ctx: &Ctx, canary: bool) -> Vec<Finding> {
    let send = async {
        if canary {
            super::canary::check(ctx).await
        } else {
            None
        }
    };
    let (auth, health, canary) = tokio::join!(unauthenticated_post(ctx), webhook_health(ctx), send);
    let mut out = vec![auth, health];
    out.extend(canary);
    out
}

async fn unauthenticated_post(ctx: &Ctx) -> Finding {
    if ctx.webhook_secret().is_none() {
        return Finding::new(
            CHECK,
            incident::WEBHOOK_AUTH,
            Level::Warning,
            "no webhook secret is configured (WEBHOOK_SECRET): anyone can post updates to the bot",
        );
    }
    // `{}` is harmless even to a bot that forgot to check the secret (no update_id: 400).
    let sent = ctx
        .http
        .post(&ctx.cfg.webhook.replay_url)
        .json(&json!({}))
        .timeout(ctx.cfg.http_timeout)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().as_u16() == 401 => Finding::ok(
            CHECK,
            incident::WEBHOOK_AUTH,
            "the webhook refuses calls without the secret (401)",
        ),
        // Accepted without the secret: anyone who finds the URL can post updates.
        Ok(r) if r.status().is_success() => Finding::new(
            CHECK,
            incident::WEBHOOK_AUTH,
            Level::Critical,
            format!(
                "the webhook answered {} to a call without the secret (expected 401)",
                r.status().as_u16()
            ),
        )
        .with_evidence(json!({ "status": r.status().as_u16() })),
        // A proxy's 5xx, a 403 from a firewall: the call was not accepted, but the probe says
        // nothing about the secret.
        Ok(r) => Finding::new(
            CHECK,
            incident::WEBHOOK_AUTH,
            Level::Warning,
            format!(
                "could not probe the webhook: it answered {} to a call without the secret (expected 401)",
                r.status().as_u16()
            ),
        )
        .with_evidence(json!({ "status": r.status().as_u16() })),
        Err(e) => Finding::new(
            CHECK,
            incident::WEBHOOK_AUTH,
            Level::Warning,
            format!("could not probe the webhook: {}", describe(&e)),
        ),
    }
}

async fn webhook_health(ctx: &Ctx) -> Finding {
    let sent = ctx
        .http
        .get(ctx.bot_endpoint("/webhook/health"))
        .timeout(ctx.cfg.http_timeout)
        .send()
        .await;
    let body: Option<serde_json::Value> = match sent {
        Ok(r) => r.json().await.ok(),
        Err(e) => {
            return Finding::new(
                CHECK,
                incident::WEBHOOK_HEALTH,
                Level::Warning,
                format!("/webhook/health did not answer: {}", describe(&e)),
            );
        }
    };
    let Some(body) = body else {
        return Finding::new(
            CHECK,
            incident::WEBHOOK_HEALTH,
            Level::Warning,
            "/webhook/health answered without a JSON document",
        );
    };
    let info = &body["webhook_info"];
    let problems = info["problems"].clone();
    match info["is_healthy"].as_bool() {
        Some(true) => Finding::ok(
            CHECK,
            incident::WEBHOOK_HEALTH,
            "the bot's /webhook/health is healthy",
        ),
        Some(false) => Finding::new(
            CHECK,
            incident::WEBHOOK_HEALTH,
            Level::Warning,
            ctx.redact(&format!(
                "the bot's /webhook/health reports problems: {problems}"
            )),
        )
        .with_evidence(json!({ "problems": problems })),
        None => Finding::new(
            CHECK,
            incident::WEBHOOK_HEALTH,
            Level::Warning,
            "/webhook/health has no webhook_info.is_healthy",
        ),
    }
}

/// One probe of the bot's `/webhook/health` (within `watchdog.http_timeout` and `left`):
/// `Ok` when it says `is_healthy`, else what it said, redacted. `watchdog verify` polls it;
/// the daemon's deploy watch calls it once a run.
pub(crate) async fn webhook_healthy(ctx: &Ctx, left: Duration) -> Result<(), String> {
    let sent = ctx
        .http
        .get(ctx.bot_endpoint("/webhook/health"))
        .timeout(ctx.cfg.http_timeout.min(left))
        .send()
        .await;
    match sent {
        Ok(r) => match r.json::<serde_json::Value>().await {
            Ok(v) if v["webhook_info"]["is_healthy"].as_bool() == Some(true) => Ok(()),
            Ok(v) => Err(ctx.redact(&format!("problems: {}", v["webhook_info"]["problems"]))),
            Err(_) => Err("/webhook/health answered without JSON".into()),
        },
        Err(e) => Err(format!("/webhook/health: {}", describe(&e))),
    }
}
