//! The post-deploy verification, run by the daemon itself (`watchdog.deploy.verify`).
//!
//! The signal: a deploy on Render (or anywhere) is a new process — `/health` shows a later
//! start time (`now - uptime_s`) and usually another `version`. A process that started more
//! than [`SAME_PROCESS`] after the one on record is a new deploy (or a restart, which earns a
//! verification too); an *earlier* one never is, so several instances behind one URL, seen in
//! turn, do not look like a deploy each. The verification is `watchdog verify`'s probe
//! ([`crate::checks::integration::webhook_healthy`]) once a run until healthy or
//! `watchdog.deploy.verify_timeout` has passed since the deploy was noticed; a run never
//! waits for it, and a cron `watchdog check` carries it on from the store (kv
//! [`telbot_shared::deploy_verification::KV_KEY`]).
//!
//! `deploy-verify`: critical once the time is up (one incident per deploy, so one page);
//! ok when it verifies, or when that failed deploy turns healthy later (resolved); absent
//! while it is running or when nothing was verified.

use std::time::Duration;

use serde_json::json;
use telbot_shared::deploy_verification::{self as record, DeployVerification, VerifyStatus};
use telbot_shared::health::Health;

use crate::context::Ctx;
use crate::report::{Finding, Level, incident};

const CHECK: &str = "deploy";

/// Start times within this of the one on record are the same process (`uptime_s` is whole
/// seconds, and a run's clock reading is not the bot's).
pub(crate) const SAME_PROCESS: i64 = 60;

/// A process first seen this young is a deploy the watchdog came up beside (a Blueprint
/// creating both services): verified; an older one is only recorded.
pub(crate) const FRESH: i64 = 600;

/// Whether `health`, seen at `now`, is a new deploy after `prev`. Pure.
pub(crate) fn is_new_deploy(prev: Option<&DeployVerification>, health: &Health, now: i64) -> bool {
    let started = now - health.uptime_s as i64;
    match prev {
        None => (health.uptime_s as i64) < FRESH,
        Some(p) => {
            started > p.started_at + SAME_PROCESS
                || (health.version != p.version && started > p.started_at)
        }
    }
}

/// One run's part: notices a new deploy in `health` (the liveness probe's document) and
/// advances the verification of the one on record. Only the leader calls it.
pub(crate) async fn observe(ctx: &Ctx, health: Option<&Health>) -> Option<Finding> {
    if !ctx.cfg.deploy.verify {
        return None;
    }
    let db = ctx.store.db();
    let now = ctx.clock.now();
    let mut rec = match record::load(db).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = %e, "cannot read the deploy verification record");
            return None;
        }
    };
    let mut changed = false;
    if let Some(h) = health {
        let started = now - h.uptime_s as i64;
        if is_new_deploy(rec.as_ref(), h, now) {
            tracing::info!(version = %h.version, started_at = started, "a new deploy of the bot: verifying its /webhook/health");
            rec = Some(fresh(h, started, now, VerifyStatus::Running));
            changed = true;
        } else if rec.is_none() {
            rec = Some(fresh(h, started, now, VerifyStatus::Unverified));
            changed = true;
        }
    }
    let mut r = rec?;
    let timeout = ctx.cfg.deploy.timeout;
    let finding = match r.status {
        VerifyStatus::Unverified => None,
        VerifyStatus::Ok => Some(ok(&r, "verified")),
        VerifyStatus::Failed if r.healed_at.is_some() => Some(ok(&r, "healthy again")),
        VerifyStatus::Running | VerifyStatus::Failed => {
            let left =
                Duration::from_secs((r.noticed_at + timeout.as_secs() as i64 - now).max(1) as u64);
            match crate::checks::integration::webhook_healthy(ctx, left).await {
                Ok(()) => {
                    if r.status == VerifyStatus::Running {
                        r.status = VerifyStatus::Ok;
                        r.finished_at = Some(now);
                        tracing::info!(version = %r.version, after_s = now - r.noticed_at, "deploy verification ok: /webhook/health is healthy");
                    } else {
                        r.healed_at = Some(now);
                        tracing::info!(version = %r.version, "the deploy that failed its verification is healthy now");
                    }
                    r.detail = "healthy".into();
                    changed = true;
                    Some(ok(&r, "verified"))
                }
                Err(why) => {
                    if r.detail != why {
                        r.detail = why;
                        changed = true;
                    }
                    if r.status == VerifyStatus::Running
                        && now >= r.noticed_at + timeout.as_secs() as i64
                    {
                        r.status = VerifyStatus::Failed;
                        r.finished_at = Some(now);
                        changed = true;
                        tracing::error!(version = %r.version, detail = %r.detail, "deploy verification failed: not healthy within {timeout:?}");
                    }
                    (r.status == VerifyStatus::Failed).then(|| failed(&r, timeout))
                }
            }
        }
    };
    if changed && let Err(e) = record::save(db, &r).await {
        tracing::warn!(error = %e, "cannot keep the deploy verification; it is judged again next run");
    }
    finding
}

fn fresh(h: &Health, started: i64, now: i64, status: VerifyStatus) -> DeployVerification {
    DeployVerification {
        version: h.version.clone(),
        started_at: started,
        noticed_at: now,
        status,
        finished_at: None,
        healed_at: None,
        detail: String::new(),
    }
}

fn evidence(r: &DeployVerification) -> serde_json::Value {
    json!({
        "version": r.version,
        "started_at": r.started_at,
        "noticed_at": r.noticed_at,
        "status": r.status.as_str(),
        "finished_at": r.finished_at,
        "detail": r.detail,
    })
}

fn ok(r: &DeployVerification, how: &str) -> Finding {
    Finding::ok(
        CHECK,
        incident::DEPLOY_VERIFY,
        format!(
            "the deploy of version {} (started at {}) is {how}: /webhook/health is healthy",
            r.version, r.started_at
        ),
    )
    .with_evidence(evidence(r))
}

fn failed(r: &DeployVerification, timeout: Duration) -> Finding {
    Finding::new(
        CHECK,
        incident::DEPLOY_VERIFY,
        Level::Critical,
        format!(
            "the new deploy (version {}, started at {}) is not healthy {} s after it was noticed (verify_timeout {timeout:?}): {}",
            r.version,
            r.started_at,
            r.finished_at.unwrap_or(r.noticed_at) - r.noticed_at,
            r.detail
        ),
    )
    .with_evidence(evidence(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_later_process_is_a_new_deploy() {
        let h = |version: &str, uptime_s: u64| Health {
            version: version.into(),
            uptime_s,
            ..Health::default()
        };
        let now = 10_000;
        let prev = fresh(&h("1.0", 0), 5_000, 5_000, VerifyStatus::Ok);
        let cases = [
            (h("1.0", 5_000), false, "the same process"),
            (h("1.0", 4_990), false, "the same process, clocks apart"),
            (
                h("1.0", 100),
                true,
                "a restart or a redeploy of the same version",
            ),
            (h("1.1", 4_990), true, "another version, started later"),
            (
                h("0.9", 6_000),
                false,
                "an older instance behind the same URL",
            ),
            (
                h("1.0", 7_000),
                false,
                "an older instance of the same version",
            ),
        ];
        for (health, new, what) in cases {
            assert_eq!(is_new_deploy(Some(&prev), &health, now), new, "{what}");
        }
        assert!(
            is_new_deploy(None, &h("1.0", 30), now),
            "fresh at first sight"
        );
        assert!(
            !is_new_deploy(None, &h("1.0", 86_400), now),
            "running for a day"
        );
    }
}
