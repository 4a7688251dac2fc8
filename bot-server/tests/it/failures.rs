//! Handler failures: a Telegram outage is waited out (nothing parked), permanent failures are
//! parked and kept (through the prune and a restart) until replayed or discarded over the admin
//! routes, and a handler past its deadline is retried. On SQLite and PostgreSQL.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bot_server::bot::HandlerError;
use common::*;
use telbot_shared::telegram::TelegramClient;
use telegram_sim::{ApiFault, Sim, Upd};
use teloxide::dispatching::{UpdateFilterExt, UpdateHandler};
use teloxide::dptree;
use teloxide::types::{Message, Update};

const PARKED: i64 = 2;

/// Echoes the text; fails with a handler error of its own (permanent) while `broken` is set.
fn echo_tree(broken: Arc<AtomicBool>) -> UpdateHandler<HandlerError> {
    dptree::entry().branch(Update::filter_message().endpoint(
        move |msg: Message, api: TelegramClient| {
            let broken = broken.clone();
            async move {
                if broken.load(Ordering::SeqCst) {
                    return Err::<(), HandlerError>("the handler is broken".into());
                }
                let text = msg.text().unwrap_or("?").to_string();
                api.send_message(msg.chat.id.0, &text).await?;
                Ok(())
            }
        },
    ))
}

async fn outage_is_waited_out(backend: Backend, fault: ApiFault) {
    let sim = sim().await;
    let db = TestDb::new(backend);
    let bot = start_bot(
        &sim,
        &db,
        &[
            ("TELBOT__TELEGRAM__MAX_ATTEMPTS", "1"),
            ("TELBOT__INBOX__RETRY_MAX_DELAY", "1s"),
        ],
    )
    .await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            == 1)
            .await
    );
    // sendMessage fails until the handlers have retried a while.
    sim.fail_method("sendMessage", fault, 1_000_000);
    for chat in 0..20 {
        sim.inject(Upd::command(700 + chat, "/start"));
    }
    sim.inject(Upd::command(700, "/help"));
    // The outage lasts until the 20 heads have failed 100 times, five each on average: more
    // than inbox.max_attempts (3), which would park them if transient failures counted.
    let failed = || async {
        health(&bot).await["updates"]["failed"]
            .as_u64()
            .unwrap_or(0)
    };
    assert!(
        wait_until_async(Duration::from_secs(30), || async { failed().await >= 100 }).await,
        "{} handler failures during the outage",
        failed().await
    );
    assert_eq!(health(&bot).await["updates"]["parked"], 0);
    let failed_during = failed().await;
    sim.fail_method("sendMessage", fault, 0);
    assert!(
        sim.wait_for(Duration::from_secs(20), |s| s.sent_messages().len() == 21)
            .await,
        "{} of 21 replies after the outage",
        sim.sent_messages().len()
    );
    let h = health_settled(&bot).await;
    assert!(
        failed_during > 20,
        "the outage must have failed handlers: {h}"
    );
    assert_eq!(h["updates"]["parked"], 0, "{h}");
    assert_eq!(h["updates"]["inbox_depth"], 0, "{h}");
    let c700: Vec<String> = sim
        .sent_messages()
        .into_iter()
        .filter(|m| m.chat_id == 700)
        .map(|m| m.text)
        .collect();
    assert!(c700[0].starts_with("Hello"), "in order: {c700:?}");
    let parked = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM inbox WHERE status = 2")
        .fetch_one(&bot.state.db().pool)
        .await
        .unwrap();
    assert_eq!(parked, 0);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_bot_api_outage_is_waited_out_and_nothing_is_parked() {
    outage_is_waited_out(Backend::Sqlite, ApiFault::Status500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_bot_api_outage_is_waited_out_and_nothing_is_parked() {
    outage_is_waited_out(Backend::Postgres, ApiFault::Drop).await;
}

#[tokio::test]
async fn a_400_from_send_message_parks_after_max_attempts_and_the_prune_keeps_it() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let done = sim.inject(Upd::command(801, "/start"));
    // Chat 0 does not exist: "Bad Request: chat not found".
    let bad = sim.inject(Upd::command(0, "/start"));
    assert_eq!(
        wait_status(bot.state.db(), bad, PARKED).await,
        Some((PARKED, 3)),
        "parked after inbox.max_attempts"
    );
    assert_eq!(
        wait_status(bot.state.db(), done, 1).await.map(|r| r.0),
        Some(1)
    );
    // The prune, as if 25 h had passed: the handled row goes, the parked one stays.
    let future = telbot_shared::unix_now() + 100_000;
    let removed = bot_server::testing::sql::prune_done(bot.state.db(), future)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(
        bot_server::testing::sql::status_of(bot.state.db(), bad)
            .await
            .unwrap(),
        Some((PARKED, 3))
    );
    assert_eq!(
        bot_server::testing::sql::status_of(bot.state.db(), done)
            .await
            .unwrap(),
        None
    );
    assert_eq!(health(&bot).await["updates"]["parked"], 1);
    bot.stop().await;
}

async fn admin(
    bot: &RunningBot,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> serde_json::Value {
    let c = reqwest::Client::new();
    let mut r = match method {
        "GET" => c.get(bot.url(path)),
        _ => c.post(bot.url(path)),
    }
    .bearer_auth(ADMIN);
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = r.send().await.unwrap();
    assert_eq!(resp.status(), 200, "{method} {path}");
    resp.json().await.unwrap()
}

async fn parked_rows_are_kept_until_replayed_or_discarded(backend: Backend) {
    let sim = sim().await;
    let db = TestDb::new(backend);
    let broken = Arc::new(AtomicBool::new(true));
    let bot = start_bot_with(&sim, &db, &[], echo_tree(broken.clone())).await;
    let a = sim.inject(Upd::text(901, "first"));
    let b = sim.inject(Upd::text(902, "other"));
    let c = sim.inject(Upd::text(901, "second"));
    for id in [a, b, c] {
        assert_eq!(
            wait_status(bot.state.db(), id, PARKED).await.map(|r| r.0),
            Some(PARKED)
        );
    }
    assert_eq!(health(&bot).await["updates"]["parked"], 3);
    bot.stop().await;

    // A restart still counts them: /health says what is in the store.
    let bot = start_bot_with(&sim, &db, &[], echo_tree(broken.clone())).await;
    assert_eq!(health(&bot).await["updates"]["parked"], 3);
    let list = admin(&bot, "GET", "/admin/parked", None).await;
    let rows = list["parked"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{list}");
    assert_eq!(rows[0]["update_id"], a);
    assert_eq!(rows[0]["kind"], "message");
    assert_eq!(rows[0]["attempts"], 3);
    assert!(rows[0]["last_error"].as_str().unwrap().contains("broken"));
    assert!(rows[0]["received_at"].as_i64().unwrap() > 0);
    // Same guard as the other admin routes.
    let anon = reqwest::Client::new()
        .get(bot.url("/admin/parked"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    let basic_no_csrf = reqwest::Client::new()
        .post(bot.url("/admin/parked/discard"))
        .basic_auth("ops", Some(ADMIN))
        .send()
        .await
        .unwrap();
    assert_eq!(basic_no_csrf.status(), 403);

    // Fixed: replay two of them; they run, in order within their chat.
    broken.store(false, Ordering::SeqCst);
    let body = format!("{{\"update_ids\":[{a},{c}]}}");
    let r = admin(&bot, "POST", "/admin/parked/replay", Some(&body)).await;
    assert_eq!(r["count"], 2);
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() == 2)
            .await
    );
    let texts: Vec<String> = sim.sent_messages().into_iter().map(|m| m.text).collect();
    assert_eq!(texts, vec!["first", "second"]);
    assert_eq!(
        wait_status(bot.state.db(), c, 1).await.map(|r| r.0),
        Some(1)
    );
    // The rest is discarded: gone from the list, never run.
    let r = admin(&bot, "POST", "/admin/parked/discard", None).await;
    assert_eq!(r["count"], 1);
    let list = admin(&bot, "GET", "/admin/parked", None).await;
    assert_eq!(list["parked"].as_array().unwrap().len(), 0);
    assert_eq!(health_settled(&bot).await["updates"]["parked"], 0);
    assert_eq!(
        sim.sent_messages().len(),
        2,
        "a discarded update does not run"
    );
    let r = admin(&bot, "POST", "/admin/parked/replay", None).await;
    assert_eq!(r["count"], 0);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_parked_rows_are_kept_until_replayed_or_discarded() {
    parked_rows_are_kept_until_replayed_or_discarded(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_parked_rows_are_kept_until_replayed_or_discarded() {
    parked_rows_are_kept_until_replayed_or_discarded(Backend::Postgres).await;
}

#[tokio::test]
async fn a_transient_failure_parks_only_once_telegrams_24_hours_have_passed() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    // An update stored 25 h ago by an earlier run, still pending.
    let body = serde_json::json!({"update_id": 5, "message": {"message_id": 1, "date": 1,
        "chat": {"id": 55, "type": "private", "first_name": "A"},
        "from": {"id": 55, "is_bot": false, "first_name": "A"},
        "text": "/start", "entities": [{"offset": 0, "length": 6, "type": "bot_command"}]}});
    store_pending(&sim, &db, &body, 25 * 3600).await;
    sim.fail_method("sendMessage", ApiFault::Status500, 1_000_000);
    let bot = start_bot(&sim, &db, &[("TELBOT__TELEGRAM__MAX_ATTEMPTS", "1")]).await;
    let row = wait_status(bot.state.db(), 5, PARKED).await;
    assert_eq!(
        row,
        Some((PARKED, 1)),
        "parked at the first transient failure"
    );
    let list = admin(&bot, "GET", "/admin/parked", None).await;
    assert!(
        list["parked"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("24 h"),
        "{list}"
    );
    sim.fail_method("sendMessage", ApiFault::Status500, 0);
    bot.stop().await;
}

#[tokio::test]
async fn a_handler_past_its_deadline_is_retried_as_a_transient_failure() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    // The first run hangs past the deadline; the second answers.
    let tree = dptree::entry().branch(Update::filter_message().endpoint(
        move |msg: Message, api: TelegramClient| {
            let r = r.clone();
            async move {
                if r.fetch_add(1, Ordering::SeqCst) == 0 {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                api.send_message(msg.chat.id.0, "late").await?;
                Ok::<(), HandlerError>(())
            }
        },
    ));
    let bot = start_bot_with(
        &sim,
        &db,
        &[
            // One permanent failure would park: a timeout must not count as one.
            ("TELBOT__INBOX__MAX_ATTEMPTS", "1"),
            ("TELBOT__TELEGRAM__MAX_ATTEMPTS", "1"),
            ("TELBOT__TELEGRAM__REQUEST_TIMEOUT", "1s"),
            ("TELBOT__TELEGRAM__MAX_RETRY_AFTER", "1s"),
            ("TELBOT__TELEGRAM__BACKOFF_MAX", "1s"),
            ("TELBOT__INBOX__HANDLER_TIMEOUT", "2s"),
        ],
        tree,
    )
    .await;
    let id = sim.inject(Upd::text(66, "hi"));
    assert!(
        sim.wait_for(Duration::from_secs(15), |s| s.sent_messages().len() == 1)
            .await
    );
    assert_eq!(wait_status(bot.state.db(), id, 1).await, Some((1, 2)));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_the_client_gives_up_on_is_retried_after_its_retry_after_not_on_the_back_off() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    // The client waits out at most 1 s; Telegram asks for 3 s: the handler fails with the
    // 429, and the inbox (retry_delay 50 ms in the tests) must wait the 3 s itself.
    let bot = start_bot(
        &sim,
        &db,
        &[
            ("TELBOT__TELEGRAM__MAX_RETRY_AFTER", "1s"),
            ("TELBOT__INBOX__RETRY_DELAY", "50ms"),
        ],
    )
    .await;
    sim.fail_method(
        "sendMessage",
        telegram_sim::ApiFault::TooManyRequests { retry_after: 3 },
        1,
    );
    sim.inject(telegram_sim::Upd::command(31, "/start"));
    assert!(
        sim.wait_for(Duration::from_secs(20), |s| s.sent_messages().len() == 1)
            .await
    );
    let calls = sim.calls_to("sendMessage");
    assert_eq!(calls.len(), 2, "one 429, then the retry");
    let waited = calls[1].at.duration_since(calls[0].at).unwrap();
    assert!(
        waited >= Duration::from_millis(2900),
        "retried after {waited:?}, before Telegram's retry_after"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_query_past_its_answer_window_is_parked_not_retried_for_24_hours() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    // A callback query stored 200 s ago by an earlier run, still pending: Telegram refuses
    // an answer to it after about 150 s, so retrying it for 24 h only holds the chat.
    let body = serde_json::json!({"update_id": 7, "callback_query": {"id": "q7",
        "from": {"id": 77, "is_bot": false, "first_name": "A"},
        "chat_instance": "ci", "data": "pressed",
        "message": {"message_id": 3, "date": 1, "chat": {"id": 77, "type": "private", "first_name": "A"}, "text": "pick"}}});
    assert_eq!(store_pending(&sim, &db, &body, 200).await, "callback_query");
    sim.fail_method("answerCallbackQuery", ApiFault::Status500, 1_000_000);
    let bot = start_bot(&sim, &db, &[("TELBOT__TELEGRAM__MAX_ATTEMPTS", "1")]).await;
    let row = wait_status(bot.state.db(), 7, PARKED).await;
    assert_eq!(
        row,
        Some((PARKED, 1)),
        "parked at the first transient failure"
    );
    let list = admin(&bot, "GET", "/admin/parked", None).await;
    assert!(
        list["parked"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("150 s"),
        "{list}"
    );
    sim.fail_method("answerCallbackQuery", ApiFault::Status500, 0);
    bot.stop().await;
}

/// Stores `update` as a pending inbox row received `age_s` ago, as an earlier run left it
/// (before any bot starts on `db`); its kind.
async fn store_pending(sim: &Sim, db: &TestDb, update: &serde_json::Value, age_s: i64) -> String {
    let e = env(sim, db, 1);
    let cfg = telbot_shared::config::StoreConfig::from_section(
        telbot_shared::config::section(&telbot_shared::config::load(None, &e).unwrap(), "store")
            .unwrap(),
    )
    .unwrap();
    let store = telbot_shared::store::connect(&cfg).await.unwrap();
    let (kind, key) = bot_server::testing::key::classify(update);
    sqlx::query("INSERT INTO inbox (update_id, kind, queue_key, payload, received_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(update["update_id"].as_i64().unwrap())
        .bind(&kind)
        .bind(&key)
        .bind(update.to_string())
        .bind(telbot_shared::unix_now() - age_s)
        .execute(&store.pool)
        .await
        .unwrap();
    kind
}
