//! Group commit: one task owns every inbox write. Concurrent webhook requests queue their
//! inserts on a bounded channel; the task takes whatever is waiting (up to `batch_max`),
//! writes it in one transaction, and answers each request after the commit. Durability then
//! costs one commit per batch, not per update.
//!
//! A request hears `Ok` only after its batch's COMMIT returned success. A batch that failed is
//! rolled back explicitly and its connection goes back to the pool only when it is verifiably
//! outside any transaction; otherwise, and always after a commit that timed out (its outcome is
//! unknown), the connection is closed, so no pooled connection ever sits inside a failed write
//! transaction holding the database's write lock. After an unknown outcome the dispatcher is
//! asked to read the store again once the connection is gone: rows that landed late are found.

use std::sync::Arc;
use std::time::Duration;

use telbot_shared::store::{Db, StoreError};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::commit::{COMMIT_TIMEOUT, Commit, commit};
use super::request::{Finish, NewUpdate, Req, Stored};
use super::{Counters, Item, Wakeup};

/// Handle to the writer task. Cheap to clone; the task ends when every handle is dropped.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Req>,
    timeout: Duration,
    wakeup: Arc<Wakeup>,
    /// The program's `distribution_function`, as the queue key of each stored update.
    keyer: Option<Keyer>,
}

/// A queue key from an update's raw JSON (`None`: keep the classifier's key).
pub(crate) type Keyer = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the writer hands new rows to, and how it says it could not.
pub(crate) struct Handoff {
    /// New rows for the dispatcher (bounded; when full the dispatcher reads them from the store).
    pub items: mpsc::Sender<Item>,
    /// Asks the dispatcher to read the store.
    pub wakeup: Arc<Wakeup>,
    /// This instance's name in the inbox's `claimed_by`: completions are fenced by it.
    pub owner: Arc<str>,
}

impl Writer {
    /// Starts the writer task on `tasks`. It ends when every handle is dropped, or once
    /// `stop` is cancelled and what was queued by then is committed; join the returned handle
    /// to know the last commit is on disk.
    pub(crate) fn spawn(
        db: Db,
        batch_max: usize,
        counters: Arc<Counters>,
        handoff: Handoff,
        tasks: &TaskTracker,
        stop: CancellationToken,
    ) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(batch_max * 4);
        let wakeup = handoff.wakeup.clone();
        let task = tasks.spawn(run(db, Inbound { rx, stop }, batch_max, counters, handoff));
        let writer = Writer {
            tx,
            timeout: COMMIT_TIMEOUT,
            wakeup,
            keyer: None,
        };
        (writer, task)
    }

    /// Every update stored through this handle gets its queue key from `keyer` (the program's
    /// `distribution_function`) where it gives one.
    pub(crate) fn with_keyer(mut self, keyer: Option<Keyer>) -> Self {
        self.keyer = keyer;
        self
    }

    /// Stores an update; returns `Ok` only once it is committed (or known).
    pub async fn insert(&self, mut u: NewUpdate) -> Result<Stored, StoreError> {
        if let Some(key) = self.keyer.as_ref().and_then(|k| k(&u.payload)) {
            u.key = key;
        }
        let (reply, rx) = oneshot::channel();
        let send = self.tx.send(Req::Insert(u, reply));
        match tokio::time::timeout(self.timeout, send).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(StoreError::Db("inbox writer stopped".into())),
            Err(_) => return Err(StoreError::Db("inbox writer is saturated".into())),
        }
        match tokio::time::timeout(self.timeout * 2, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(StoreError::Db("inbox writer stopped".into())),
            // If the commit lands later, its rows are handed to the workers then.
            Err(_) => Err(StoreError::Db("inbox commit timed out".into())),
        }
    }

    /// Records how an update ended and waits until that is committed (the writer retries
    /// until the store takes it), so a row leaves the workers' hands only once its state is
    /// on disk, and the window in which a crash makes a handled update run again stays one
    /// commit long (plus at most [`COMPLETION_LINGER`] waiting for an insert to share it).
    pub async fn finish(&self, f: Finish) {
        let (done, rx) = oneshot::channel();
        if self.tx.send(Req::Finish(f, Some(done))).await.is_err() {
            tracing::warn!("inbox writer stopped; a completion will be replayed at next start");
            return;
        }
        let _ = rx.await;
    }

    /// Asks the workers to read every pending row after `floor`, also rows older than those
    /// they have taken (replayed parked rows).
    pub(crate) fn rescan_from(&self, floor: i64) {
        self.wakeup.rescan_from(floor);
    }
}

/// Pause after a failed commit, and between retries of unwritten completions.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Longest a batch of plain completions waits for an insert to share its transaction. At a
/// steady rate the next update arrives within it, so one commit (one fsync, and four store
/// round trips instead of six) carries both; under load batches fill anyway. A completion
/// holds its worker's slot until committed, so the kill -9 bound (`inbox.workers`) is
/// unchanged; acks never wait for it (an insert commits at once and takes the completions
/// along), and a completion carrying a reply for a waiting webhook does not linger.
pub(crate) const COMPLETION_LINGER: Duration = Duration::from_millis(5);

/// Whether a batch is only completions that may wait for an insert.
fn may_linger(batch: &[Req]) -> bool {
    !batch.is_empty()
        && batch
            .iter()
            .all(|r| matches!(r, Req::Finish(f, _) if f.reply.is_none()))
}

/// The writer's queue, closed for new requests once `stop` is cancelled (what was queued
/// still comes out).
struct Inbound {
    rx: mpsc::Receiver<Req>,
    stop: CancellationToken,
}

impl Inbound {
    /// The next request; `None` once the queue is closed and empty.
    async fn recv(&mut self) -> Option<Req> {
        if !self.stop.is_cancelled() {
            tokio::select! {
                r = self.rx.recv() => return r,
                _ = self.stop.cancelled() => {}
            }
        }
        self.rx.close();
        self.rx.recv().await
    }

    fn try_recv(&mut self) -> Option<Req> {
        self.rx.try_recv().ok()
    }
}

async fn run(db: Db, mut rx: Inbound, batch_max: usize, counters: Arc<Counters>, handoff: Handoff) {
    let mut retry_finishes: Vec<(Finish, Option<oneshot::Sender<()>>)> = Vec::new();
    // The writer's own connection between commits (SQLite; see `commit`).
    let mut conn = None;
    // The highest seq known committed: rows of a commit with an unknown outcome are above it.
    let mut last_seq: i64 = 0;
    loop {
        let first = if retry_finishes.is_empty() {
            match rx.recv().await {
                Some(r) => Some(r),
                None => break,
            }
        } else {
            match tokio::time::timeout(RETRY_PAUSE, rx.recv()).await {
                Ok(Some(r)) => Some(r),
                // Closed: the completions still waiting are retried until the app stops
                // waiting for the writer (its grace period).
                Ok(None) => {
                    tokio::time::sleep(RETRY_PAUSE).await;
                    None
                }
                Err(_) => None,
            }
        };
        let mut batch: Vec<Req> = Vec::with_capacity(batch_max);
        if let Some(first) = first {
            // Let requests that are already running reach the queue, so one commit takes them all.
            tokio::task::yield_now().await;
            batch.push(first);
            while batch.len() < batch_max {
                match rx.try_recv() {
                    Some(r) => batch.push(r),
                    None => break,
                }
            }
            if retry_finishes.is_empty()
                && may_linger(&batch)
                && let Ok(Some(r)) = tokio::time::timeout(COMPLETION_LINGER, rx.recv()).await
            {
                batch.push(r);
                while batch.len() < batch_max {
                    match rx.try_recv() {
                        Some(r) => batch.push(r),
                        None => break,
                    }
                }
            }
        }
        batch.extend(retry_finishes.drain(..).map(|(f, d)| Req::Finish(f, d)));
        let now = telbot_shared::unix_now();
        let began = std::time::Instant::now();
        let outcome = commit(
            &db,
            &mut conn,
            &batch,
            now,
            &handoff.wakeup,
            last_seq,
            &handoff.owner,
        )
        .await;
        // A batch's commit, the disk's flush included: the part of an ack the store takes.
        metrics::histogram!("telbot_inbox_commit_seconds").record(began.elapsed().as_secs_f64());
        let (msg, unknown) = match outcome {
            Commit::Done(seqs) => {
                counters.commits.record_ok();
                last_seq = last_seq.max(seqs.iter().flatten().copied().max().unwrap_or(0));
                deliver(batch, seqs, now, &counters, &handoff);
                continue;
            }
            Commit::Failed(m) => (m, false),
            Commit::Unknown(m) => (m, true),
        };
        counters
            .commits
            .record_failure(&msg, tokio::time::Instant::now());
        metrics::counter!("telbot_inbox_commit_failures_total").increment(1);
        tracing::error!(error = %msg, batch = batch.len(), outcome_unknown = unknown, "inbox commit failed; answering 503 so Telegram redelivers");
        for r in batch {
            match r {
                Req::Insert(_, reply) => {
                    let _ = reply.send(Err(StoreError::Db(msg.clone())));
                }
                // Completions are kept and retried (bounded by in-flight work).
                Req::Finish(f, d) => retry_finishes.push((f, d)),
            }
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    if !retry_finishes.is_empty() {
        let batch: Vec<Req> = retry_finishes
            .into_iter()
            .map(|(f, d)| Req::Finish(f, d))
            .collect();
        let last = commit(
            &db,
            &mut conn,
            &batch,
            telbot_shared::unix_now(),
            &handoff.wakeup,
            last_seq,
            &handoff.owner,
        )
        .await;
        if !matches!(last, Commit::Done(_)) {
            tracing::warn!(
                "last completions not written; those updates are handled again at next start"
            );
        }
    }
}

fn deliver(
    batch: Vec<Req>,
    seqs: Vec<Option<i64>>,
    now: i64,
    counters: &Counters,
    handoff: &Handoff,
) {
    let mut seqs = seqs.into_iter();
    let now_ms = telbot_shared::unix_now_ms();
    for r in batch {
        let (u, reply) = match r {
            Req::Insert(u, reply) => (u, reply),
            Req::Finish(_, done) => {
                if let Some(d) = done {
                    let _ = d.send(());
                }
                continue;
            }
        };
        let seq = seqs.next().flatten();
        let stored = match seq {
            Some(seq) => {
                // The watchdog's canary waits in the inbox like any update (depth) but is no
                // update of the bot's users.
                let canary = telbot_shared::canary::is_canary(u.update_id);
                if !canary {
                    Counters::add(&counters.received, 1);
                    metrics::counter!("telbot_updates_received_total").increment(1);
                }
                Counters::add(&counters.depth, 1);
                let item = Item {
                    seq,
                    update_id: u.update_id,
                    kind: u.kind,
                    key: Arc::from(u.key),
                    payload: Arc::from(u.payload),
                    attempts: 0,
                    received_at: now,
                    received_ms: now_ms,
                };
                if handoff.items.try_send(item).is_err() {
                    handoff.wakeup.behind();
                }
                Stored::New
            }
            None => {
                Counters::add(&counters.duplicates, 1);
                metrics::counter!("telbot_updates_duplicate_total").increment(1);
                Stored::Duplicate
            }
        };
        let _ = reply.send(Ok(stored));
    }
}

#[cfg(test)]
pub(super) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::inbox::Status;
    use telbot_shared::config::{Backend, StoreConfig};

    /// A SQLite store (synchronous = FULL) in `dir`.
    pub(in crate::inbox) async fn sqlite_in(dir: &tempfile::TempDir) -> Db {
        let cfg = StoreConfig {
            url: format!("sqlite://{}/t.db?mode=rwc", dir.path().display()).into(),
            backup_dir: std::path::PathBuf::new(),
            backup_keep: 1,
            backup_max_age: std::time::Duration::from_secs(3600),
            migrate_url: None,
            read_url: None,
            backend: Backend::Sqlite,
            data_dir: dir.path().to_path_buf(),
            max_connections: 2,
            acquire_timeout: Duration::from_secs(5),
            sqlite_synchronous: "full".into(),
        };
        telbot_shared::store::connect(&cfg).await.unwrap()
    }

    /// A writer on `db` (batches of 8) and where it hands new rows.
    fn spawn_on(
        db: &Db,
        stop: CancellationToken,
    ) -> (Writer, JoinHandle<()>, mpsc::Receiver<Item>) {
        let (items, items_rx) = mpsc::channel(1000);
        let (writer, task) = Writer::spawn(
            db.clone(),
            8,
            Arc::new(Counters::default()),
            Handoff {
                items,
                wakeup: Arc::new(Wakeup::default()),
                owner: Arc::from("test"),
            },
            &TaskTracker::new(),
            stop,
        );
        (writer, task, items_rx)
    }

    fn finish(seq: i64, reply: Option<&str>) -> Req {
        Req::Finish(
            Finish {
                seq,
                status: Status::Done,
                attempts: 1,
                error: None,
                reply: reply.map(Arc::from),
            },
            None,
        )
    }

    #[test]
    fn only_plain_completions_wait_for_an_insert() {
        assert!(may_linger(&[finish(1, None), finish(2, None)]));
        assert!(!may_linger(&[]));
        let (tx, _rx) = oneshot::channel();
        let insert = Req::Insert(
            NewUpdate {
                update_id: 1,
                kind: "message".into(),
                key: "c1".into(),
                payload: "{}".into(),
            },
            tx,
        );
        assert!(
            !may_linger(&[finish(1, None), insert]),
            "an ack never waits"
        );
        assert!(
            !may_linger(&[finish(1, None), finish(2, Some("{}"))]),
            "a webhook waits for this reply"
        );
    }

    #[tokio::test]
    async fn a_lone_completion_is_committed_without_an_insert_to_share_with() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_in(&dir).await;
        let (writer, _task, mut items_rx) = spawn_on(&db, CancellationToken::new());
        writer
            .insert(NewUpdate {
                update_id: 5,
                kind: "message".into(),
                key: "c5".into(),
                payload: "{}".into(),
            })
            .await
            .unwrap();
        let item = items_rx.recv().await.unwrap();
        tokio::time::timeout(
            Duration::from_secs(10),
            writer.finish(Finish {
                seq: item.seq,
                status: Status::Done,
                attempts: 1,
                error: None,
                reply: None,
            }),
        )
        .await
        .expect("the completion is committed once the linger is over");
        assert_eq!(super::super::sql::pending_count(&db).await.unwrap(), 0);
        assert_eq!(
            super::super::sql::status_of(&db, 5).await.unwrap(),
            Some((Status::Done as i64, 1))
        );
    }

    #[tokio::test]
    async fn a_stopped_writer_commits_what_was_queued_then_ends() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_in(&dir).await;
        let stop = CancellationToken::new();
        let (writer, task, _items_rx) = spawn_on(&db, stop.clone());
        // 20 inserts queued at once (several commits of 8), then the stop.
        let inserts: Vec<_> = (1..=20)
            .map(|id| {
                let w = writer.clone();
                tokio::spawn(async move {
                    w.insert(NewUpdate {
                        update_id: id,
                        kind: "message".into(),
                        key: format!("chat:{id}"),
                        payload: "{}".into(),
                    })
                    .await
                })
            })
            .collect();
        tokio::task::yield_now().await;
        stop.cancel();
        // The writer ends although `writer` (a handle) is still alive.
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the writer ends after a stop")
            .unwrap();
        let mut stored = 0;
        for i in inserts {
            if i.await.unwrap().is_ok() {
                stored += 1;
            }
        }
        // Every insert the writer said was stored is in the store; none was cut off half way.
        assert_eq!(super::super::sql::pending_count(&db).await.unwrap(), stored);
        assert!(stored > 0, "the queued inserts were committed, not dropped");
        let late = writer
            .insert(NewUpdate {
                update_id: 99,
                kind: "message".into(),
                key: "chat:99".into(),
                payload: "{}".into(),
            })
            .await;
        assert!(late.is_err(), "a stopped writer takes nothing new");
    }
}
