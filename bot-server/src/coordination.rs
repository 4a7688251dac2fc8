//! What others hold in the store that decides whether this bot may touch its webhook: the
//! recovery lease (a drain in progress), the watchdog's failover record, a recovery record
//! this bot left, and what it saw of another process using its token.

use std::time::Duration;

use telbot_shared::conflict::{self, Sign};
use telbot_shared::lease;
use telbot_shared::recovery;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// Waits while somebody holds the recovery lock (checked every second); false when `stop`
/// came first.
pub(crate) async fn wait_for_recovery(app: &AppState, stop: &CancellationToken) -> bool {
    let mut told = false;
    while recovery_running(app).await {
        if !told {
            tracing::info!(
                "a recovery holds the webhook (its lease is in the store); registering after it ends"
            );
            told = true;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.cancelled() => return false,
        }
    }
    true
}

/// The watchdog's webhook failover in force, if any: the webhook is the backup's until the
/// watchdog moves it back. A store that does not answer counts as none.
pub(crate) async fn failed_over(app: &AppState) -> Option<telbot_shared::failover::FailedOver> {
    telbot_shared::failover::load(&app.db).await.ok().flatten()
}

/// Whether somebody (this process's dashboard recovery, the watchdog) holds the recovery
/// lock. A store that does not answer counts as "no": polling then is the safe side.
pub(crate) async fn recovery_running(app: &AppState) -> bool {
    matches!(lease::holder(&app.db).await, Ok(Some(_)))
}

/// A recovery record this bot-server left (its final setWebhook failed, or it was killed) is
/// finished once the webhook is registered again: remove it, unless a recovery is running.
pub(crate) async fn clear_own_record(app: &AppState) {
    if recovery_running(app).await {
        return;
    }
    if let Ok(Some(st)) = recovery::load_state(&app.db).await
        && st.by == recovery::Runner::BotServer
        && let Err(e) = recovery::clear_state(&app.db).await
    {
        tracing::warn!(error = %e, "cannot clear the finished recovery record");
    }
}

/// Another process uses this bot's token: said loudly in the log, and kept in the store for
/// the watchdog (`token-conflict`).
pub(crate) async fn conflict_seen(app: &AppState, sign: Sign) {
    let what = match sign {
        Sign::ForeignDelete(_) => "the webhook was deleted by someone else",
        Sign::PollConflict => "getUpdates was ended by another getUpdates request",
    };
    tracing::error!(
        "{what}: another process is using this bot's token (a forgotten instance, a laptop with the production token); the updates it takes never reach this bot. Find it, or revoke the token with @BotFather"
    );
    if let Err(e) = conflict::record(&app.db, sign, telbot_shared::unix_now()).await {
        tracing::warn!(error = %e, "cannot record the token conflict in the store");
    }
}
