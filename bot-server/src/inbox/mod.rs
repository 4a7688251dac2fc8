//! The durable inbox: an update is committed to the store before Telegram gets its 200, then a
//! worker pool handles it and marks it done.
//!
//! - [`key`]: Telegram's queue key (per chat, per sender) from the raw JSON.
//! - [`sql`]: the inbox's SQL, valid for SQLite and PostgreSQL.
//! - [`writer`]: one task that group-commits inserts and completions ([`request`]: what it
//!   is asked to do).
//! - [`cursor`]: the worker pool on SQLite ([`cursor::CursorPool`]) (one bot-server per file): loads stored updates in
//!   arrival order and runs them, one at a time per key, different keys in parallel, at most
//!   `max_loaded_per_key` of one key in memory.
//! - [`claim`]: the worker pool on PostgreSQL (any number of bot-servers on one database):
//!   instances claim the heads of queue keys from the store with a lease.
//! - [`job`]: one update's handler runs: transient failures retried with capped back-off,
//!   permanent ones parked after `max_attempts`.
//! - [`parked`]: listing, replaying and discarding parked updates (the admin routes).
//! - [`health`]: how the commits are going, for `/health`'s `checks.store`.

pub mod claim;
mod claim_sql;
mod commit;
pub(crate) mod cursor;
pub(crate) mod health;
pub(crate) mod job;
pub mod key;
pub mod parked;
pub(crate) mod reply;
mod request;
pub mod sql;
pub(crate) mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

pub(crate) use job::{Outcome, Process};
pub use request::Finish;
pub(crate) use request::{NewUpdate, Stored};
pub(crate) use writer::Writer;

/// How the writer (and the admin routes) tell the dispatcher to read the store.
#[derive(Debug)]
pub(crate) struct Wakeup {
    /// Rows may be waiting after the dispatcher's cursor.
    behind: AtomicBool,
    /// Rows may be waiting at or below the cursor, after this seq (`i64::MAX`: none): a
    /// commit whose outcome was unknown may have landed late, or parked rows were replayed.
    floor: AtomicI64,
    wake: tokio::sync::Notify,
}

impl Default for Wakeup {
    fn default() -> Self {
        Wakeup {
            behind: AtomicBool::new(true),
            floor: AtomicI64::new(i64::MAX),
            wake: tokio::sync::Notify::new(),
        }
    }
}

impl Wakeup {
    /// Asks for a read after the cursor.
    pub(crate) fn behind(&self) {
        self.behind.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Asks for a read of every pending row after `floor`, also below the cursor.
    pub(crate) fn rescan_from(&self, floor: i64) {
        self.floor.fetch_min(floor, Ordering::AcqRel);
        self.behind();
    }
}

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
    /// When it was stored (unix seconds): Telegram's 24 h are counted from about then.
    pub received_at: i64,
    /// The same in milliseconds where this process stored it (read back from the store:
    /// `received_at` × 1000), for the response times users feel.
    pub received_ms: i64,
}

/// Inbox state of an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting or being handled.
    Pending = 0,
    /// Handled.
    Done = 1,
    /// Gave up (a permanent failure after the last attempt, or Telegram's 24 h passed); kept
    /// until a person replays or discards it, never pruned.
    Parked = 2,
    /// A kind this build cannot parse: stored raw and counted.
    Skipped = 3,
    /// A parked update an operator discarded (kept for dedup until pruned).
    Discarded = 4,
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
    /// Parked rows in the store now (also from earlier runs).
    pub parked: AtomicU64,
    /// Kinds this build cannot parse.
    pub unknown: AtomicU64,
    /// Stored and not yet finished.
    pub depth: AtomicU64,
    /// Handlers running now on this instance (with their retries).
    pub running: AtomicU64,
    /// Rows held in memory by this instance's workers (waiting for their key, or running).
    pub loaded: AtomicU64,
    /// How the writer's commits are going.
    pub commits: health::CommitHealth,
    /// The last hour's finished updates (`/health`'s `hour`).
    pub hour: crate::recent::responses::HourWindow,
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
            running: g(&self.running),
            loaded: g(&self.loaded),
        }
    }
}

/// The running inbox: the writer handle, and the tasks to stop and join at shutdown.
pub(crate) struct Inbox {
    /// Where the webhook and the poller store updates.
    pub writer: Writer,
    /// Ends when the workers have stopped (after `stop` and in-flight work).
    pub workers: tokio::task::JoinHandle<()>,
    /// Cancel once the workers have stopped: the writer commits what is queued and ends.
    pub stop_writer: tokio_util::sync::CancellationToken,
    /// Ends when the writer has committed its last batch.
    pub writer_task: tokio::task::JoinHandle<()>,
}

/// How many bot-servers one store carries: SQLite one per file (the worker pool follows the
/// file in memory; a second one is refused by [`telbot_shared::store::lock_instance`]),
/// PostgreSQL any number (they claim rows, see [`claim`]).
pub(crate) fn instances_allowed(backend: telbot_shared::config::Backend) -> Option<usize> {
    match backend {
        telbot_shared::config::Backend::Sqlite => Some(1),
        telbot_shared::config::Backend::Postgres => None,
    }
}

/// Starts the writer and the worker pool (both spawned on `tasks`); whatever an earlier run
/// left pending is replayed. `owner` names this instance in the inbox's claims, `listen_url`
/// is the store's URL for the instances' LISTEN/NOTIFY (PostgreSQL).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn start(
    db: telbot_shared::store::Db,
    cfg: crate::config::InboxConfig,
    process: Arc<dyn Process>,
    counters: Arc<Counters>,
    stop: tokio_util::sync::CancellationToken,
    tasks: &tokio_util::task::TaskTracker,
    owner: Arc<str>,
    listen_url: Option<secrecy::SecretString>,
    replies: Option<Arc<reply::Waiters>>,
) -> Result<Inbox, telbot_shared::store::StoreError> {
    let pending = sql::pending_count(&db).await?;
    counters.depth.store(pending, Ordering::Relaxed);
    if pending > 0 {
        tracing::info!(pending, "replaying updates acknowledged by an earlier run");
    }
    let parked = sql::count_parked(&db).await?;
    counters.parked.store(parked, Ordering::Relaxed);
    if parked > 0 {
        tracing::warn!(
            parked,
            "parked updates wait for an operator (GET /admin/parked)"
        );
    }
    let (items_tx, items_rx) = tokio::sync::mpsc::channel(cfg.max_loaded);
    let wakeup = Arc::new(Wakeup::default());
    let stop_writer = tokio_util::sync::CancellationToken::new();
    let (writer, writer_task) = Writer::spawn(
        db.clone(),
        cfg.batch_max,
        counters.clone(),
        writer::Handoff {
            items: items_tx,
            wakeup: wakeup.clone(),
            owner: owner.clone(),
        },
        tasks,
        stop_writer.clone(),
    );
    let several = instances_allowed(db.backend).is_none();
    let pool = job::Pool {
        db,
        writer: writer.clone(),
        rx: items_rx,
        wakeup,
        cfg,
        process,
        counters,
        stop,
        tasks: tasks.clone(),
        replies,
    };
    let workers = if several {
        tasks.spawn(
            claim::Claimer {
                pool,
                owner,
                listen_url,
            }
            .run(),
        )
    } else {
        tasks.spawn(cursor::CursorPool { pool }.run())
    };
    Ok(Inbox {
        writer,
        workers,
        stop_writer,
        writer_task,
    })
}
