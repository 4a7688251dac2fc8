//! The webhook is never left deleted with nothing reading the queue (issue 10, part 2):
//! a recovery whose final setWebhook fails, a dropped `/webhook/recover` request, the polling
//! fallback meeting a webhook a recovery set, `/webhook/recover` during the fallback, a webhook
//! deleted behind the bot's back, and the one recovery lock shared with the watchdog.

use crate::common;

use std::time::Duration;

use bot_server::Mode;
use common::*;
use serde_json::json;
use telbot_shared::lease;
use telbot_shared::lease::{LEASE_TTL, Lease};
use telbot_shared::recovery;
use telegram_sim::{ApiFault, Sim, Upd};

fn webhook_url(sim: &Sim) -> String {
    sim.webhook_info()["url"].as_str().unwrap_or("").to_string()
}

async fn registered(sim: &Sim, bot: &RunningBot) {
    let want = bot.url("/webhook");
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| webhook_url(s) == want)
            .await,
        "the bot registers its webhook"
    );
}

async fn recover(bot: &RunningBot, timeout: Duration) -> reqwest::Result<reqwest::Response> {
    reqwest::Client::new()
        .post(bot.url("/webhook/recover"))
        .bearer_auth(ADMIN)
        .timeout(timeout)
        .send()
        .await
}

/// Sets the webhook the way a recovery (the watchdog's) does, behind the bot's back.
async fn set_webhook_as_a_recovery(sim: &Sim, bot: &RunningBot) {
    let r = sim
        .call_as_client(
            "setWebhook",
            json!({"url": bot.url("/webhook"), "secret_token": SECRET, "max_connections": 40}),
        )
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "{r}");
}

/// Starts a bot whose setWebhook fails at start, so it is in its polling fallback.
async fn bot_in_fallback(sim: &Sim, db: &TestDb) -> RunningBot {
    sim.fail_method("setWebhook", ApiFault::Status500, 3);
    let bot = start_bot(
        sim,
        db,
        &[
            ("TELBOT__POLLING__TIMEOUT", "1s"),
            // The fallback does not restore the webhook by itself during the test.
            ("TELBOT__WEBHOOK__RESTORE_INTERVAL", "60s"),
        ],
    )
    .await;
    assert!(
        sim.wait_for(Duration::from_secs(15), |s| !s
            .calls_to("getUpdates")
            .is_empty())
            .await,
        "the bot polls"
    );
    assert_eq!(bot.state.mode(), Mode::Polling);
    bot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_whose_final_set_webhook_fails_leaves_the_bot_polling_until_it_is_back() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("TELBOT__POLLING__TIMEOUT", "1s")]).await;
    registered(&sim, &bot).await;
    // The recovery's three setWebhook attempts fail, and the next three rounds of restoring.
    sim.fail_method("setWebhook", ApiFault::Status500, 3 + 9);
    let resp = recover(&bot, Duration::from_secs(60)).await.unwrap();
    assert_eq!(resp.status(), 502);
    let report: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(report["webhook_restored"], false, "{report}");
    assert_eq!(webhook_url(&sim), "");
    // Nothing is left unread: the bot notices and polls.
    sim.inject(Upd::command(41, "/start"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 1)
            .await,
        "answered while the webhook is gone"
    );
    assert!(
        sim.deliveries().is_empty(),
        "answered by polling, not by a webhook"
    );
    // And it keeps trying to restore the webhook until it is back.
    registered(&sim, &bot).await;
    assert!(wait_until(Duration::from_secs(5), || bot.state.mode() == Mode::Webhook).await);
    assert!(
        recovery::load_state(bot.state.db())
            .await
            .unwrap()
            .is_none(),
        "the recovery record is finished with the webhook back"
    );
    sim.inject(Upd::command(42, "/start"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 2)
            .await
    );
    assert!(sim.deliveries().iter().any(|d| d.status == Some(200)));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_recover_request_does_not_stop_the_recovery_half_way() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    registered(&sim, &bot).await;
    // The drain's first getUpdates takes 3 s; the caller gives up after 300 ms.
    sim.fail_method("getUpdates", ApiFault::Slow(Duration::from_secs(3)), 1);
    let r = recover(&bot, Duration::from_millis(300)).await;
    assert!(r.is_err(), "the client timed out: {r:?}");
    // The phase is in the store while it runs ...
    let mut st = None;
    for _ in 0..100 {
        st = recovery::load_state(bot.state.db()).await.unwrap();
        if st
            .as_ref()
            .is_some_and(|s| s.phase == recovery::Phase::Draining)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let st = st.expect("a phase in the store");
    assert_eq!(
        (st.phase.as_str(), st.by.as_str()),
        ("draining", "bot-server")
    );
    assert_eq!(webhook_url(&sim), "", "deleted, draining");
    // ... and it finishes without the request: the webhook is set again, the phase cleared.
    registered(&sim, &bot).await;
    // The task clears the phase, then releases the lock: wait for both (the release lands a
    // moment after the phase is cleared).
    let (mut cleared, mut released) = (false, false);
    for _ in 0..100 {
        cleared = recovery::load_state(bot.state.db())
            .await
            .unwrap()
            .is_none();
        released = lease::holder(bot.state.db()).await.unwrap().is_none();
        if cleared && released {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cleared, "the phase is cleared once the webhook is set");
    assert!(released, "lock released");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_polling_fallback_does_not_delete_a_webhook_a_recovery_set() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = bot_in_fallback(&sim, &db).await;
    set_webhook_as_a_recovery(&sim, &bot).await;
    // The poller hears "webhook is active": it stops, and the bot is in webhook mode again.
    assert!(
        wait_until(Duration::from_secs(10), || bot.state.mode()
            == Mode::Webhook)
        .await,
        "back in webhook mode"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        sim.calls_to("deleteWebhook").is_empty(),
        "nobody deleted it"
    );
    assert_eq!(webhook_url(&sim), bot.url("/webhook"));
    sim.inject(Upd::command(51, "/start"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 1)
            .await
    );
    assert!(sim.deliveries().iter().any(|d| d.status == Some(200)));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_during_the_polling_fallback_leaves_the_webhook_set() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = bot_in_fallback(&sim, &db).await;
    let resp = recover(&bot, Duration::from_secs(60)).await.unwrap();
    let status = resp.status();
    let report: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{report}");
    assert!(
        wait_until(Duration::from_secs(10), || bot.state.mode()
            == Mode::Webhook)
        .await
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(webhook_url(&sim), bot.url("/webhook"), "still set");
    assert_eq!(
        sim.calls_to("deleteWebhook").len(),
        1,
        "only the recovery's own"
    );
    sim.inject(Upd::command(61, "/start"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 1)
            .await
    );
    assert!(sim.deliveries().iter().any(|d| d.status == Some(200)));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_deleted_behind_the_bots_back_is_noticed_and_the_queue_polled() {
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
    registered(&sim, &bot).await;
    // Restoring fails for a while, so the polling is what answers.
    sim.fail_method("setWebhook", ApiFault::Status500, 9);
    sim.set_webhook_url_behind_back("");
    for i in 0..5 {
        sim.inject(Upd::command(70 + i, "/start"));
    }
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 5)
            .await,
        "answered by polling"
    );
    assert!(sim.deliveries().is_empty());
    assert!(sim.calls_to("deleteWebhook").is_empty());
    registered(&sim, &bot).await;
    assert!(wait_until(Duration::from_secs(5), || bot.state.mode() == Mode::Webhook).await);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_recovery_at_a_time_and_the_queue_is_left_to_the_lock_holder() {
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
    registered(&sim, &bot).await;
    // The watchdog holds the lock (and has deleted the webhook to drain).
    let lease = Lease::acquire(bot.state.db(), "watchdog on ops-1 (pid 77)", LEASE_TTL)
        .await
        .unwrap();
    let resp = recover(&bot, Duration::from_secs(10)).await.unwrap();
    assert_eq!(resp.status(), 409);
    let body = resp.text().await.unwrap();
    assert!(
        body.contains("a recovery is already running (owner watchdog on ops-1 (pid 77))"),
        "{body}"
    );
    assert!(
        sim.calls_to("deleteWebhook").is_empty(),
        "the loser changed nothing"
    );
    sim.set_webhook_url_behind_back("");
    let set_before = sim.calls_to("setWebhook").len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        sim.calls_to("getUpdates").is_empty(),
        "no polling into the holder's drain"
    );
    assert_eq!(
        sim.calls_to("setWebhook").len(),
        set_before,
        "no setWebhook either"
    );
    // The holder is gone without setting it again: the bot takes over.
    lease.release().await.unwrap();
    sim.inject(Upd::command(81, "/start"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 1)
            .await
    );
    registered(&sim, &bot).await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_during_a_recovery_sets_the_webhook_again_before_exiting() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    registered(&sim, &bot).await;
    sim.fail_method("getUpdates", ApiFault::Slow(Duration::from_secs(2)), 1);
    // The caller is gone (nothing holds the shutdown back but the recovery itself).
    assert!(recover(&bot, Duration::from_millis(300)).await.is_err());
    assert_eq!(sim.calls_to("deleteWebhook").len(), 1);
    let want = bot.url("/webhook");
    let store = bot.state.db().clone();
    let exit = bot.stop().await;
    assert_eq!(exit, bot_server::Exit::Shutdown);
    assert_eq!(webhook_url(&sim), want, "set again before the bot exited");
    assert!(
        recovery::load_state(&store).await.unwrap().is_none(),
        "the phase is cleared"
    );
}
