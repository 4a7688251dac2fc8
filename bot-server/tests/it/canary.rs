//! The watchdog's canary (issue 27 part 1) through a real bot-server: a synthetic update
//! signed with the webhook secret goes webhook → inbox → a worker → done, never reaches the
//! user's handlers or Telegram, counts in none of the bot's figures, is pruned like any done
//! update and is refused without the secret; a saturated worker pool, a store that takes no
//! writes and a bot that is gone are each told apart.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bot_server::bot::HandlerError;
use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use tokio::sync::Semaphore;
use watchdog::Watchdog;
use watchdog::canary;
use watchdog::{Finding, Level};

use crate::common::*;
use crate::wd::watchdog_on;

/// A handler that counts its calls and, on "hold", waits for a permit of `gate`.
fn tree(calls: Arc<AtomicUsize>, gate: Arc<Semaphore>) -> UpdateHandler<HandlerError> {
    Update::filter_message().endpoint(move |msg: Message| {
        let (calls, gate) = (calls.clone(), gate.clone());
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            if msg.text() == Some("hold") {
                let _permit = gate.acquire().await;
            }
            Ok::<(), HandlerError>(())
        }
    })
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

async fn canary_of(wd: &Watchdog) -> Finding {
    canary::check(wd.ctx()).await.expect("a canary was sent")
}

fn update_id_of(f: &Finding) -> i64 {
    f.evidence["update_id"].as_i64().unwrap()
}

#[tokio::test]
async fn a_healthy_bot_takes_the_canary_through_its_inbox_and_nowhere_else() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let calls = Arc::new(AtomicUsize::new(0));
    let bot = start_bot_with(
        &sim,
        &db,
        &[("METRICS_PUBLIC", "true")],
        tree(calls.clone(), Arc::new(Semaphore::new(0))),
    )
    .await;
    let wd = watchdog_on(&sim, &db, &bot.url(""), "10s").await;

    let f = canary_of(&wd).await;
    assert_eq!(f.level, Level::Ok, "{}", f.reason);
    assert!(
        f.evidence["stored_ms"].is_u64() && f.evidence["processed_ms"].is_u64(),
        "{}",
        f.evidence
    );
    let id = update_id_of(&f);
    assert!(id < 0);
    // Never the handlers, never Telegram, never the users' figures.
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the canary reached a handler"
    );
    assert!(sim.calls_to("sendMessage").is_empty());
    let h = health_settled(&bot).await;
    assert_eq!(h["updates"]["received"], 0, "{h}");
    assert_eq!(h["updates"]["processed"], 0, "{h}");
    let metrics = reqwest::get(bot.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("telbot_updates_received_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("telbot_canary_processed_total 1"),
        "{metrics}"
    );
    // A user's update still counts.
    assert_eq!(
        post_update(&bot, &text(5, 77, "hi"), Some(SECRET)).await,
        200
    );
    let h = health_settled(&bot).await;
    assert_eq!(
        (
            h["updates"]["received"].as_u64(),
            h["updates"]["processed"].as_u64()
        ),
        (Some(1), Some(1)),
        "{h}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Refused without the secret, like any update.
    let forged = telbot_shared::canary::update(-42, telbot_shared::unix_now());
    assert_eq!(post_update(&bot, &forged, None).await, 401);
    assert_eq!(post_update(&bot, &forged, Some("wrong")).await, 401);

    // Pruned like any done update.
    let store = wd.ctx().store.db();
    assert_eq!(
        telbot_shared::canary::state_of(store, id).await.unwrap(),
        telbot_shared::canary::State::Done
    );
    let user_done = telbot_testkit::wait_until_async(Duration::from_secs(5), || async {
        telbot_shared::canary::state_of(store, 5).await.unwrap()
            == telbot_shared::canary::State::Done
    })
    .await;
    assert!(user_done, "the user's update is finished");
    let removed = bot_server::testing::sql::prune_done(store, telbot_shared::unix_now() + 1)
        .await
        .unwrap();
    assert_eq!(removed, 2, "the canary and the user's update");
    assert_eq!(
        telbot_shared::canary::state_of(store, id).await.unwrap(),
        telbot_shared::canary::State::Absent
    );
    bot.stop().await;
}

#[tokio::test]
async fn a_bot_without_a_secret_refuses_canaries_and_none_is_sent() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let calls = Arc::new(AtomicUsize::new(0));
    let bot = start_bot_with(
        &sim,
        &db,
        &[("WEBHOOK_SECRET", "")],
        tree(calls.clone(), Arc::new(Semaphore::new(0))),
    )
    .await;
    let forged = telbot_shared::canary::update(-43, telbot_shared::unix_now());
    assert_eq!(post_update(&bot, &forged, None).await, 403);
    assert_eq!(
        telbot_shared::canary::state_of(bot.state.db(), -43)
            .await
            .unwrap(),
        telbot_shared::canary::State::Absent
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    bot.stop().await;
}

#[tokio::test]
async fn every_worker_held_by_a_hanging_handler_is_a_critical_canary() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let calls = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let bot = start_bot_with(
        &sim,
        &db,
        &[("TELBOT__INBOX__WORKERS", "2")],
        tree(calls.clone(), gate.clone()),
    )
    .await;
    let wd = watchdog_on(&sim, &db, &bot.url(""), "1s").await;
    for chat in [1, 2] {
        assert_eq!(
            post_update(&bot, &text(chat, chat, "hold"), Some(SECRET)).await,
            200
        );
    }
    let held = telbot_testkit::wait_until_async(Duration::from_secs(10), || async {
        health(&bot).await["updates"]["running"] == 2
    })
    .await;
    assert!(held, "both workers hold a hanging handler");

    let f = canary_of(&wd).await;
    assert_eq!(f.level, Level::Critical, "{}", f.reason);
    assert!(f.reason.contains("not processed within 1s"), "{}", f.reason);
    assert!(f.reason.contains("2 other update(s) wait"), "{}", f.reason);
    let late = update_id_of(&f);

    // The handlers let go: the late canary is finished, and the next one passes.
    gate.add_permits(2);
    let f = canary_of(&wd).await;
    assert_eq!(f.level, Level::Ok, "{}", f.reason);
    let store = wd.ctx().store.db();
    assert_eq!(
        telbot_shared::canary::state_of(store, late).await.unwrap(),
        telbot_shared::canary::State::Done
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "only the users' updates reached the handler"
    );
    bot.stop().await;
}

#[tokio::test]
async fn a_store_that_takes_no_writes_is_a_critical_canary() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let calls = Arc::new(AtomicUsize::new(0));
    let bot = start_bot_with(&sim, &db, &[], tree(calls, Arc::new(Semaphore::new(0)))).await;
    let wd = watchdog_on(&sim, &db, &bot.url(""), "1s").await;
    // Another connection holds SQLite's write lock: the inbox can store nothing.
    let path = db.dir.path().join("telbot.db");
    let mut lock = rusqlite_free_lock(&path).await;
    let f = canary_of(&wd).await;
    assert_eq!(f.level, Level::Critical, "{}", f.reason);
    assert!(f.reason.contains("cannot store updates"), "{}", f.reason);
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    drop(lock);
    let f = canary_of(&wd).await;
    assert_eq!(f.level, Level::Ok, "{}", f.reason);
    bot.stop().await;
}

/// A connection to the SQLite file at `path` that has taken the write lock.
async fn rusqlite_free_lock(path: &std::path::Path) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut c)
        .await
        .unwrap();
    c
}

#[tokio::test]
async fn a_bot_that_is_gone_is_a_warning_left_to_bot_down() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let calls = Arc::new(AtomicUsize::new(0));
    let bot = start_bot_with(&sim, &db, &[], tree(calls, Arc::new(Semaphore::new(0)))).await;
    let url = bot.url("");
    bot.stop().await;
    let wd = watchdog_on(&sim, &db, &url, "1s").await;
    let f = canary_of(&wd).await;
    assert_eq!(f.level, Level::Warning, "{}", f.reason);
    assert!(
        f.reason.contains("could not deliver the canary"),
        "{}",
        f.reason
    );
}
