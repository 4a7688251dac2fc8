//! Webhook registration, the polling fallback and its way back, and Telegram's 429s.

use crate::common;

use std::time::Duration;

use common::*;
use telegram_sim::{ApiFault, Upd};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_webhook_failing_three_times_falls_back_to_polling_then_restores_it() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    sim.fail_method("setWebhook", ApiFault::Status500, 3);
    let bot = start_bot(
        &sim,
        &db,
        &[
            ("TELBOT__POLLING__TIMEOUT", "1s"),
            ("TELBOT__WEBHOOK__RESTORE_INTERVAL", "3s"),
        ],
    )
    .await;
    // Three attempts, then polling.
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| !s
            .calls_to("getUpdates")
            .is_empty())
            .await
    );
    assert_eq!(sim.calls_to("setWebhook").len(), 3);
    let h = health(&bot).await;
    assert_eq!(h["mode"], "polling");
    assert_eq!(h["status"], "degraded");
    sim.inject(Upd::command(11, "/start"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 1)
            .await,
        "answered while polling"
    );
    // The sim has recovered: the background retry sets the webhook again.
    assert!(
        sim.wait_for(Duration::from_secs(15), |s| !s.webhook_info()["url"]
            .as_str()
            .unwrap_or("")
            .is_empty())
            .await
    );
    assert!(
        wait_until(Duration::from_secs(5), || bot.state.mode()
            == bot_server::Mode::Webhook)
        .await
    );
    let set = sim.calls_to("setWebhook");
    let last = set.last().unwrap();
    assert_eq!(last.params["url"], bot.url("/webhook"));
    assert_eq!(last.params["secret_token"], SECRET);
    assert_eq!(last.params["max_connections"], 40);
    sim.inject(Upd::command(12, "/start"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 2)
            .await,
        "answered via the webhook"
    );
    assert!(
        sim.deliveries().iter().any(|d| d.status == Some(200)),
        "delivered by webhook"
    );
    assert_eq!(health(&bot).await["mode"], "webhook");
    bot.stop().await;
}

#[tokio::test]
async fn set_webhook_is_sent_at_every_start_even_when_unchanged() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    for round in 1..=2 {
        let bot = start_bot(&sim, &db, &[]).await;
        assert!(
            sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
                == round)
                .await
        );
        let p = &sim.calls_to("setWebhook")[round - 1].params;
        assert_eq!(p["secret_token"], SECRET);
        assert!(p["allowed_updates"].is_array(), "{p}");
        bot.stop().await;
    }
}

#[tokio::test]
async fn polling_mode_confirms_offsets_only_after_storing() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(
        &sim,
        &db,
        &[("BOT_MODE", "polling"), ("TELBOT__POLLING__TIMEOUT", "1s")],
    )
    .await;
    for chat in 0..30 {
        sim.inject(Upd::command(100 + chat, "/start"));
    }
    assert!(
        sim.wait_for(Duration::from_secs(20), |s| s.sent_messages().len() == 30)
            .await
    );
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.pending_update_count() == 0)
            .await
    );
    assert!(sim.calls_to("setWebhook").is_empty());
    assert_eq!(health(&bot).await["mode"], "polling");
    bot.stop().await;
}

#[tokio::test]
async fn a_429_on_send_message_is_waited_out() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    sim.fail_method(
        "sendMessage",
        ApiFault::TooManyRequests { retry_after: 1 },
        1,
    );
    sim.inject(Upd::command(21, "/start"));
    assert!(
        sim.wait_for(Duration::from_secs(15), |s| s.sent_messages().len() == 1)
            .await
    );
    let calls = sim.calls_to("sendMessage");
    assert_eq!(calls.len(), 2, "one 429, then one success");
    let waited = calls[1].at.duration_since(calls[0].at).unwrap();
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}, before retry_after"
    );
    assert_eq!(health(&bot).await["updates"]["failed"], 0);
    bot.stop().await;
}

#[tokio::test]
async fn a_handler_failing_with_5xx_is_retried_not_parked_and_its_chat_waits_for_it() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[("TELBOT__TELEGRAM__MAX_ATTEMPTS", "1")]).await;
    // sendMessage answers 500 to the first update's first 3 attempts: a transient failure,
    // retried past inbox.max_attempts (parking is for permanent failures, see tests/it/faults.rs).
    sim.fail_method("sendMessage", ApiFault::Status500, 3);
    let first = sim.inject(Upd::command(31, "/start"));
    sim.inject(Upd::command(31, "/help"));
    assert!(
        sim.wait_for(Duration::from_secs(15), |s| s.sent_messages().len() == 2)
            .await
    );
    let texts: Vec<String> = sim.sent_messages().into_iter().map(|m| m.text).collect();
    assert!(texts[0].starts_with("Hello"), "in order: {texts:?}");
    let row = wait_status(bot.state.db(), first, 1).await;
    assert_eq!(row, Some((1, 4)), "done on the 4th attempt");
    let h = health(&bot).await;
    assert_eq!(h["updates"]["failed"], 3);
    assert_eq!(h["updates"]["parked"], 0);
    bot.stop().await;
}

/// SQLite serves one bot-server: a second one on the same file would run every update again
/// (each follows the file in memory). It is refused with a line that says why, and the file
/// is free again as soon as the first one stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_bot_server_on_one_sqlite_file_is_refused() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let first = start_bot(&sim, &db, &[]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let cfg = bot_server::BotConfig::load(None, &env(&sim, &db, port)).unwrap();
    let err = match bot_server::App::build_on(cfg, telbot_reference_bot::tree(), listener).await {
        Ok(_) => panic!("a second bot-server started on the same SQLite file"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("another bot-server is already running on the SQLite file")
            && err.contains("PostgreSQL"),
        "{err}"
    );
    first.stop().await;
    let again = start_bot(&sim, &db, &[]).await;
    again.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_starting_while_failed_over_leaves_the_webhook_with_the_backup() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    // A first start registers the bot's URL (and migrates the store).
    let bot = start_bot(&sim, &db, &[]).await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            == 1)
            .await
    );
    // The watchdog failed the webhook over to a backup, and the primary restarts.
    let backup = "https://backup.example/webhook";
    let rec = telbot_shared::failover::FailedOver {
        url: backup.into(),
        since: telbot_shared::unix_now(),
        primary_ok_since: None,
    };
    bot.state
        .db()
        .kv_set(
            telbot_shared::failover::KV_FAILOVER,
            &serde_json::to_string(&rec).unwrap(),
        )
        .await
        .unwrap();
    bot.stop().await;
    sim.set_webhook_url_behind_back(backup);
    let bot = start_bot(&sim, &db, &[("TELBOT__WEBHOOK__RESTORE_INTERVAL", "1s")]).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        sim.calls_to("setWebhook").len(),
        1,
        "the primary took the webhook back from the backup"
    );
    assert_eq!(sim.webhook_info()["url"], backup);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_starting_during_a_recovery_registers_only_after_it() {
    use telbot_shared::lease::{Lease, RECOVERY_LOCK};
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            == 1)
            .await
    );
    // The watchdog's recovery holds the lease (draining with getUpdates) when the bot restarts.
    let lease = Lease::acquire_named(
        bot.state.db(),
        RECOVERY_LOCK,
        "watchdog on elsewhere (pid 1)",
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    bot.stop().await;
    let bot = start_bot(&sim, &db, &[]).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        sim.calls_to("setWebhook").len(),
        1,
        "the bot registered its webhook in the middle of a recovery"
    );
    lease.release().await.unwrap();
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            == 2)
            .await,
        "the bot did not register once the recovery ended"
    );
    bot.stop().await;
}
