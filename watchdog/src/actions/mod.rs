//! Running what the rules chose, within limits: every action kind has a cooldown and an hourly
//! cap, counted from `wd_actions` in the store (so they hold across watchdog restarts). A capped
//! action is not run and its incident is escalated to critical — a person must look — instead
//! of looping. Every attempt is recorded with its result.

pub(crate) mod restart;

use telbot_shared::action::ActionDetail;
use tokio_util::sync::CancellationToken;

use crate::config::Limit;
use crate::context::Ctx;
use crate::recovery;
use crate::report::{ActionKind, ActionReport, ActionResult};
use crate::rules::Plan;

/// The limit that applies to `kind`.
pub(crate) fn limit_for(ctx: &Ctx, kind: ActionKind) -> Limit {
    let l = &ctx.cfg.limits;
    match kind {
        ActionKind::SetWebhook | ActionKind::Failover | ActionKind::Failback => l.set_webhook,
        ActionKind::LosslessRecovery | ActionKind::DropPending => l.recovery,
        ActionKind::Restart => l.restart,
    }
}

/// The store kinds sharing one limit (lossless and drop recoveries count together).
fn counted_kinds(kind: ActionKind) -> &'static [ActionKind] {
    match kind {
        ActionKind::LosslessRecovery | ActionKind::DropPending => {
            &[ActionKind::LosslessRecovery, ActionKind::DropPending]
        }
        ActionKind::SetWebhook => &[ActionKind::SetWebhook],
        ActionKind::Restart => &[ActionKind::Restart],
        ActionKind::Failover => &[ActionKind::Failover],
        ActionKind::Failback => &[ActionKind::Failback],
    }
}

/// Whether `kind` may run now: `Err(SkippedCap | SkippedCooldown)` with a reason otherwise.
pub(crate) async fn admit(ctx: &Ctx, kind: ActionKind) -> Result<(), (ActionResult, String)> {
    let limit = limit_for(ctx, kind);
    let now = ctx.clock.now();
    let (mut count, mut last) = (0i64, None::<i64>);
    for k in counted_kinds(kind) {
        match ctx.store.attempts_since(*k, now - 3600).await {
            Ok((c, _)) => count += c,
            Err(e) => {
                return Err((
                    ActionResult::SkippedCap,
                    format!("cannot read earlier actions from the store ({e}); not acting blind"),
                ));
            }
        }
        if let Ok(Some(t)) = ctx.store.last_attempt(*k).await {
            last = Some(last.map_or(t, |l| l.max(t)));
        }
    }
    if count >= i64::from(limit.max_per_hour) {
        return Err((
            ActionResult::SkippedCap,
            format!(
                "{} ran {count} times in the last hour (cap {}); a person must look",
                kind.as_str(),
                limit.max_per_hour
            ),
        ));
    }
    if let Some(last) = last {
        let since = now - last;
        if since < limit.cooldown.as_secs() as i64 {
            return Err((
                ActionResult::SkippedCooldown,
                format!(
                    "{} ran {since} s ago (cooldown {} s)",
                    kind.as_str(),
                    limit.cooldown.as_secs()
                ),
            ));
        }
    }
    Ok(())
}

/// A dry run's action (`watchdog.act = false`, `--dry-run`): what would have been done,
/// reported and recorded as `dry-run`, not taken. Dry-run rows count toward no cooldown or
/// cap, so switching the dry run off later acts at once.
pub(crate) async fn dry_run(ctx: &Ctx, plan: &Plan) -> ActionReport {
    let detail = ActionDetail::why("dry run (watchdog.act = false or --dry-run): not taken");
    let now = ctx.clock.now();
    match ctx.store.action_started(plan.kind, &plan.reason, now).await {
        Ok(id) => {
            if let Err(e) = ctx
                .store
                .action_finished(id, ActionResult::DryRun, &detail, now)
                .await
            {
                tracing::warn!(error = %e, "cannot record the dry run's action");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot record the dry run's action"),
    }
    tracing::info!(action = plan.kind.as_str(), incident = plan.incident.as_str(), reason = %plan.reason, "dry run: action not taken");
    ActionReport {
        kind: plan.kind,
        incident: plan.incident,
        reason: plan.reason.clone(),
        result: ActionResult::DryRun,
        detail,
    }
}

/// Runs one planned action under its limits and records it.
pub(crate) async fn execute(
    ctx: &Ctx,
    plan: &Plan,
    stop: &CancellationToken,
    enforce_limits: bool,
) -> ActionReport {
    let report = |result, detail| ActionReport {
        kind: plan.kind,
        incident: plan.incident,
        reason: plan.reason.clone(),
        result,
        detail,
    };
    if plan.kind == ActionKind::Restart && ctx.cfg.restart.method.is_none() {
        return report(
            ActionResult::NotConfigured,
            ActionDetail::error(
                "no restart method configured (RENDER_API_KEY + RENDER_SERVICE_ID, watchdog.restart.deploy_hook_url or watchdog.restart.command)",
            ),
        );
    }
    if enforce_limits && let Err((result, why)) = admit(ctx, plan.kind).await {
        tracing::warn!(action = plan.kind.as_str(), reason = %why, "action not run");
        return report(result, ActionDetail::why(why));
    }
    let now = ctx.clock.now();
    let id = match ctx.store.action_started(plan.kind, &plan.reason, now).await {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(error = %e, "cannot record the action; running it anyway");
            None
        }
    };
    tracing::info!(action = plan.kind.as_str(), incident = plan.incident.as_str(), reason = %plan.reason, "action");
    let (result, detail) = perform(ctx, plan.kind, stop, id).await;
    tracing::info!(action = plan.kind.as_str(), result = result.as_str(), detail = %detail, "action finished");
    if let Some(id) = id
        && let Err(e) = ctx
            .store
            .action_finished(id, result, &detail, ctx.clock.now())
            .await
    {
        tracing::warn!(error = %e, "cannot record the action's result");
    }
    report(result, detail)
}

async fn perform(
    ctx: &Ctx,
    kind: ActionKind,
    stop: &CancellationToken,
    id: Option<i64>,
) -> (ActionResult, ActionDetail) {
    match kind {
        ActionKind::Failover => crate::failover::fail_over(ctx).await,
        ActionKind::Failback => crate::failover::fail_back(ctx).await,
        ActionKind::SetWebhook => match recovery::set_webhook_locked(ctx).await {
            Ok(url) => (ActionResult::Succeeded, ActionDetail::url(url)),
            Err(recovery::SetError::Busy(why)) => {
                (ActionResult::SkippedCooldown, ActionDetail::why(why))
            }
            Err(recovery::SetError::Failed(e)) => (ActionResult::Failed, ActionDetail::error(e)),
        },
        ActionKind::LosslessRecovery => recovery_result(recovery::lossless(ctx, stop, id).await),
        ActionKind::DropPending => recovery_result(recovery::drop_pending(ctx).await),
        ActionKind::Restart => match &ctx.cfg.restart.method {
            Some(m) => restart::restart(ctx, m).await,
            None => (ActionResult::NotConfigured, ActionDetail::default()),
        },
    }
}

/// A recovery report as an action result.
pub(crate) fn recovery_result(r: recovery::RecoveryReport) -> (ActionResult, ActionDetail) {
    let result = if r.ok() {
        ActionResult::Succeeded
    } else if r.busy {
        // Somebody else's recovery is running: not a failure of ours, and not counted.
        ActionResult::SkippedCooldown
    } else {
        ActionResult::Failed
    };
    (result, ActionDetail::of_recovery(&r))
}
