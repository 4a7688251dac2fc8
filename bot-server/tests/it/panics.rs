//! No user code can break the guarantee: a handler that panics (`msg.text().unwrap()` on a
//! photo) is a permanent failure with the panic's message, parked after `inbox.max_attempts`,
//! and its chat goes on with its next update; nothing it held (a key, a slot, a permit, a
//! claim) stays taken, on SQLite and on PostgreSQL with two instances, and a panicking
//! handler does not hold a shutdown's grace period.

use std::time::Duration;

use bot_server::bot::HandlerError;
use telegram_sim::Upd;
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;

use crate::common::*;

/// Echoes a message's text; panics, as real bots do, on a message without one.
async fn echo(bot: Bot, msg: Message) -> Result<(), HandlerError> {
    #[allow(clippy::unwrap_used)]
    let text = msg.text().unwrap();
    bot.send_message(msg.chat.id, format!("echo: {text}"))
        .await?;
    Ok(())
}

fn tree() -> UpdateHandler<HandlerError> {
    Update::filter_message().endpoint(echo)
}

/// A message without text, as Telegram POSTs it.
fn location(update_id: i64, chat: i64) -> String {
    serde_json::json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1_700_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "A"},
            "from": {"id": chat, "is_bot": false, "first_name": "A"},
            "location": {"latitude": 52.5, "longitude": 13.4}
        }
    })
    .to_string()
}

fn text(update_id: i64, chat: i64, t: &str) -> String {
    serde_json::json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1_700_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "A"},
            "from": {"id": chat, "is_bot": false, "first_name": "A"},
            "text": t
        }
    })
    .to_string()
}

/// Waits until `/health` says the inbox is empty and nothing is loaded or running.
async fn settled(bot: &RunningBot, within: Duration) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let h = health(bot).await;
        let u = &h["updates"];
        if (u["inbox_depth"] == 0 && u["running"] == 0 && u["loaded"] == 0)
            || tokio::time::Instant::now() > deadline
        {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_parked_with_its_message_and_its_chat_goes_on() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot_with(&sim, &db, &[("TELBOT__INBOX__MAX_ATTEMPTS", "2")], tree()).await;
    let photo = sim.inject(Upd::location(5, 52.5, 13.4));
    sim.inject(Upd::text(5, "after the panic"));
    sim.inject(Upd::text(6, "another chat"));
    assert!(
        sim.wait_for(Duration::from_secs(15), |s| s.sent_messages().len() >= 2)
            .await,
        "both text messages answered: {:?}",
        sim.sent_messages()
    );
    let mut texts: Vec<(i64, String)> = sim
        .sent_messages()
        .into_iter()
        .map(|m| (m.chat_id, m.text))
        .collect();
    texts.sort();
    assert_eq!(
        texts,
        [
            (5, "echo: after the panic".to_string()),
            (6, "echo: another chat".to_string())
        ]
    );
    assert_eq!(
        wait_status(bot.state.db(), photo, 2).await,
        Some((2, 2)),
        "parked after inbox.max_attempts (2) attempts"
    );
    let parked = bot_server::testing::parked::list(bot.state.db())
        .await
        .unwrap();
    let cause = parked[0].last_error.clone().unwrap_or_default();
    assert!(cause.contains("the handler panicked"), "{cause}");
    assert!(cause.contains("on a `None` value"), "{cause}");
    assert!(cause.contains("panics.rs:"), "where it panicked: {cause}");
    let h = settled(&bot, Duration::from_secs(5)).await;
    assert_eq!(h["updates"]["parked"], 1, "{h}");
    assert_eq!(h["updates"]["running"], 0, "{h}");
    assert_eq!(h["updates"]["loaded"], 0, "{h}");
    bot.stop().await;
}

/// 10,000 panics in a row, then every normal update is still answered and nothing stays
/// loaded or running.
async fn ten_thousand_panics_leak_nothing(bots: &[RunningBot], sim: &telegram_sim::Sim) {
    let n: i64 = 10_000;
    use futures::StreamExt;
    let client = reqwest::Client::new();
    let posts = futures::stream::iter(0..n).map(|i| {
        let client = client.clone();
        let url = bots[i as usize % bots.len()].url("/webhook");
        async move {
            client
                .post(url)
                .header("content-type", "application/json")
                .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
                .body(location(1_000 + i, 100 + i % 50))
                .send()
                .await
                .map(|r| r.status())
        }
    });
    let statuses: Vec<_> = posts.buffer_unordered(32).collect().await;
    assert!(
        statuses
            .iter()
            .all(|s| s.as_ref().is_ok_and(|s| s.is_success())),
        "every panicking update was acknowledged"
    );
    for (i, chat) in (100..150).enumerate() {
        let b = &bots[i % bots.len()];
        let status = post_update(
            b,
            &text(100_000 + i as i64, chat, "still here"),
            Some(SECRET),
        )
        .await;
        assert!(status.is_success());
    }
    assert!(
        sim.wait_for(Duration::from_secs(120), |s| s.sent_messages().len() >= 50)
            .await,
        "every normal update answered after the panics: {} of 50",
        sim.sent_messages().len()
    );
    let mut chats: Vec<i64> = sim.sent_messages().iter().map(|m| m.chat_id).collect();
    chats.sort();
    assert_eq!(chats, (100..150).collect::<Vec<_>>(), "each chat once");
    let mut parked = 0;
    for b in bots {
        let h = settled(b, Duration::from_secs(30)).await;
        assert_eq!(h["updates"]["running"], 0, "{h}");
        assert_eq!(h["updates"]["loaded"], 0, "{h}");
        assert_eq!(h["updates"]["inbox_depth"], 0, "{h}");
        // Each instance counts the rows it parked (both started with none).
        parked += h["updates"]["parked"].as_u64().unwrap_or(0);
    }
    assert_eq!(parked, n as u64, "every panicking update parked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_panics_on_sqlite() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot_with(&sim, &db, &[("TELBOT__INBOX__MAX_ATTEMPTS", "1")], tree()).await;
    ten_thousand_panics_leak_nothing(std::slice::from_ref(&bot), &sim).await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_panics_on_postgres_with_two_instances() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Postgres);
    let extra = [("TELBOT__INBOX__MAX_ATTEMPTS", "1")];
    let a = start_bot_with(&sim, &db, &extra, tree()).await;
    let b = start_bot_with(&sim, &db, &extra, tree()).await;
    let bots = [a, b];
    ten_thousand_panics_leak_nothing(&bots, &sim).await;
    let [a, b] = bots;
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_does_not_hold_the_grace_period() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    // Many attempts with a long back-off: the update is between retries when the stop comes.
    let bot = start_bot_with(
        &sim,
        &db,
        &[
            ("TELBOT__INBOX__MAX_ATTEMPTS", "100"),
            ("TELBOT__INBOX__RETRY_DELAY", "5s"),
            ("TELBOT__INBOX__RETRY_MAX_DELAY", "5s"),
            ("TELBOT__SERVER__GRACE_PERIOD", "30s"),
        ],
        tree(),
    )
    .await;
    let photo = sim.inject(Upd::location(7, 1.0, 2.0));
    assert!(
        wait_until(Duration::from_secs(10), || {
            bot.state.counters().snapshot().failed >= 1
        })
        .await,
        "the handler panicked once"
    );
    let started = std::time::Instant::now();
    bot.stop().await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "the stop waited {took:?} of a 30 s grace period"
    );
    // Left pending with its attempt, for the next start.
    let row = bot_server::testing::sql::status_of(&db_handle(&db).await, photo)
        .await
        .unwrap();
    assert_eq!(row.map(|r| r.0), Some(0), "still pending");
}

/// A connection of the test's own to its (SQLite) store.
async fn db_handle(db: &TestDb) -> telbot_shared::store::Db {
    let cfg = telbot_shared::config::StoreConfig {
        url: db.url.clone().into(),
        backup_dir: std::path::PathBuf::new(),
        backup_keep: 1,
        backup_max_age: std::time::Duration::from_secs(3600),
        migrate_url: None,
        read_url: None,
        backend: telbot_shared::config::Backend::Sqlite,
        data_dir: db.dir.path().to_path_buf(),
        max_connections: 2,
        acquire_timeout: Duration::from_secs(5),
        sqlite_synchronous: "full".into(),
    };
    telbot_shared::store::connect(&cfg).await.unwrap()
}
