//! Running one row: a fresh stack, the load, warm-up, the fault, then the wait until healthy
//! again (bot `/health` ok, the webhook set, the sim holding nothing, every sent update
//! answered), the e-mails, and a final restart of bot-server before the last count (an
//! acknowledged update that only a restart would answer is not lost; one that a restart does
//! not answer is).

use std::time::Duration;

use tokio::time::Instant;

use crate::account::{self, Expect, Tally};
use crate::faults::{self, Ctx};
use crate::load::{Ledger, Load, LoadSpec, Target};
use crate::rows::{FaultKind, Row};
use crate::stack::Stack;
use crate::{ChaosError, Variant};

/// A row's outcome.
#[derive(Debug, Clone)]
pub struct RowResult {
    /// The row.
    pub row: Row,
    /// Its figures.
    pub tally: Tally,
    /// Failed criteria (empty: PASS).
    pub failures: Vec<String>,
    /// The daemons' last log lines, when it failed.
    pub logs: Option<String>,
}

impl RowResult {
    /// Whether every criterion held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

fn spec(row: &Row, v: Variant) -> LoadSpec {
    match row.fault {
        FaultKind::Flood => LoadSpec::new(100, v.rate()),
        _ => LoadSpec::new(v.chats(), v.rate()),
    }
}

/// Runs one row.
pub async fn run_row(row: &Row, v: Variant) -> Result<RowResult, ChaosError> {
    let mut st = Stack::new(v, &row.opts()).await?;
    st.start_bot().await?;
    let expected = st.expected_webhook();
    if !st
        .sim
        .wait_for(Duration::from_secs(20), |s| {
            s.webhook_info()["url"] == expected.as_str()
        })
        .await
    {
        return Err(ChaosError::Setup(format!(
            "bot-server did not register its webhook within 20 s\n{}",
            st.log_tails(20)
        )));
    }
    st.start_watchdog()?;
    let target = Target {
        webhook: format!("{}/webhook", st.bot_url()),
        secret: st.secret(),
    };
    let load = Load::start(&st.sim, target, spec(row, v));
    tokio::time::sleep(v.warmup()).await;
    let mut notes = Vec::new();
    let mut taken = Vec::new();
    let started = Instant::now();
    {
        let mut cx = Ctx {
            st: &mut st,
            load: &load,
            v,
            notes: &mut notes,
            taken: &mut taken,
        };
        faults::inject(row.fault, &mut cx).await?;
    }
    let fault_end = Instant::now();
    let flood_latency = if row.fault == FaultKind::Flood {
        Some(other_chats_latency(&load.ledger(), &st.sim, started))
    } else {
        None
    };
    let mut ledger = load.stop().await;
    let mut held = std::collections::HashSet::new();
    if row.fault == FaultKind::TokenConflict {
        // What the other process took is lost to the bot by design (the page says so); every
        // other update must still be answered.
        if taken.is_empty() {
            notes.push("the other process took no update: the row proves nothing".into());
        }
        eprintln!(
            "   the other process took {} update(s): lost to the bot, left out of the counts",
            taken.len()
        );
        let taken: std::collections::HashSet<i64> = taken.iter().copied().collect();
        held = ledger
            .sent
            .iter()
            .filter(|s| taken.contains(&s.update_id))
            .map(|s| (s.chat, s.n))
            .collect();
        ledger.sent.retain(|s| !taken.contains(&s.update_id));
    }
    let bound = v.heal_bound();
    let healthy_after = wait_healthy(&st, &ledger, fault_end, bound).await;
    settle_mails(&st, row.critical, v).await;
    let mails = st.catcher.mails();
    let (critical, resolved) = account::count_mails(&mails);

    // The final restart: whatever is acknowledged and still unanswered gets its chance.
    st.stop_bot("-TERM").await?;
    st.start_bot().await?;
    wait_quiet(&st, Duration::from_secs(30)).await;
    let mut tally = account::tally_skipping(&ledger, &st.sim, &held);
    tally.critical = critical;
    tally.resolved = resolved;
    tally.healthy_after = healthy_after;
    let expect = Expect {
        critical: row.critical,
        twice_allowed: if row.kill9_window {
            crate::stack::INBOX_WORKERS
        } else {
            0
        },
    };
    let mut failures = account::judge(&tally, &expect, bound.as_secs_f64());
    if failures.iter().any(|f| f.starts_with("e-mails:")) {
        let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
        failures.push(format!("e-mail subjects: {subjects:?}"));
    }
    failures.extend(notes);
    failures.extend(crate::verdicts::row_specific(row, &st, &mails).await);
    if let Some(w) = flood_latency {
        // Judged by work, not by the clock: how many flood answers went out while one of the
        // other chats' updates waited for its own. Served after the flood, it would be most
        // of the 3,000; a third is the line between "held up a while" and "starved".
        let limit = 1_000;
        eprintln!(
            "   flood: other chats waited for {} flood answers (p50) / {} (p99); {:.1} s / {:.1} s",
            w.overtaken_p50, w.overtaken_p99, w.p50, w.p99
        );
        if w.overtaken_p99 > limit {
            failures.push(format!(
                "other chats waited for up to {} flood answers (p99; p50 {}) before their own (limit {limit}); in seconds p99 {:.1}, p50 {:.1}",
                w.overtaken_p99, w.overtaken_p50, w.p99, w.p50
            ));
        }
    }
    let logs = (!failures.is_empty())
        .then(|| format!("logs in {}\n{}", st.dir.path().display(), st.log_tails(15)));
    Ok(RowResult {
        row: *row,
        tally,
        failures,
        logs,
    })
}

/// Bot `/health` ok, the webhook set to the expected URL, nothing pending at Telegram, every
/// update of the ledger answered: seconds after `fault_end`, or `None` past `bound`.
async fn wait_healthy(
    st: &Stack,
    ledger: &Ledger,
    fault_end: Instant,
    bound: Duration,
) -> Option<f64> {
    let expected = st.expected_webhook();
    let deadline = fault_end + bound;
    loop {
        let healthy = st.sim.webhook_info()["url"] == expected.as_str()
            && st.sim.pending_update_count() == 0
            && account::all_answered(ledger, &st.sim)
            && st.health().await.is_some_and(|h| h["status"] == "ok");
        if healthy {
            return Some(fault_end.elapsed().as_secs_f64());
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A critical row: wait (bounded) for the RESOLVED e-mail, then a moment for any extra one.
/// Any row: a quiet window so a late CRITICAL would be seen.
async fn settle_mails(st: &Stack, critical: bool, v: Variant) {
    let quiet = v.secs(30.0);
    if critical {
        let deadline = Instant::now() + v.heal_bound();
        while Instant::now() < deadline {
            let (_, resolved) = account::count_mails(&st.catcher.mails());
            if resolved > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    tokio::time::sleep(quiet).await;
}

/// Until the sim holds nothing and no new message was sent for a second (≤ `bound`).
async fn wait_quiet(st: &Stack, bound: Duration) {
    let deadline = Instant::now() + bound;
    let mut last = usize::MAX;
    let mut stable_since = Instant::now();
    while Instant::now() < deadline {
        let n = st.sim.sent_messages().len();
        if n != last {
            last = n;
            stable_since = Instant::now();
        } else if st.sim.pending_update_count() == 0
            && stable_since.elapsed() > Duration::from_secs(1)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The p99 of inject → first answer, in seconds, of the non-flood chats' updates injected
/// since `since` (unanswered ones count as waiting until now).
fn other_chats_latency(ledger: &Ledger, sim: &telegram_sim::Sim, since: Instant) -> Waits {
    let first_answer = first_answer_times(sim);
    let mut flood_answers: Vec<std::time::SystemTime> = first_answer
        .iter()
        .filter(|((chat, _), _)| *chat == crate::faults::FLOOD_CHAT)
        .map(|(_, at)| *at)
        .collect();
    flood_answers.sort();
    let overtaking = |from: std::time::SystemTime, to: std::time::SystemTime| {
        flood_answers.partition_point(|t| *t < to) - flood_answers.partition_point(|t| *t < from)
    };
    let mut overtaken = Vec::new();
    let now_wall = std::time::SystemTime::now();
    let now = Instant::now();
    let mut all = Vec::new();
    for s in ledger.sent.iter().filter(|s| s.chat > 0 && s.at >= since) {
        let sent_wall = now_wall
            .checked_sub(now.duration_since(s.at))
            .unwrap_or(now_wall);
        let answered = first_answer
            .get(&(s.chat, s.n))
            .copied()
            .unwrap_or(now_wall);
        let w = answered
            .duration_since(sent_wall)
            .map_or(0.0, |d| d.as_secs_f64());
        all.push(w);
        overtaken.push(overtaking(sent_wall, answered) as f64);
    }
    Waits {
        overtaken_p50: percentile(&mut overtaken, 0.50) as usize,
        overtaken_p99: percentile(&mut overtaken, 0.99) as usize,
        p50: percentile(&mut all, 0.50),
        p99: percentile(&mut all, 0.99),
    }
}

/// How long the other chats waited during a flood, in seconds.
#[derive(Debug, Clone, Copy)]
struct Waits {
    /// Flood answers sent while an other chat's update waited (median, p99).
    overtaken_p50: usize,
    overtaken_p99: usize,
    p50: f64,
    p99: f64,
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64) * q) as usize;
    v[i.min(v.len() - 1)]
}

fn first_answer_times(
    sim: &telegram_sim::Sim,
) -> std::collections::HashMap<(i64, u64), std::time::SystemTime> {
    let mut m = std::collections::HashMap::new();
    for c in sim.calls_to("sendMessage") {
        if let Some(key) = c.params["text"].as_str().and_then(account::parse_pong) {
            m.entry(key).or_insert(c.at);
        }
    }
    m
}
