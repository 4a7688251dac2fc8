//! What each row does while the load runs. [`inject`] returns when the fault is over (the
//! moment "seconds until healthy" counts from); problems the harness itself sees (e.g. a
//! recovery phase that never showed) go to `notes` and fail the row.

use std::time::Duration;

use tokio::time::Instant;

use crate::load::Load;
use crate::proxy::Fault;
use crate::rows::FaultKind;
use crate::stack::Stack;
use crate::{ChaosError, Variant};

/// What a fault script works with.
pub struct Ctx<'a> {
    /// The row's stack.
    pub st: &'a mut Stack,
    /// The running load.
    pub load: &'a Load,
    /// The variant.
    pub v: Variant,
    /// Harness-side failures of the row.
    pub notes: &'a mut Vec<String>,
    /// update_ids another process took (the token-conflict row): lost to the bot by design,
    /// so not counted as lost by telbot.
    pub taken: &'a mut Vec<i64>,
}

/// The group chat of the flood row.
pub const FLOOD_CHAT: i64 = -100_777;

/// Runs `kind` on the stack; returns at the fault's end.
pub async fn inject(kind: FaultKind, cx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    let v = cx.v;
    match kind {
        FaultKind::Api500 => {
            cx.st.api.set(Fault::Status(500));
            tokio::time::sleep(paging_fault(v, 30.0)).await;
            cx.st.api.heal();
        }
        FaultKind::Api429 => {
            let retry_after = if v == Variant::Short { 1 } else { 5 };
            cx.st
                .api
                .set_for(&["sendMessage"], Fault::TooMany { retry_after });
            tokio::time::sleep(v.secs(30.0)).await;
            cx.st.api.heal();
        }
        FaultKind::ApiUnreachable => {
            cx.st.api.set(Fault::Refuse);
            tokio::time::sleep(paging_fault(v, 60.0)).await;
            cx.st.api.heal();
        }
        FaultKind::ApiSlow => {
            cx.st.api.set(Fault::Slow(v.request_timeout().mul_f64(1.5)));
            // Long enough for two watchdog passes that each give up (check_timeout) in both
            // variants: 45 s at a 20 s check timeout, 10 s at 4 s.
            let last = if v == Variant::Short { 10.0 } else { 45.0 };
            tokio::time::sleep(Duration::from_secs_f64(last)).await;
            cx.st.api.heal();
        }
        FaultKind::WebhookUrlChanged => {
            cx.st
                .sim
                .set_webhook_url_behind_back("http://127.0.0.1:9/someone-else");
            tokio::time::sleep(v.secs(30.0)).await;
        }
        FaultKind::WebhookDeleted => {
            cx.st.sim.set_webhook_url_behind_back("");
            tokio::time::sleep(v.secs(30.0)).await;
        }
        FaultKind::DeliveryErrors | FaultKind::SmtpDown => {
            cx.st.hook.set(Fault::Cycle(vec![
                Fault::Status(500),
                Fault::Status(502),
                Fault::Hang,
            ]));
            tokio::time::sleep(paging_fault(v, 30.0)).await;
            cx.st.hook.heal();
            cx.st.smtp.set_open(true);
        }
        FaultKind::Kill9 => {
            cx.st.stop_bot("-KILL").await?;
            tokio::time::sleep(v.secs(30.0)).await;
            cx.st.start_bot().await?;
        }
        FaultKind::Sigterm => {
            cx.st.stop_bot("-TERM").await?;
            cx.st.start_bot().await?;
        }
        FaultKind::PostgresDown => {
            let pg = cx
                .st
                .pg
                .clone()
                .ok_or_else(|| ChaosError::Setup("the row needs PostgreSQL".into()))?;
            let p = pg.clone();
            tokio::task::spawn_blocking(move || p.lock().map(|mut s| s.kill()).is_ok())
                .await
                .map_err(|e| ChaosError::Setup(format!("stopping PostgreSQL: {e}")))?
                .then_some(())
                .ok_or_else(|| ChaosError::Setup("PostgreSQL handle poisoned".into()))?;
            tokio::time::sleep(store_outage(v, 30.0)).await;
            tokio::task::spawn_blocking(move || {
                pg.lock()
                    .map_err(|_| "PostgreSQL handle poisoned".to_string())
                    .and_then(|mut s| s.restart())
            })
            .await
            .map_err(|e| ChaosError::Setup(format!("starting PostgreSQL: {e}")))?
            .map_err(|e| ChaosError::Setup(format!("starting PostgreSQL again: {e}")))?;
        }
        FaultKind::SqliteFull => {
            let t = cx
                .st
                .tmpfs
                .as_ref()
                .ok_or_else(|| ChaosError::Setup("the row needs the tmpfs".into()))?;
            let written = t.fill()?;
            tracing::info!(written, "SQLite volume filled");
            tokio::time::sleep(store_outage(v, 20.0)).await;
            t.free()?;
        }
        FaultKind::TokenConflict => {
            let api = format!("{}/bot{}", cx.st.sim.base_url(), cx.st.sim.token());
            let every = v.secs(12.0).max(Duration::from_secs(1));
            let took = telbot_testkit::intruder::run(&api, paging_fault(v, 40.0), every).await;
            cx.taken.extend(took);
        }
        FaultKind::WatchdogBlind => {
            let (Some(a), Some(b)) = (&cx.st.wd_api, &cx.st.wd_bot) else {
                return Err(ChaosError::Setup(
                    "the row needs the watchdog's own proxies".into(),
                ));
            };
            a.set(Fault::Hang);
            b.set(Fault::Hang);
            tokio::time::sleep(paging_fault(v, 40.0)).await;
            a.heal();
            b.heal();
        }
        FaultKind::FrontDown => {
            let backup = cx
                .st
                .backup_webhook()
                .ok_or_else(|| ChaosError::Setup("the row needs a backup".into()))?;
            cx.st.hook.set(Fault::Status(502));
            tokio::time::sleep(paging_fault(v, 30.0)).await;
            if !cx
                .st
                .sim
                .calls_to("setWebhook")
                .iter()
                .any(|c| c.params["url"] == backup.as_str())
            {
                cx.notes.push(format!(
                    "the webhook was never failed over to the backup ({backup}) while the front was down"
                ));
            }
            cx.st.hook.heal();
        }
        FaultKind::WatchdogKill(phase) => during_recovery(cx, phase, Hit::KillWatchdog).await?,
        FaultKind::BotRestartDraining => {
            during_recovery(cx, "draining", Hit::RestartBot).await?;
        }
        FaultKind::ConcurrentRecovery => concurrent_recovery(cx).await?,
        FaultKind::Flood => {
            let count = 3_000;
            // A polling bot gets the group's updates 100 at a time: they pile up in its inbox.
            let direct = cx.st.env.get("BOT_MODE").is_none_or(|m| m != "polling");
            let flood = cx.load.flood(FLOOD_CHAT, count, direct);
            let _ = tokio::time::timeout(Duration::from_secs(120), flood).await;
            // The other chats keep talking until the flood is answered (≤ 120 s): their
            // waiting time meanwhile is what the row judges.
            let deadline = Instant::now() + Duration::from_secs(120);
            while Instant::now() < deadline {
                let (answers, _) = crate::account::answers(&cx.st.sim);
                if answers.keys().filter(|k| k.0 == FLOOD_CHAT).count() as u64 >= count {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
    Ok(())
}

/// A fault that must page (a CRITICAL, then a RESOLVED) lasting `full` seconds, scaled; at
/// least 10 s in the short variant. The watchdog pages after two failing passes, and a failed
/// delivery shows in getWebhookInfo only after the sim's back-off and delivery timeout: a 3 s
/// fault was paged or not by chance (it was not, twice, in a full suite run on 2 busy cores).
fn paging_fault(v: Variant, full: f64) -> Duration {
    v.secs(full).max(match v {
        Variant::Short => Duration::from_secs(10),
        Variant::Full => Duration::ZERO,
    })
}

/// A store outage of `full` seconds, scaled; at least 20 s in the short variant: the watchdog
/// pages after two failing passes, and while its own store (the same PostgreSQL) is down each
/// pass waits out the acquire timeout of every store step it takes — about 5.5 s a pass on a
/// quiet 2-core machine, so a 12 s outage left room for exactly two passes and CI, slower,
/// saw one (no page: `short::postgres_down` failed there). The bot also calls its store down
/// only after commits kept failing, so a shorter outage could not be judged either way.
fn store_outage(v: Variant, full: f64) -> Duration {
    v.secs(full).max(match v {
        Variant::Short => Duration::from_secs(20),
        Variant::Full => Duration::ZERO,
    })
}

/// What hits a recovery in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hit {
    /// kill -9 of the watchdog, started again once the faults end (it must finish the
    /// recovery).
    KillWatchdog,
    /// A deploy of bot-server (SIGTERM, started again at once): the new process must not
    /// register its webhook while the drain runs (its getUpdates would end in 409 and page).
    RestartBot,
}

/// Webhook deliveries fail so the watchdog starts a lossless recovery; the Bot API call of
/// `phase` is made slow so the phase lasts; when the store shows the phase, `hit` it and end
/// the faults.
async fn during_recovery(cx: &mut Ctx<'_>, phase: &str, hit: Hit) -> Result<(), ChaosError> {
    let method = match phase {
        "deleting" => "deleteWebhook",
        "draining" => "getUpdates",
        _ => "setWebhook",
    };
    let db = cx.st.store().await?;
    cx.st
        .api
        .set_for(&[method], Fault::Slow(Duration::from_secs(2)));
    cx.st.hook.set(Fault::Status(500));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = false;
    while Instant::now() < deadline {
        if let Ok(Some(text)) = db.kv_get("watchdog.recovery").await
            && serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|j| j["phase"] == phase)
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if seen && hit == Hit::KillWatchdog {
        cx.st.kill_watchdog().await?;
    } else if seen {
        cx.st.stop_bot("-TERM").await?;
        cx.st.start_bot().await?;
    } else {
        cx.notes.push(format!(
            "the recovery phase {phase:?} never showed in the store within 60 s"
        ));
    }
    cx.st.api.heal();
    cx.st.hook.heal();
    tokio::time::sleep(Duration::from_millis(500)).await;
    if seen && hit == Hit::KillWatchdog {
        cx.st.start_watchdog()?;
    }
    Ok(())
}

/// `POST /webhook/recover` and `watchdog recover` at the same moment; returns when both ended.
async fn concurrent_recovery(cx: &mut Ctx<'_>) -> Result<(), ChaosError> {
    let mut cli = cx.st.watchdog_command(&["recover"])?;
    let url = format!("{}/webhook/recover", cx.st.bot_url());
    let dash = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| ChaosError::Setup(format!("http client: {e}")))?
        .post(url)
        .bearer_auth(cx.st.admin_token())
        .send();
    let (dash, cli_status) = tokio::join!(dash, cli.wait_exit(Duration::from_secs(120)));
    match dash {
        Ok(r) if r.status().is_success() || r.status().as_u16() == 409 => {}
        Ok(r) => cx
            .notes
            .push(format!("POST /webhook/recover answered {}", r.status())),
        Err(e) => cx.notes.push(format!("POST /webhook/recover failed: {e}")),
    }
    if cli_status.is_none() {
        cx.notes
            .push("`watchdog recover` did not finish within 120 s".into());
    }
    Ok(())
}
