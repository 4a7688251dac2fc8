//! How updates arrive: registering the webhook at every start (with back-off and jitter),
//! long polling into the same inbox, and the fallback between them.
//!
//! - When setWebhook keeps failing at start, or when Telegram reports no webhook at all
//!   (getWebhookInfo's `url` empty — a recovery whose final setWebhook failed, someone's
//!   deleteWebhook) while the bot believes it is in webhook mode, the bot polls getUpdates into
//!   the inbox and keeps trying to restore its webhook until it is back: nothing is left
//!   unread at Telegram.
//! - A polled update the inbox already handled is confirmed like any other; a reply stored
//!   for its webhook answer (`webhook.reply_in_answer`) that Telegram never got is sent as a
//!   request first, once (`crate::inbox::reply::carry_stored`); if that request fails, the
//!   update stays unconfirmed and the next poll tries again.
//! - Only a bot *configured* for polling (`BOT_MODE=polling`) ever deletes a webhook. The
//!   fallback poller, told "webhook is active" (409) — a recovery or a person set it — stops
//!   polling and the bot is back in webhook mode.
//! - While the watchdog has failed the webhook over to a backup (its `watchdog.failover`
//!   record), this bot registers nothing, at start or in the fallback: moving it back is the
//!   watchdog's, once this bot has been healthy through its public URL.
//! - While somebody holds the recovery lock (the watchdog's or the dashboard's recovery is
//!   draining), the bot neither registers its webhook (at start, on a leadership change) nor,
//!   in the fallback, polls or sets it: the queue is theirs.
//! - Of several bot-servers on one PostgreSQL only the holder of the `webhook-leader` lease
//!   does any of this; the others serve `/webhook` and work the inbox, and take the lease
//!   over when its holder stops or dies (after [`lease::LEASE_TTL`]). On SQLite the one
//!   bot-server is always the leader.

use std::sync::atomic::Ordering;
use std::time::Duration;

use telbot_shared::backoff::jittered as backoff_delay;
use telbot_shared::conflict::Sign;
use telbot_shared::lease;
use telbot_shared::recovery;
use telbot_shared::telegram::TelegramError;
use telbot_shared::webhook_settings;
use tokio_util::sync::CancellationToken;

use crate::config::Mode;
use crate::coordination::{
    clear_own_record, conflict_seen, failed_over, recovery_running, wait_for_recovery,
};
use crate::inbox::reply::carry_stored;
use crate::inbox::{NewUpdate, Stored, key};
use crate::registration::{params_now, register_webhook};
use crate::state::AppState;

/// How often a follower asks for the `webhook-leader` lease, and checks its leader's lease.
const LEADER_CHECK: Duration = Duration::from_secs(1);

/// Runs what faces Telegram while this instance leads, until `stop`.
pub(crate) async fn run(app: AppState, stop: CancellationToken) {
    app.mode.set(app.cfg.mode);
    if crate::inbox::instances_allowed(app.db.backend) == Some(1) {
        app.leader.store(true, Ordering::Relaxed);
        lead(app, stop).await;
        return;
    }
    let mut told = false;
    loop {
        let lease = match lease::Lease::acquire_named(
            &app.db,
            lease::WEBHOOK_LEADER,
            &app.instance,
            lease::LEASE_TTL,
        )
        .await
        {
            Ok(lease) => lease,
            Err(e) => {
                if !told {
                    tracing::info!(reason = %e, "another instance leads (webhook, polling); this one serves /webhook and works the inbox");
                    told = true;
                }
                tokio::select! {
                    _ = tokio::time::sleep(LEADER_CHECK) => continue,
                    _ = stop.cancelled() => return,
                }
            }
        };
        told = false;
        tracing::info!(
            "this instance leads: it registers the webhook and runs the polling fallback"
        );
        app.leader.store(true, Ordering::Relaxed);
        let leading = stop.child_token();
        let mut task = tokio::spawn(lead(app.clone(), leading.clone()));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(LEADER_CHECK) => {}
                _ = &mut task => break,
                _ = stop.cancelled() => break,
            }
            if !lease.is_held() {
                tracing::warn!(
                    "this instance lost the webhook-leader lease (a stall or a store outage past its ttl); following"
                );
                break;
            }
        }
        leading.cancel();
        if !task.is_finished() {
            let _ = task.await;
        }
        app.leader.store(false, Ordering::Relaxed);
        if stop.is_cancelled() {
            if let Err(e) = lease.release().await {
                tracing::warn!(error = %e, "cannot release the webhook-leader lease; it expires by itself");
            }
            return;
        }
        drop(lease);
    }
}

/// Decides the live mode and runs whatever it needs until `stop`.
async fn lead(app: AppState, stop: CancellationToken) {
    if stop.is_cancelled() {
        return;
    }
    if app.cfg.mode == Mode::Polling {
        app.mode.set(Mode::Polling);
        poll(app, stop, Role::Configured).await;
        return;
    }
    app.mode.set(Mode::Webhook);
    // A recovery in progress (the watchdog draining with getUpdates) owns the webhook: a
    // setWebhook now would end its drain with 409 and page falsely. Wait for it; it sets the
    // webhook itself when it is done.
    if !wait_for_recovery(&app, &stop).await {
        return;
    }
    if let Some(f) = failed_over(&app).await {
        tracing::warn!(
            backup = %f.url,
            "the watchdog has failed the webhook over to a backup; not registering this bot's URL (the watchdog moves it back once this bot has been healthy through its public URL for webhook.failback_after)"
        );
    } else if register_webhook(&app).await.is_ok() {
        clear_own_record(&app).await;
    } else {
        tracing::error!(
            "cannot set the webhook; falling back to polling and retrying the webhook in the background"
        );
        fallback(&app, &stop).await;
    }
    watch(&app, &stop).await;
}

/// Every `restore_interval`: does Telegram still have a webhook, with every setting this bot
/// registers? No webhook (and nobody's recovery holds the lock): poll until it is back.
/// Another URL or other settings (a recovery that restored older ones during a deploy,
/// someone's setWebhook with other `allowed_updates`): set them again.
async fn watch(app: &AppState, stop: &CancellationToken) {
    let mut tick = tokio::time::interval(app.cfg.webhook.restore_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return,
        }
        if app.mode.get() != Mode::Webhook || recovery_running(app).await {
            continue;
        }
        let info = tokio::select! {
            i = app.api.get_webhook_info() => i,
            _ = stop.cancelled() => return,
        };
        match info {
            Ok(i) if i.url.is_empty() => {
                // Checked again: a recovery may have started since.
                if recovery_running(app).await {
                    continue;
                }
                tracing::error!(
                    pending = i.pending_update_count,
                    "Telegram reports no webhook while this bot is in webhook mode; polling until it is back"
                );
                // Nobody telbot knows of deleted it (no recovery holds the lock or left its
                // record): another process with this token did — its library's deleteWebhook
                // at start, before it polls.
                if matches!(recovery::load_state(&app.db).await, Ok(None)) {
                    conflict_seen(app, Sign::ForeignDelete(i.pending_update_count)).await;
                }
                fallback(app, stop).await;
            }
            Ok(i) => restore_settings(app, &i).await,
            Err(e) => tracing::debug!(error = %e, "getWebhookInfo failed; checking again later"),
        }
    }
}

/// Sets the webhook again when Telegram's (`info`, a URL set) differs from what this bot
/// registers — unless the watchdog failed it over or a recovery holds the lock.
async fn restore_settings(app: &AppState, info: &telbot_shared::telegram::WebhookInfo) {
    let Some(want) = params_now(&app.cfg, Some(info)).await else {
        return;
    };
    let changed = webhook_settings::differences(info, &want);
    if changed.is_empty() || recovery_running(app).await || failed_over(app).await.is_some() {
        return;
    }
    tracing::warn!(
        changed = %changed.join(", "),
        "the webhook's settings at Telegram are not the ones this bot registers; setting them again"
    );
    if let Err(e) = register_webhook(app).await {
        tracing::warn!(error = %e, "cannot set the webhook's settings again; trying at the next check");
    }
}

/// Polls into the inbox and retries setWebhook every `restore_interval` until the webhook is
/// back (set by us, or by a recovery: the poller then hears "webhook is active") or `stop`.
async fn fallback(app: &AppState, stop: &CancellationToken) {
    app.mode.set(Mode::Polling);
    app.webhook_health.invalidate();
    let polling = stop.child_token();
    let mut poller = tokio::spawn(poll(app.clone(), polling.clone(), Role::Fallback));
    let mut tick = tokio::time::interval(app.cfg.webhook.restore_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let back = loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut poller => {
                tracing::info!("a webhook was set (by a recovery or a person); polling stopped");
                break true;
            }
            _ = stop.cancelled() => break false,
        }
        if recovery_running(app).await || failed_over(app).await.is_some() {
            continue;
        }
        // setWebhook makes Telegram end a waiting getUpdates; unconfirmed updates are then
        // delivered to the webhook and recognised by update_id.
        if register_webhook(app).await.is_ok() {
            tracing::info!("webhook restored; polling stopped");
            clear_own_record(app).await;
            break true;
        }
    };
    polling.cancel();
    if !poller.is_finished() {
        let _ = poller.await;
    }
    if back {
        app.mode.set(Mode::Webhook);
        app.webhook_health.invalidate();
    }
}

/// Why the poller runs: `BOT_MODE=polling`, or the fallback of a webhook bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Configured for polling: a webhook in the way is deleted.
    Configured,
    /// A webhook bot without its webhook: a webhook that appears ends the polling.
    Fallback,
}

/// Long-polls getUpdates into the inbox; an offset is confirmed only after its updates are
/// stored. In the fallback it pauses while a recovery holds the lock, and returns when
/// Telegram says a webhook is active.
pub(crate) async fn poll(app: AppState, stop: CancellationToken, role: Role) {
    let mut offset: Option<i64> = None;
    let mut failures = 0u32;
    let allowed = app.cfg.webhook.allowed_updates.clone();
    loop {
        if role == Role::Fallback && recovery_running(&app).await {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                _ = stop.cancelled() => return,
            }
        }
        let call = app.api.get_updates(
            offset,
            app.cfg.polling.limit,
            app.cfg.polling.timeout,
            Some(&allowed),
        );
        let result = tokio::select! {
            r = call => r,
            _ = stop.cancelled() => return,
        };
        let updates = match result {
            Ok(u) => {
                failures = 0;
                u
            }
            Err(TelegramError::Api {
                code: 409,
                description,
                ..
            }) if description.contains("webhook is active") => {
                if stop.is_cancelled() || role == Role::Fallback {
                    // Somebody set the webhook (a recovery, a person): it is what this bot
                    // wants, so stop polling instead of deleting it.
                    return;
                }
                tracing::info!("a webhook is set; deleting it (pending updates kept) to poll");
                if let Err(e) = app.api.delete_webhook(false).await {
                    tracing::warn!(error = %e, "deleteWebhook failed");
                }
                continue;
            }
            Err(TelegramError::Api {
                code: 409,
                description,
                ..
            }) if description.contains("terminated by other getUpdates") => {
                conflict_seen(&app, Sign::PollConflict).await;
                failures += 1;
                let d = backoff_delay(Duration::from_secs(1), Duration::from_secs(30), failures);
                tokio::select! {
                    _ = tokio::time::sleep(d) => continue,
                    _ = stop.cancelled() => return,
                }
            }
            Err(e) => {
                failures += 1;
                let d = backoff_delay(
                    Duration::from_millis(500),
                    Duration::from_secs(30),
                    failures,
                );
                tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "getUpdates failed");
                tokio::select! {
                    _ = tokio::time::sleep(d) => continue,
                    _ = stop.cancelled() => return,
                }
            }
        };
        // The whole batch is handed to the writer at once, in update_id order, so it lands in
        // one group commit: one insert (one commit) at a time held a polling bot to a few
        // hundred updates a second, and a flood in one chat held every other chat behind it
        // at Telegram.
        let mut ids = Vec::with_capacity(updates.len());
        let mut inserts = Vec::with_capacity(updates.len());
        for u in &updates {
            let Some(id) = u.get("update_id").and_then(serde_json::Value::as_i64) else {
                continue;
            };
            let (kind, key) = key::classify(u);
            ids.push(id);
            inserts.push(app.writer.insert(NewUpdate {
                update_id: id,
                kind,
                key,
                payload: u.to_string(),
            }));
        }
        let results = futures::future::join_all(inserts).await;
        let mut next = offset;
        let mut stored_all = true;
        // Confirm only the stored prefix: an update after a failed one stays at Telegram.
        for (id, r) in ids.into_iter().zip(results) {
            match r {
                Err(e) => {
                    tracing::warn!(error = %e, "cannot store a polled update; it stays unconfirmed at Telegram");
                    stored_all = false;
                    break;
                }
                // Handled before, and back at Telegram: a reply stored for its webhook answer
                // never reached Telegram, and nothing carries it here: send it.
                Ok(Stored::Duplicate) => {
                    if let Err(e) = carry_stored(&app.db, &app.api, id).await {
                        tracing::warn!(update_id = id, error = %e, "cannot send a polled duplicate's stored reply; it stays unconfirmed at Telegram");
                        stored_all = false;
                        break;
                    }
                }
                Ok(Stored::New) => {}
            }
            next = Some(id + 1);
        }
        offset = next;
        if !stored_all {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.cancelled() => return,
            }
        }
    }
}
