//! Another process using the bot's token: it deletes the webhook and polls, as every bot
//! library does at start. bot-server records both signs in the store for the watchdog, takes
//! its webhook back, and the updates the other process took show as gaps in update_id.

use crate::common;

use std::time::Duration;

use common::*;
use telbot_shared::conflict;
use telegram_sim::Upd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_deleting_the_webhook_and_polling_is_recorded_with_what_it_took() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(
        &sim,
        &db,
        &[
            ("TELBOT__POLLING__TIMEOUT", "1s"),
            ("TELBOT__WEBHOOK__RESTORE_INTERVAL", "1s"),
        ],
    )
    .await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            == 1)
            .await
    );
    // A first message reaches the bot: the episode's "before" id is known.
    sim.inject(Upd::text(5, "before"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 1)
            .await
    );
    let api = format!("{}/bot{}", sim.base_url(), sim.token());
    let other = tokio::spawn(async move {
        telbot_testkit::intruder::run(&api, Duration::from_secs(6), Duration::from_secs(1)).await
    });
    for i in 0..40 {
        sim.inject(Upd::text(10 + (i % 4), format!("m{i}")));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let took = other.await.unwrap();
    // The bot takes its webhook back once the other process is gone.
    let want = bot.url("/webhook");
    assert!(
        sim.wait_for(Duration::from_secs(15), |s| s.webhook_info()["url"]
            == want.as_str())
            .await,
        "the webhook was not taken back"
    );
    let rec = conflict::load(bot.state.db())
        .await
        .unwrap()
        .expect("a record");
    assert!(
        rec.foreign_deletes >= 1 && rec.poll_conflicts >= 1,
        "{rec:?}"
    );
    let before = rec.update_id_before.expect("the id before the episode");
    // Every update the other process took is a gap the watchdog can count (some of them may
    // have reached the bot too, when Telegram redelivered an unconfirmed one).
    let (missing, _) = conflict::missing_since(bot.state.db(), before)
        .await
        .unwrap();
    let took_only: Vec<i64> = took.iter().copied().filter(|id| *id > before).collect();
    assert!(
        !took_only.is_empty(),
        "the intruder took nothing: the test proves nothing"
    );
    assert!(
        missing >= 1 && missing <= took_only.len() as u64,
        "missing {missing}, took {took_only:?}"
    );
    bot.stop().await;
}
