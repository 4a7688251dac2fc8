//! The durable inbox: an update is committed to the store before Telegram gets its 200, then a
//! worker pool handles it and marks it done.
//!
//! - [`key`]: Telegram's queue key (per chat, per sender) from the raw JSON.
//! - [`sql`]: the inbox's SQL, valid for SQLite and PostgreSQL.
//! - [`writer`]: one task that group-commits inserts and completions.
//! - [`dispatch`]: loads stored updates in arrival order and runs them, one at a time per key,
//!   different keys in parallel, retrying and parking failures.

pub mod dispatch;
pub mod key;
pub mod sql;
pub mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use dispatch::{Outcome, Process};
pub use writer::{NewUpdate, Stored, Writer};

/// An update as the workers see it.
#[derive(Debug, Clone)]
pub struct Item {
    /// Arrival order in the store.
    pub seq: i64,
    /// Telegram's id.
    pub update_id: i64,
    /// `message`, `callback_query`, … or a kind this build does not know.
    pub kind: String,
    /// Queue key: updates with the same key run one at a time.
    pub key: Arc<str>,
    /// The update as Telegram sent it.
    pub payload: Arc<str>,
    /// Handler attempts so far.
    pub attempts: u32,
}

/// Inbox state of an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting or being handled.
    Pending = 0,
    /// Handled.
    Done = 1,
    /// Gave up after the last attempt; kept for a person to look at.
    Parked = 2,
    /// A kind this build cannot parse: stored raw and counted.
    Skipped = 3,
}

/// Counters behind `/health`'s `updates.*` and the metrics.
#[derive(Debug, Default)]
pub struct Counters {
    /// Stored (not duplicates).
    pub received: AtomicU64,
    /// Handled or skipped.
    pub processed: AtomicU64,
    /// Failed handler attempts.
    pub failed: AtomicU64,
    /// Redeliveries.
    pub duplicates: AtomicU64,
    /// Parked after the last attempt.
    pub parked: AtomicU64,
    /// Kinds this build cannot parse.
    pub unknown: AtomicU64,
    /// Stored and not yet finished.
    pub depth: AtomicU64,
}

impl Counters {
    pub(crate) fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn sub(c: &AtomicU64, n: u64) {
        let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            Some(v.saturating_sub(n))
        });
    }

    /// A plain snapshot for `/health`.
    pub fn snapshot(&self) -> telbot_shared::health::UpdateStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        telbot_shared::health::UpdateStats {
            received: g(&self.received),
            processed: g(&self.processed),
            failed: g(&self.failed),
            duplicates: g(&self.duplicates),
            inbox_depth: g(&self.depth),
            parked: g(&self.parked),
            unknown: g(&self.unknown),
        }
    }
}

/// The running inbox: the writer handle, and the worker pool's task.
pub struct Inbox {
    /// Where the webhook and the poller store updates.
    pub writer: Writer,
    /// Ends when the workers have stopped (after `stop` and in-flight work).
    pub workers: tokio::task::JoinHandle<()>,
}

/// Starts the writer and the worker pool; whatever an earlier run left pending is replayed.
pub async fn start(
    db: telbot_shared::store::Db,
    cfg: crate::config::InboxConfig,
    process: Arc<dyn Process>,
    counters: Arc<Counters>,
    stop: tokio_util::sync::CancellationToken,
) -> Result<Inbox, telbot_shared::store::StoreError> {
    let pending = sql::pending_count(&db).await?;
    counters.depth.store(pending, Ordering::Relaxed);
    if pending > 0 {
        tracing::info!(pending, "replaying updates acknowledged by an earlier run");
    }
    let (items_tx, items_rx) = tokio::sync::mpsc::channel(cfg.max_loaded);
    let behind = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let wake = Arc::new(tokio::sync::Notify::new());
    let writer = Writer::spawn(
        db.clone(),
        cfg.batch_max,
        counters.clone(),
        writer::Handoff {
            items: items_tx,
            behind: behind.clone(),
            wake: wake.clone(),
        },
    );
    let dispatcher = dispatch::Dispatcher {
        db,
        writer: writer.clone(),
        rx: items_rx,
        behind,
        wake,
        cfg,
        process,
        counters,
        stop,
    };
    let workers = tokio::spawn(dispatcher.run());
    Ok(Inbox { writer, workers })
}
