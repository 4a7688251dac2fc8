//! The worker pool. Stored updates are taken in arrival order (`seq`) — handed over by the
//! writer when there is room, read back from the store when there was not, and on start —
//! and run one at a time per queue key, different keys in parallel, at most `workers` at once.
//!
//! A contiguous `seq` cursor makes the two sources safe together: a handed-over row is taken
//! only if it is the next one; any gap means "read the store from the cursor", so no row is
//! skipped and one key's updates never overtake each other. A row is *taken* from the moment
//! it is loaded until its final state is committed; a taken row is never loaded again, so a
//! read of rows at or below the cursor (after a commit whose outcome was unknown, or a replay
//! of parked rows) cannot run anything twice.
//!
//! One key holds at most `max_loaded_per_key` rows in memory: past that the key is *spilled*
//! — the cursor moves on, its later rows stay on disk — and once its queue is half empty its
//! backlog up to the cursor is read back in order with one indexed query per refill. A
//! 3,000-message flood in one group then takes a handful of slots, not all of them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;

use super::job::{self, JobCtx, Pool};
use super::{Counters, Item, sql};

/// Rows one read of the store returns at most.
const READ_MAX: usize = 1000;
/// Pause after a failed read of the store.
const READ_RETRY: Duration = Duration::from_millis(500);

/// The worker pool of one instance alone on its store (SQLite).
pub(crate) struct CursorPool {
    pub pool: Pool,
}

#[derive(Default)]
struct State {
    /// Loaded and waiting, per key.
    queues: HashMap<Arc<str>, VecDeque<Item>>,
    /// Keys with a handler running.
    busy: HashSet<Arc<str>>,
    /// Loaded rows (waiting or running) per key.
    per_key: HashMap<Arc<str>, usize>,
    /// Seqs loaded and not yet recorded as finished.
    taken: HashSet<i64>,
    /// Keys with pending rows on disk after this seq (and at most `cursor`) not loaded yet.
    spilled: HashMap<Arc<str>, i64>,
    /// Spilled keys whose backlog should be read now.
    refill: VecDeque<Arc<str>>,
    refill_queued: HashSet<Arc<str>>,
    loaded: usize,
    cursor: i64,
    /// Reading rows at or below the cursor, after this seq.
    rescan: Option<i64>,
    inflight: usize,
}

impl State {
    fn of_key(&self, key: &str) -> usize {
        self.per_key.get(key).copied().unwrap_or(0)
    }
}

type Done = mpsc::Sender<(Arc<str>, i64)>;

impl CursorPool {
    /// Runs until `stop` is cancelled and in-flight handlers are done.
    pub(crate) async fn run(mut self) {
        let (done_tx, mut done_rx) = mpsc::channel::<(Arc<str>, i64)>(self.pool.cfg.max_loaded + 1);
        let ctx = self.pool.job_ctx();
        let mut st = State::default();
        self.pool.wakeup.behind.store(true, Ordering::Release); // replay whatever the last run left
        let mut safety = tokio::time::interval(Duration::from_secs(2));
        safety.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let stopping = self.pool.stop.is_cancelled();
            if stopping && st.inflight == 0 {
                break;
            }
            if !stopping {
                self.refill(&mut st, &ctx, &done_tx).await;
                let floor = self.pool.wakeup.floor.swap(i64::MAX, Ordering::AcqRel);
                if floor < st.cursor {
                    st.rescan = Some(st.rescan.map_or(floor, |r| r.min(floor)));
                }
                if st.loaded < self.pool.cfg.max_loaded
                    && self.pool.wakeup.behind.swap(false, Ordering::AcqRel)
                {
                    self.scan(&mut st, &ctx, &done_tx).await;
                }
            }
            let room = !stopping && st.loaded < self.pool.cfg.max_loaded;
            tokio::select! {
                biased;
                Some((key, seq)) = done_rx.recv() => self.finished(&mut st, key, seq, &ctx, &done_tx),
                item = self.pool.rx.recv(), if room => match item {
                    Some(item) if item.seq == st.cursor + 1 => self.offer(&mut st, item, &ctx, &done_tx),
                    Some(item) if item.seq > st.cursor => self.pool.wakeup.behind.store(true, Ordering::Release),
                    Some(_) => {} // already read from the store
                    None => self.pool.stop.cancel(),
                },
                _ = self.pool.wakeup.wake.notified(), if room => {}
                _ = safety.tick(), if room => {
                    // A row missed by both paths (e.g. a failed hand-over racing a scan) is found
                    // here; with spilled keys this is a cheap read that finds nothing new.
                    if self.pool.counters.depth.load(Ordering::Relaxed) as usize > st.loaded {
                        self.pool.wakeup.behind.store(true, Ordering::Release);
                    }
                }
                _ = self.pool.stop.cancelled(), if !stopping => {}
            }
        }
        tracing::info!("inbox workers stopped");
    }

    /// Reads pending rows after the cursor (or, while rescanning, after the rescan point).
    async fn scan(&self, st: &mut State, ctx: &JobCtx, done: &Done) {
        let limit = self
            .pool
            .cfg
            .max_loaded
            .saturating_sub(st.loaded)
            .min(READ_MAX);
        let from = st.rescan.unwrap_or(st.cursor);
        match sql::pending_after(&self.pool.db, from, limit).await {
            Ok(items) => {
                let full = items.len() == limit;
                let last = items.last().map(|i| i.seq);
                for item in items {
                    self.offer(st, item, ctx, done);
                }
                st.rescan = match (st.rescan, last) {
                    (Some(_), Some(last)) if full && last < st.cursor => Some(last),
                    _ => None,
                };
                if full {
                    self.pool.wakeup.behind.store(true, Ordering::Release);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the inbox; retrying");
                self.pool.wakeup.behind.store(true, Ordering::Release);
                tokio::time::sleep(READ_RETRY).await;
            }
        }
    }

    /// A row in arrival order: loaded, or left on disk for its key's backlog read.
    fn offer(&self, st: &mut State, item: Item, ctx: &JobCtx, done: &Done) {
        st.cursor = st.cursor.max(item.seq);
        if st.taken.contains(&item.seq) {
            return;
        }
        if let Some(&from) = st.spilled.get(&item.key) {
            if item.seq > from {
                return; // on disk; read back in order when the key's queue drains
            }
            // Older than the key's backlog (a late commit, a replayed row): nothing older of
            // this key waits, so it runs now.
        } else if st.of_key(&item.key) >= self.pool.cfg.max_loaded_per_key {
            st.spilled.insert(item.key.clone(), item.seq - 1);
            return;
        }
        self.load(st, item, ctx, done);
    }

    fn load(&self, st: &mut State, item: Item, ctx: &JobCtx, done: &Done) {
        st.loaded += 1;
        Counters::add(&self.pool.counters.loaded, 1);
        st.taken.insert(item.seq);
        let key = item.key.clone();
        *st.per_key.entry(key.clone()).or_default() += 1;
        st.queues.entry(key.clone()).or_default().push_back(item);
        if !st.busy.contains(&key) {
            self.start_next(st, key, ctx, done);
        }
    }

    fn finished(&self, st: &mut State, key: Arc<str>, seq: i64, ctx: &JobCtx, done: &Done) {
        st.inflight -= 1;
        st.loaded -= 1;
        Counters::sub(&self.pool.counters.running, 1);
        Counters::sub(&self.pool.counters.loaded, 1);
        st.taken.remove(&seq);
        st.busy.remove(&key);
        match st.per_key.get_mut(&key) {
            Some(n) if *n > 1 => *n -= 1,
            _ => {
                st.per_key.remove(&key);
            }
        }
        if st.spilled.contains_key(&key)
            && st.of_key(&key) <= self.pool.cfg.max_loaded_per_key / 2
            && st.refill_queued.insert(key.clone())
        {
            st.refill.push_back(key.clone());
        }
        self.start_next(st, key, ctx, done);
    }

    /// Reads the backlog of spilled keys whose queues drained, in order, up to the cursor.
    async fn refill(&self, st: &mut State, ctx: &JobCtx, done: &Done) {
        let cap = self.pool.cfg.max_loaded_per_key;
        for _ in 0..st.refill.len() {
            let room = self.pool.cfg.max_loaded.saturating_sub(st.loaded);
            if room == 0 {
                return;
            }
            let Some(key) = st.refill.pop_front() else {
                return;
            };
            let Some(&from) = st.spilled.get(&key) else {
                st.refill_queued.remove(&key);
                continue;
            };
            let limit = cap.saturating_sub(st.of_key(&key)).min(room).min(READ_MAX);
            if limit == 0 {
                // Still full: a completion queues it again.
                st.refill_queued.remove(&key);
                continue;
            }
            match sql::pending_of_key(&self.pool.db, &key, from, st.cursor, limit).await {
                Ok(items) => {
                    let full = items.len() == limit;
                    let last = items.last().map(|i| i.seq);
                    for item in items {
                        if !st.taken.contains(&item.seq) {
                            self.load(st, item, ctx, done);
                        }
                    }
                    st.refill_queued.remove(&key);
                    match last {
                        Some(last) if full => {
                            st.spilled.insert(key.clone(), last);
                            if st.of_key(&key) <= cap / 2 && st.refill_queued.insert(key.clone()) {
                                st.refill.push_back(key);
                            }
                        }
                        _ => {
                            st.spilled.remove(&key);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read a chat's backlog from the inbox; retrying");
                    st.refill.push_back(key);
                    tokio::time::sleep(READ_RETRY).await;
                    return;
                }
            }
        }
    }

    fn start_next(&self, st: &mut State, key: Arc<str>, ctx: &JobCtx, done: &Done) {
        let Some(queue) = st.queues.get_mut(&key) else {
            return;
        };
        let Some(item) = queue.pop_front() else {
            return;
        };
        if queue.is_empty() {
            st.queues.remove(&key);
        }
        st.busy.insert(key.clone());
        st.inflight += 1;
        Counters::add(&self.pool.counters.running, 1);
        let ctx = ctx.clone();
        let done = done.clone();
        ctx.tasks.clone().spawn(async move {
            job::run(&ctx, &item).await;
            let _ = done.send((key, item.seq)).await;
        });
    }
}
