//! Lossless recovery at volume: 10,000 updates pending at Telegram behind a webhook answering
//! 500 are drained (deleteWebhook keeping them, getUpdates), replayed to the bot in per-chat
//! order, answered (one sendMessage each), and the webhook is set again. Prints the time from
//! the start of the check to the last reply, and fails (exit 1) if one update is dropped or
//! unanswered. Not a timed test: run it with `cargo bench -p watchdog --bench drain`
//! (`DRAIN_UPDATES=N` for another volume).
//!
//! The bot is the watchdog suite's stand-in (tests/it/common): it dedups by update_id and
//! answers each new update with one sendMessage through telegram-sim.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/it/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::World;
use telegram_sim::{Upd, WebhookFault};
use watchdog::{ActionKind, ActionResult};

const CHATS: i64 = 1_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("DRAIN_UPDATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let w = World::start().await;
    let wd = w.watchdog().await;
    w.sim.break_webhook(WebhookFault::Status(500));
    for i in 0..n {
        w.sim
            .inject(Upd::text(1_000 + (i as i64 % CHATS), format!("{i}")));
    }
    w.wait("a delivery error", |s| {
        s.webhook_info()["last_error_message"].is_string()
    })
    .await;
    let pending = w.sim.pending_update_count();
    let started = Instant::now();
    let out = wd.check().await;
    let checked = started.elapsed();
    let recovery = out
        .report
        .actions
        .iter()
        .find(|a| a.kind == ActionKind::LosslessRecovery)
        .expect("a lossless recovery");
    assert_eq!(
        recovery.result,
        ActionResult::Succeeded,
        "{}",
        recovery.detail
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while w.sim.sent_messages().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let answered_after = started.elapsed();
    let answered = w.sim.sent_messages().len();
    let dropped = w.sim.dropped_updates().len();
    println!(
        "drain: {pending} pending; check (drain + replay + setWebhook) {:.2} s; \
         all answered after {:.2} s; drained {:?}, replayed {:?}, dropped {:?} (by Telegram: {dropped}); \
         answered {answered} of {n}",
        checked.as_secs_f64(),
        answered_after.as_secs_f64(),
        recovery.detail.drained,
        recovery.detail.replayed,
        recovery.detail.dropped,
    );
    if answered != n || dropped != 0 || recovery.detail.dropped != Some(0) {
        eprintln!("drain: updates lost");
        std::process::exit(1);
    }
}
