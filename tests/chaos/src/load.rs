//! The load: `/ping <chat>-<n>` messages injected into the sim (Telegram then delivers them
//! to the webhook) at a steady rate over many chats, plus duplicate deliveries: a share of the
//! updates the bot already acknowledged is POSTed to its `/webhook` again with the secret
//! header, as a Telegram redelivery would. The [`Ledger`] records what was sent, per chat in
//! order.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use telegram_sim::{Sim, Upd};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// One injected update.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Its update_id.
    pub update_id: i64,
    /// Its chat.
    pub chat: i64,
    /// Its number in the chat (0, 1, 2, …).
    pub n: u64,
    /// When it was injected.
    pub at: Instant,
}

/// What the load sent.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// Every injected update, in injection order.
    pub sent: Vec<Sent>,
    /// Duplicate deliveries POSTed.
    pub dup_posts: u64,
    /// Updates a duplicate POST got 200 for (the bot acknowledged them).
    pub dup_acked: HashSet<i64>,
}

/// What the load does.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Chat ids to talk in.
    pub chats: Vec<i64>,
    /// Updates per second over all chats.
    pub rate: u32,
    /// Percent of updates followed by a duplicate delivery of an acknowledged one.
    pub dup_percent: u32,
}

impl LoadSpec {
    /// `chats` private chats (ids from 10,000) at `rate` updates/s, 5 % duplicates.
    pub fn new(chats: usize, rate: u32) -> LoadSpec {
        LoadSpec {
            chats: (0..chats as i64).map(|i| 10_000 + i).collect(),
            rate,
            dup_percent: 5,
        }
    }
}

/// Where duplicates go.
#[derive(Debug, Clone)]
pub struct Target {
    /// The bot's own `/webhook` URL.
    pub webhook: String,
    /// The webhook secret.
    pub secret: String,
}

/// A running load; [`Load::stop`] ends it and returns the ledger.
#[derive(Debug)]
pub struct Load {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    ledger: Arc<Mutex<Ledger>>,
    counters: Arc<Mutex<HashMap<i64, u64>>>,
    sim: Sim,
    target: Target,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The text of update `n` in `chat`, and the reply it must get.
pub fn ping_text(chat: i64, n: u64) -> String {
    format!("/ping {chat}-{n}")
}

/// The update JSON a redelivery carries.
/// Positive chats are private (the sender is the chat), negative ones groups whose sender is
/// user 1000, as telegram-sim builds them.
fn update_json(id: i64, chat: i64, n: u64) -> String {
    let (chat_obj, from) = if chat > 0 {
        (
            serde_json::json!({ "id": chat, "type": "private", "first_name": "Load" }),
            chat,
        )
    } else {
        (
            serde_json::json!({ "id": chat, "type": "supergroup", "title": "Load" }),
            1000,
        )
    };
    serde_json::json!({
        "update_id": id,
        "message": {
            "message_id": 1,
            "date": telbot_shared::unix_now(),
            "chat": chat_obj,
            "from": { "id": from, "is_bot": false, "first_name": "Load" },
            "text": ping_text(chat, n),
            "entities": [{ "offset": 0, "length": 5, "type": "bot_command" }],
        }
    })
    .to_string()
}

fn next_n(counters: &Mutex<HashMap<i64, u64>>, chat: i64) -> u64 {
    let mut c = lock(counters);
    let v = c.entry(chat).or_insert(0);
    let n = *v;
    *v += 1;
    n
}

impl Load {
    /// Starts injecting.
    pub fn start(sim: &Sim, target: Target, spec: LoadSpec) -> Load {
        let stop = CancellationToken::new();
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let counters = Arc::new(Mutex::new(HashMap::new()));
        let task = tokio::spawn(run(
            sim.clone(),
            target.clone(),
            spec,
            stop.clone(),
            ledger.clone(),
            counters.clone(),
        ));
        Load {
            stop,
            task,
            ledger,
            counters,
            sim: sim.clone(),
            target,
        }
    }

    /// A copy of the ledger so far.
    pub fn ledger(&self) -> Ledger {
        lock(&self.ledger).clone()
    }

    /// `count` updates in one chat, injected as fast as the sim takes them; with `direct`,
    /// each is also POSTed to the bot's webhook in order (one connection, one at a time, as a
    /// busy group's updates reach a bot that answers fast), so they pile up in its inbox.
    pub fn flood(&self, chat: i64, count: u64, direct: bool) -> tokio::task::JoinHandle<()> {
        let sim = self.sim.clone();
        let ledger = self.ledger.clone();
        let counters = self.counters.clone();
        let target = self.target.clone();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(5))
                .build();
            let Ok(client) = client else { return };
            for i in 0..count {
                if stop.is_cancelled() {
                    return;
                }
                let n = next_n(&counters, chat);
                let id = sim.inject(Upd::command(chat, ping_text(chat, n)));
                lock(&ledger).sent.push(Sent {
                    update_id: id,
                    chat,
                    n,
                    at: Instant::now(),
                });
                if direct {
                    let _ = client
                        .post(&target.webhook)
                        .header("content-type", "application/json")
                        .header("X-Telegram-Bot-Api-Secret-Token", &target.secret)
                        .body(update_json(id, chat, n))
                        .send()
                        .await;
                } else if i % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    }

    /// Stops injecting (and flooding); returns the ledger.
    pub async fn stop(self) -> Ledger {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        lock(&self.ledger).clone()
    }
}

async fn run(
    sim: Sim,
    target: Target,
    spec: LoadSpec,
    stop: CancellationToken,
    ledger: Arc<Mutex<Ledger>>,
    counters: Arc<Mutex<HashMap<i64, u64>>>,
) {
    let Ok(client) = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
    else {
        return;
    };
    let dup_slots = Arc::new(Semaphore::new(16));
    let start = Instant::now();
    let mut injected: u64 = 0;
    let mut pending: HashSet<i64> = HashSet::new();
    let mut refreshed = start;
    if spec.chats.is_empty() {
        return;
    }
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
        let now = Instant::now();
        if now.duration_since(refreshed) > Duration::from_millis(200) {
            pending = sim.pending_update_ids().into_iter().collect();
            refreshed = now;
        }
        let due = (now.duration_since(start).as_secs_f64() * f64::from(spec.rate)) as u64;
        while injected < due {
            let (chat, dup) = {
                let mut rng = rand::rng();
                let chat = spec.chats[rng.random_range(0..spec.chats.len())];
                (chat, rng.random_range(0..100) < spec.dup_percent)
            };
            let n = next_n(&counters, chat);
            let id = sim.inject(Upd::command(chat, ping_text(chat, n)));
            injected += 1;
            let pick = {
                let mut l = lock(&ledger);
                l.sent.push(Sent {
                    update_id: id,
                    chat,
                    n,
                    at: now,
                });
                let cutoff = now
                    .checked_sub(Duration::from_millis(300))
                    .map_or(start, |t| t.min(refreshed));
                if dup {
                    pick_acked(&l, &pending, cutoff)
                } else {
                    None
                }
            };
            if let Some(s) = pick
                && let Ok(permit) = dup_slots.clone().try_acquire_owned()
            {
                let client = client.clone();
                let target = target.clone();
                let ledger = ledger.clone();
                tokio::spawn(async move {
                    let r = client
                        .post(&target.webhook)
                        .header("content-type", "application/json")
                        .header("X-Telegram-Bot-Api-Secret-Token", &target.secret)
                        .body(update_json(s.update_id, s.chat, s.n))
                        .send()
                        .await;
                    let mut l = lock(&ledger);
                    l.dup_posts += 1;
                    if r.is_ok_and(|r| r.status().is_success()) {
                        l.dup_acked.insert(s.update_id);
                    }
                    drop(permit);
                });
            }
        }
    }
}

/// A random update injected before `cutoff` (older than 300 ms and than the `pending`
/// snapshot) that the sim no longer holds: acknowledged.
fn pick_acked(l: &Ledger, pending: &HashSet<i64>, cutoff: Instant) -> Option<Sent> {
    let old = l.sent.partition_point(|s| s.at < cutoff);
    if old == 0 {
        return None;
    }
    let mut rng = rand::rng();
    for _ in 0..4 {
        let s = &l.sent[rng.random_range(0..old)];
        if !pending.contains(&s.update_id) {
            return Some(s.clone());
        }
    }
    None
}
