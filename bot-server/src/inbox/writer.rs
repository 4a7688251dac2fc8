//! Group commit: one task owns every inbox write. Concurrent webhook requests queue their
//! inserts on a bounded channel; the task takes whatever is waiting (up to `batch_max`),
//! writes it in one transaction, and answers each request after the commit. Durability then
//! costs one commit per batch, not per update.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use telbot_shared::store::{Db, StoreError};
use tokio::sync::{Notify, mpsc, oneshot};

use super::{Counters, Item, Status, sql};

/// An update to store.
#[derive(Debug)]
pub struct NewUpdate {
    /// Telegram's id (the dedup key).
    pub update_id: i64,
    /// Kind name.
    pub kind: String,
    /// Queue key.
    pub key: String,
    /// Raw JSON.
    pub payload: String,
}

/// What storing an update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// New: it will be handled.
    New,
    /// Seen before: acknowledged and ignored.
    Duplicate,
}

/// How handling of one update ended.
#[derive(Debug)]
pub struct Finish {
    /// The row.
    pub seq: i64,
    /// Final (or, with `Pending`, interim) state.
    pub status: Status,
    /// Attempts used.
    pub attempts: u32,
    /// Last handler error.
    pub error: Option<String>,
}

enum Req {
    Insert(NewUpdate, oneshot::Sender<Result<Stored, StoreError>>),
    Finish(Finish, Option<oneshot::Sender<()>>),
}

/// Handle to the writer task. Cheap to clone; the task ends when every handle is dropped.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Req>,
    timeout: Duration,
}

/// What the writer hands new rows to, and how it says it could not.
pub(crate) struct Handoff {
    /// New rows for the dispatcher (bounded; when full the dispatcher reads them from the store).
    pub items: mpsc::Sender<Item>,
    /// Set when a row could not be handed over.
    pub behind: Arc<AtomicBool>,
    /// Wakes the dispatcher.
    pub wake: Arc<Notify>,
}

impl Writer {
    /// Starts the writer task.
    pub(crate) fn spawn(
        db: Db,
        batch_max: usize,
        counters: Arc<Counters>,
        handoff: Handoff,
    ) -> Self {
        let (tx, rx) = mpsc::channel(batch_max * 4);
        let timeout = COMMIT_TIMEOUT;
        tokio::spawn(run(db, rx, batch_max, counters, handoff));
        Writer { tx, timeout }
    }

    /// Stores an update; returns once it is committed (or known).
    pub async fn insert(&self, u: NewUpdate) -> Result<Stored, StoreError> {
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
            Err(_) => Err(StoreError::Db("inbox commit timed out".into())),
        }
    }

    /// Records how an update ended and waits for the commit, so the window in which a
    /// crash makes a handled update run again stays one commit long.
    pub async fn finish(&self, f: Finish) {
        let (done, rx) = oneshot::channel();
        if self.tx.send(Req::Finish(f, Some(done))).await.is_err() {
            tracing::warn!("inbox writer stopped; a completion will be replayed at next start");
            return;
        }
        let _ = tokio::time::timeout(self.timeout * 2, rx).await;
    }
}

/// Longest one batch commit may take before its requests are answered 503.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

async fn run(
    db: Db,
    mut rx: mpsc::Receiver<Req>,
    batch_max: usize,
    counters: Arc<Counters>,
    handoff: Handoff,
) {
    let mut retry_finishes: Vec<(Finish, Option<oneshot::Sender<()>>)> = Vec::new();
    while let Some(first) = rx.recv().await {
        // Let requests that are already running reach the queue, so one commit takes them all.
        tokio::task::yield_now().await;
        let mut batch = vec![first];
        while batch.len() < batch_max {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        batch.extend(retry_finishes.drain(..).map(|(f, d)| Req::Finish(f, d)));
        let now = telbot_shared::unix_now();
        match commit(&db, &batch, now).await {
            Ok(seqs) => deliver(batch, seqs, &counters, &handoff),
            Err(e) => {
                let msg = e.to_string();
                tracing::error!(error = %msg, batch = batch.len(), "inbox commit failed; answering 503 so Telegram redelivers");
                for r in batch {
                    match r {
                        Req::Insert(_, reply) => {
                            let _ = reply.send(Err(StoreError::Db(msg.clone())));
                        }
                        // Completions are kept and retried with the next batch (bounded by in-flight work).
                        Req::Finish(f, d) => retry_finishes.push((f, d)),
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    if !retry_finishes.is_empty() {
        let batch: Vec<Req> = retry_finishes
            .into_iter()
            .map(|(f, d)| Req::Finish(f, d))
            .collect();
        if let Err(e) = commit(&db, &batch, telbot_shared::unix_now()).await {
            tracing::warn!(error = %e, "last completions not written; those updates are handled again at next start");
        }
    }
}

/// Writes a batch in one transaction; for each insert, the new seq or `None` (duplicate).
async fn commit(db: &Db, batch: &[Req], now: i64) -> Result<Vec<Option<i64>>, StoreError> {
    let work = async {
        let mut tx = db.pool.begin().await?;
        let rows: Vec<(i64, &str, &str, &str)> = batch
            .iter()
            .filter_map(|r| match r {
                Req::Insert(u, _) => Some((
                    u.update_id,
                    u.kind.as_str(),
                    u.key.as_str(),
                    u.payload.as_str(),
                )),
                Req::Finish(..) => None,
            })
            .collect();
        let new = if rows.is_empty() {
            HashMap::new()
        } else {
            sql::insert_many(&mut tx, &rows, now).await?
        };
        // The first occurrence of an update_id in the batch is the new one; later ones are duplicates.
        let mut taken = HashSet::new();
        let seqs = rows
            .iter()
            .map(|(id, ..)| {
                if taken.insert(*id) {
                    new.get(id).copied()
                } else {
                    None
                }
            })
            .collect();
        // Plain successes go in one statement per attempt count; the rest one by one.
        let mut done: HashMap<u32, Vec<i64>> = HashMap::new();
        for r in batch {
            if let Req::Finish(f, _) = r {
                if f.status == Status::Done && f.error.is_none() {
                    done.entry(f.attempts).or_default().push(f.seq);
                } else {
                    sql::finish(
                        &mut tx,
                        f.seq,
                        f.status,
                        f.attempts,
                        f.error.as_deref(),
                        now,
                    )
                    .await?;
                }
            }
        }
        for (attempts, seqs) in done {
            sql::finish_done_many(&mut tx, &seqs, attempts, now).await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(seqs)
    };
    match tokio::time::timeout(COMMIT_TIMEOUT, work).await {
        Ok(r) => r.map_err(StoreError::from),
        Err(_) => Err(StoreError::Db("inbox commit timed out".into())),
    }
}

fn deliver(batch: Vec<Req>, seqs: Vec<Option<i64>>, counters: &Counters, handoff: &Handoff) {
    let mut seqs = seqs.into_iter();
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
                Counters::add(&counters.received, 1);
                Counters::add(&counters.depth, 1);
                let item = Item {
                    seq,
                    update_id: u.update_id,
                    kind: u.kind,
                    key: Arc::from(u.key),
                    payload: Arc::from(u.payload),
                    attempts: 0,
                };
                if handoff.items.try_send(item).is_err() {
                    handoff.behind.store(true, Ordering::Release);
                    handoff.wake.notify_one();
                }
                metrics::counter!("telbot_updates_received_total").increment(1);
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
