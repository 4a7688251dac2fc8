//! The worker pool. Stored updates are taken in arrival order (`seq`) — handed over by the
//! writer when there is room, read back from the store when there was not, and on start —
//! and run one at a time per queue key, different keys in parallel, at most `workers` at once.
//!
//! A contiguous `seq` cursor makes the two sources safe together: a handed-over row is taken
//! only if it is the next one; any gap means "read the store from the cursor", so no row is
//! skipped or taken twice and one key's updates never overtake each other.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use telbot_shared::store::Db;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::writer::{Finish, Writer};
use super::{Counters, Item, Status, sql};
use crate::config::InboxConfig;

/// How one handler run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Handled.
    Done,
    /// A kind this build cannot parse: counted and skipped.
    Unknown,
    /// The handler failed; it is retried, then parked.
    Failed(String),
}

/// Runs one update. The bot implements it with its teloxide handler tree.
pub trait Process: Send + Sync + 'static {
    /// Handles `item`.
    fn process<'a>(&'a self, item: &'a Item) -> Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;
}

/// Longest a handler may run before the attempt counts as failed.
const HANDLER_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) struct Dispatcher {
    pub db: Db,
    pub writer: Writer,
    pub rx: mpsc::Receiver<Item>,
    pub behind: Arc<AtomicBool>,
    pub wake: Arc<Notify>,
    pub cfg: InboxConfig,
    pub process: Arc<dyn Process>,
    pub counters: Arc<Counters>,
    /// Stop taking new work; in-flight work finishes.
    pub stop: CancellationToken,
}

struct State {
    queues: HashMap<Arc<str>, VecDeque<Item>>,
    busy: HashMap<Arc<str>, ()>,
    loaded: usize,
    cursor: i64,
    inflight: usize,
}

impl Dispatcher {
    /// Runs until `stop` is cancelled and in-flight handlers are done.
    pub async fn run(mut self) {
        let (done_tx, mut done_rx) = mpsc::channel::<Arc<str>>(self.cfg.max_loaded + 1);
        let sem = Arc::new(Semaphore::new(self.cfg.workers));
        let mut st = State {
            queues: HashMap::new(),
            busy: HashMap::new(),
            loaded: 0,
            cursor: 0,
            inflight: 0,
        };
        self.behind.store(true, Ordering::Release); // replay whatever the last run left
        let mut safety = tokio::time::interval(Duration::from_secs(2));
        safety.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let stopping = self.stop.is_cancelled();
            if stopping && st.inflight == 0 {
                break;
            }
            if !stopping
                && st.loaded < self.cfg.max_loaded
                && self.behind.swap(false, Ordering::AcqRel)
            {
                self.scan(&mut st, &sem, &done_tx).await;
            }
            let room = !stopping && st.loaded < self.cfg.max_loaded;
            tokio::select! {
                biased;
                Some(key) = done_rx.recv() => {
                    st.inflight -= 1;
                    st.loaded -= 1;
                    st.busy.remove(&key);
                    self.start_next(&mut st, key, &sem, &done_tx);
                }
                item = self.rx.recv(), if room => match item {
                    Some(item) if item.seq == st.cursor + 1 => self.accept(&mut st, item, &sem, &done_tx),
                    Some(item) if item.seq > st.cursor => self.behind.store(true, Ordering::Release),
                    Some(_) => {} // already read from the store
                    None => self.stop.cancel(),
                },
                _ = self.wake.notified(), if room => {}
                _ = safety.tick(), if room => {
                    // A row missed by both paths (e.g. a failed hand-over racing a scan) is found here.
                    if self.counters.depth.load(Ordering::Relaxed) as usize > st.loaded {
                        self.behind.store(true, Ordering::Release);
                    }
                }
                _ = self.stop.cancelled(), if !stopping => {}
            }
        }
        tracing::info!("inbox workers stopped");
    }

    async fn scan(&self, st: &mut State, sem: &Arc<Semaphore>, done: &mpsc::Sender<Arc<str>>) {
        let limit = (self.cfg.max_loaded - st.loaded).min(1000);
        match sql::pending_after(&self.db, st.cursor, limit).await {
            Ok(items) => {
                if items.len() == limit {
                    self.behind.store(true, Ordering::Release);
                }
                for item in items {
                    self.accept(st, item, sem, done);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the inbox; retrying");
                self.behind.store(true, Ordering::Release);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    fn accept(
        &self,
        st: &mut State,
        item: Item,
        sem: &Arc<Semaphore>,
        done: &mpsc::Sender<Arc<str>>,
    ) {
        st.cursor = st.cursor.max(item.seq);
        st.loaded += 1;
        let key = item.key.clone();
        st.queues.entry(key.clone()).or_default().push_back(item);
        if !st.busy.contains_key(&key) {
            self.start_next(st, key, sem, done);
        }
    }

    fn start_next(
        &self,
        st: &mut State,
        key: Arc<str>,
        sem: &Arc<Semaphore>,
        done: &mpsc::Sender<Arc<str>>,
    ) {
        let Some(queue) = st.queues.get_mut(&key) else {
            return;
        };
        let Some(item) = queue.pop_front() else {
            return;
        };
        if queue.is_empty() {
            st.queues.remove(&key);
        }
        st.busy.insert(key.clone(), ());
        st.inflight += 1;
        let job = Job {
            item,
            sem: sem.clone(),
            process: self.process.clone(),
            writer: self.writer.clone(),
            counters: self.counters.clone(),
            max_attempts: self.cfg.max_attempts,
            retry_delay: self.cfg.retry_delay,
            stop: self.stop.clone(),
        };
        let done = done.clone();
        tokio::spawn(async move {
            job.run().await;
            let _ = done.send(key).await;
        });
    }
}

struct Job {
    item: Item,
    sem: Arc<Semaphore>,
    process: Arc<dyn Process>,
    writer: Writer,
    counters: Arc<Counters>,
    max_attempts: u32,
    retry_delay: Duration,
    stop: CancellationToken,
}

impl Job {
    async fn run(self) {
        let mut attempts = self.item.attempts;
        let started = tokio::time::Instant::now();
        loop {
            attempts += 1;
            // The permit is held until the completion is committed: at any moment at most
            // `workers` updates are between "handler ran" and "recorded as done".
            let Ok(permit) = self.sem.acquire().await else {
                return;
            };
            let outcome =
                match tokio::time::timeout(HANDLER_TIMEOUT, self.process.process(&self.item)).await
                {
                    Ok(o) => o,
                    Err(_) => Outcome::Failed("handler timed out".into()),
                };
            let (status, error) = match outcome {
                Outcome::Done => (Status::Done, None),
                Outcome::Unknown => {
                    Counters::add(&self.counters.unknown, 1);
                    metrics::counter!("telbot_updates_unknown_total").increment(1);
                    (Status::Skipped, None)
                }
                Outcome::Failed(e) => {
                    Counters::add(&self.counters.failed, 1);
                    metrics::counter!("telbot_handler_failures_total").increment(1);
                    if attempts >= self.max_attempts {
                        Counters::add(&self.counters.parked, 1);
                        metrics::counter!("telbot_updates_parked_total").increment(1);
                        tracing::warn!(update_id = self.item.update_id, attempts, error = %e, "handler kept failing; update parked");
                        (Status::Parked, Some(e))
                    } else {
                        drop(permit);
                        tracing::info!(update_id = self.item.update_id, attempts, error = %e, "handler failed; retrying");
                        let delay = self.retry_delay.saturating_mul(1 << (attempts - 1).min(10));
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => continue,
                            _ = self.stop.cancelled() => {
                                // Left pending with its attempts; the next start retries it.
                                self.finish(Status::Pending, attempts, Some(e)).await;
                                return;
                            }
                        }
                    }
                }
            };
            if status != Status::Parked {
                Counters::add(&self.counters.processed, 1);
                metrics::counter!("telbot_updates_processed_total").increment(1);
            }
            metrics::histogram!("telbot_update_processing_seconds")
                .record(started.elapsed().as_secs_f64());
            self.finish(status, attempts, error).await;
            drop(permit);
            return;
        }
    }

    async fn finish(&self, status: Status, attempts: u32, error: Option<String>) {
        if status != Status::Pending {
            Counters::sub(&self.counters.depth, 1);
        }
        self.writer
            .finish(Finish {
                seq: self.item.seq,
                status,
                attempts,
                error,
            })
            .await;
    }
}
