//! The fleet: bot-servers on one PostgreSQL announce themselves in the store (`kv` rows
//! `bot-server.instance.<name>`, refreshed every [`BEAT`]) and count the live ones, and each
//! paces its sends at its share of the bot's limits (30/s per bot, 1/s per chat split by the
//! live instance count). On SQLite the one bot-server paces at the full limits.

use std::time::Duration;

use telbot_shared::store::{Db, StoreError};
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// How often an instance refreshes its row and recounts the fleet.
pub(crate) const BEAT: Duration = Duration::from_secs(5);
/// A row not refreshed for this long is a gone instance (a kill -9).
pub(crate) const GONE_AFTER: Duration = Duration::from_secs(20);

const PREFIX: &str = "bot-server.instance.";

/// Refreshes this instance's row and returns the number of live instances (at least 1).
pub(crate) async fn beat(db: &Db, instance: &str) -> Result<u32, StoreError> {
    db.kv_set(&format!("{PREFIX}{instance}"), "live").await?;
    let since = telbot_shared::unix_now() - GONE_AFTER.as_secs() as i64;
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM kv WHERE key LIKE $1 AND updated_at >= $2")
            .bind(format!("{PREFIX}%"))
            .bind(since)
            .fetch_one(&db.pool)
            .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX).max(1))
}

/// Until `stop`: beats, and sets the Bot API client's share; then removes this instance's row.
pub(crate) async fn run(app: AppState, stop: CancellationToken) {
    if crate::inbox::instances_allowed(app.db.backend) == Some(1) {
        return;
    }
    let mut tick = tokio::time::interval(BEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last = 1;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        match beat(&app.db, &app.instance).await {
            Ok(n) => {
                if n != last {
                    tracing::info!(
                        instances = n,
                        "bot-servers on this store; each sends at its share of the bot's limits"
                    );
                    last = n;
                }
                app.api.set_fleet_share(n);
                metrics::gauge!("telbot_fleet_instances").set(f64::from(n));
            }
            Err(e) => tracing::warn!(error = %e, "cannot refresh this instance's fleet row"),
        }
    }
    if let Err(e) = app.db.kv_delete(&format!("{PREFIX}{}", app.instance)).await {
        tracing::debug!(error = %e, "cannot remove this instance's fleet row; it ages out");
    }
}
