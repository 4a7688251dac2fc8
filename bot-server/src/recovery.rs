//! Lossless webhook recovery, in-process (`POST /webhook/recover`, the dashboard's Emergency
//! recovery button): the one recovery lock in the store (shared with the watchdog), then the
//! sequence both daemons share ([`telbot_shared::recovery::run`]) with the drain going into
//! this bot's inbox: each update stored (dedup by update_id; a duplicate's stored reply that no
//! answer carried is sent, see `crate::inbox::reply::carry_stored`) before its offset is
//! confirmed, and the webhook set again by the bot's own registration.
//!
//! It runs in a spawned task ([`start`]), so a dropped request cannot cancel it half way; the
//! route waits for it a bounded time. A shutdown stops the drain and waits (within the grace
//! period) for the webhook to be set again. If the final setWebhook fails, the phase stays in the
//! store and the bot's webhook watch (see [`crate::mode`]) polls until the webhook is back.

use std::time::Duration;

use serde_json::Value;
use telbot_shared::lease::{LEASE_TTL, Lease, LockError, owner_name};
use telbot_shared::recovery::run::{self, Bounds, Drain, Taken};
use telbot_shared::recovery::{RecoveryReport, Runner, WebhookSettings};
use telbot_shared::telegram::WebhookInfo;
use tokio::task::JoinHandle;

use crate::config::Mode;
use crate::inbox::reply::carry_stored;
use crate::inbox::{NewUpdate, Stored, key};
use crate::registration::register_webhook;
use crate::state::AppState;

/// Rounds of getUpdates at most (100 updates each), so a recovery always ends.
const MAX_ROUNDS: usize = 1000;
/// How long a drain may take at most (it stops early at a shutdown); Telegram keeps the rest
/// and delivers it to the webhook.
const MAX_DRAIN: Duration = Duration::from_secs(600);

/// How long `POST /webhook/recover` waits for the report before answering 202 (the recovery
/// goes on in the background either way).
pub(crate) const REQUEST_WAIT: Duration = Duration::from_secs(60);

/// Takes the recovery lock and runs a recovery in its own task; `Err` says who holds the lock.
pub(crate) async fn start(app: &AppState) -> Result<JoinHandle<RecoveryReport>, LockError> {
    let lease = Lease::acquire(&app.db, &owner_name(Runner::BotServer.as_str()), LEASE_TTL).await?;
    let app = app.clone();
    let tracker = app.recoveries.clone();
    Ok(tracker.spawn(async move {
        let report = recover(&app, &lease).await;
        if let Err(e) = lease.release().await {
            tracing::warn!(error = %e, "cannot release the recovery lock; it expires by itself");
        }
        report
    }))
}

/// Runs a recovery. The caller holds `lease`.
pub(crate) async fn recover(app: &AppState, lease: &Lease) -> RecoveryReport {
    let bounds = Bounds {
        max_batches: MAX_ROUNDS,
        max_duration: MAX_DRAIN,
        stop: app.shutdown.clone(),
    };
    let report = run::lossless(&app.api, lease, &IntoInbox { app }, &bounds, None).await;
    app.webhook_health.invalidate();
    tracing::info!(
        drained = report.drained,
        replayed = report.replayed,
        duplicates = report.duplicates,
        restored = report.webhook_restored,
        "recovery finished"
    );
    report
}

/// The drain into this bot's inbox.
struct IntoInbox<'a> {
    app: &'a AppState,
}

impl Drain for IntoInbox<'_> {
    fn runner(&self) -> Runner {
        Runner::BotServer
    }

    fn now(&self) -> i64 {
        telbot_shared::unix_now()
    }

    /// None: the bot's registration sets what it registers (its config and the settings it
    /// recorded), not what Telegram showed.
    async fn settings_to_restore(&self, _info: &WebhookInfo) -> Option<WebhookSettings> {
        None
    }

    /// Stores the batch in order, stopping at the first update that cannot be stored (it stays
    /// at Telegram, which delivers it to the webhook later).
    async fn take(&self, batch: &[Value]) -> Taken {
        let mut t = Taken::default();
        for u in batch {
            let Some(id) = run::update_id(u) else {
                continue;
            };
            let (kind, key) = key::classify(u);
            let stored = self
                .app
                .writer
                .insert(NewUpdate {
                    update_id: id,
                    kind,
                    key,
                    payload: u.to_string(),
                })
                .await;
            let failed = match stored {
                Ok(Stored::New) => {
                    t.taken += 1;
                    continue;
                }
                Ok(Stored::Duplicate) => {
                    // Its stored reply, if no answer carried it, goes out once as a request;
                    // if that fails the webhook's redelivery answers it.
                    match carry_stored(&self.app.db, &self.app.api, id).await {
                        Ok(_) => {
                            t.duplicates += 1;
                            continue;
                        }
                        Err(e) => format!("update {id}: {e}"),
                    }
                }
                Err(e) => format!("store: {e}"),
            };
            t.first_untaken = Some(id);
            t.error = Some(failed);
            return t;
        }
        t
    }

    async fn set_webhook(&self, _settings: Option<&WebhookSettings>) -> Result<(), String> {
        match register_webhook(self.app).await {
            Ok(()) => {
                self.app.mode.set(Mode::Webhook);
                Ok(())
            }
            Err(e) => Err(format!("{e} (the bot polls until the webhook is back)")),
        }
    }

    fn redact(&self, text: &str) -> String {
        self.app.redactor.redact(text)
    }
}
