//! Replies in the bot's answers to replayed updates (bot-server's `webhook.reply_in_answer`)
//! go out exactly once, whichever way the drain ends: what was replayed is confirmed at
//! Telegram on every exit, a reply the watchdog ran is recorded in the store as carried (so a
//! webhook redelivery of an update above a refused one is answered empty), and a reply whose
//! call failed leaves its update to Telegram, whose redelivery carries the stored reply.
//! The stand-in bot keeps its replies in the store's inbox exactly as bot-server does.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use common::World;
use telegram_sim::{ApiFault, Upd, WebhookFault};
use watchdog::ActionKind;

/// How many times each echoed text reached the sim (as a request or in a webhook answer).
fn echo_counts(w: &World) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for msg in w.sim.sent_messages() {
        *m.entry(msg.text).or_default() += 1;
    }
    m
}

/// Injects `n` updates over `chats` chats behind a failing webhook; returns their ids.
async fn stuck(w: &World, n: usize, chats: i64) -> Vec<i64> {
    w.sim.break_webhook(WebhookFault::Status(500));
    let ids = (0..n)
        .map(|i| {
            w.sim
                .inject(Upd::text(500 + i as i64 % chats, format!("{i}")))
        })
        .collect();
    w.wait("a delivery error", |s| {
        s.webhook_info()["last_error_message"].as_str().is_some()
    })
    .await;
    ids
}

/// After the recovery: deliveries work again; waits until Telegram has nothing left and the
/// bot took `n` updates.
async fn settle(w: &World, n: usize) {
    w.sim.heal_webhook();
    w.wait("nothing pending", |s| s.pending_update_count() == 0)
        .await;
    assert!(
        telbot_testkit::wait_until(Duration::from_secs(20), || w.bot.order().len() == n).await,
        "the bot took {} of {n}",
        w.bot.order().len()
    );
    // A reply executed late would still show: give the sim's answer runs a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

fn assert_each_once(w: &World, n: usize) {
    let counts = echo_counts(w);
    let twice: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "replies sent more than once: {twice:?}");
    assert_eq!(counts.len(), n, "every update answered: {counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_cut_short_confirms_what_it_replayed_so_no_reply_goes_out_twice() {
    let mut w = World::start().await;
    w.env
        .insert("TELBOT__WATCHDOG__RECOVERY__MAX_BATCHES".into(), "1".into());
    let wd = w.watchdog().await;
    w.bot.keep_replies_in(wd.ctx().store.db().clone());
    let ids = stuck(&w, 150, 3).await;
    let out = wd.recover(false).await;
    let a = &out.report.actions[0];
    assert_eq!(a.kind, ActionKind::LosslessRecovery, "{a:#?}");
    assert_eq!(a.detail.replayed, Some(100), "one batch: {}", a.detail);
    settle(&w, 150).await;
    assert_each_once(&w, 150);
    // Confirmed before the drain gave up: Telegram did not deliver the replayed ones again.
    let again: Vec<_> = ids[..100]
        .iter()
        .filter(|id| w.bot.posts_of(**id) > 1)
        .collect();
    assert!(again.is_empty(), "replayed, then redelivered: {again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_replayed_above_a_refused_update_are_not_answered_again_on_redelivery() {
    let w = World::start().await;
    let wd = w.watchdog().await;
    w.bot.keep_replies_in(wd.ctx().store.db().clone());
    // The first update (chat 500) is refused for the whole replay; the other chat's, all
    // above it, are replayed and their replies run.
    w.sim.break_webhook(WebhookFault::Status(500));
    let first = w.sim.inject(Upd::text(500, "0"));
    w.bot.refuse(first, 3);
    for i in 1..6 {
        w.sim.inject(Upd::text(501, format!("{i}")));
    }
    w.wait("a delivery error", |s| {
        s.webhook_info()["last_error_message"].as_str().is_some()
    })
    .await;
    let out = wd.recover(false).await;
    assert_eq!(
        out.report.actions[0].detail.replayed,
        Some(5),
        "{}",
        out.report.actions[0].detail
    );
    settle(&w, 6).await;
    // Telegram redelivered the five above the refused one; their replies were carried.
    assert_each_once(&w, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_whose_call_fails_during_the_replay_is_carried_by_the_redelivery() {
    let w = World::start().await;
    let wd = w.watchdog().await;
    w.bot.keep_replies_in(wd.ctx().store.db().clone());
    stuck(&w, 3, 1).await;
    // Every attempt of the first reply's call fails (telegram.max_attempts = 3).
    w.sim.fail_method("sendMessage", ApiFault::Status500, 3);
    let out = wd.recover(false).await;
    let d = &out.report.actions[0].detail;
    assert_eq!(
        d.replayed,
        Some(0),
        "the chat stopped at the failed reply: {d}"
    );
    settle(&w, 3).await;
    assert_each_once(&w, 3);
}
