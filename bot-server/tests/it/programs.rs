//! teloxide programs as they are: a tree whose endpoints return `ResponseResult<()>`, a
//! `default_handler` and an `error_handler`, a `distribution_function`, teloxide's adaptors as
//! the requester, the update kinds the tree handles registered with the webhook, kinds newer
//! than teloxide handed to the default handler, and teloxide's `Bot` errors classified by
//! what happened on the wire (a proxy's HTML 502, a 500, a reset, a 429, a timeout).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use telegram_sim::{ApiFault, Upd};
use teloxide::dispatching::UpdateHandler;
use teloxide::error_handlers::ErrorHandler;
use teloxide::prelude::*;
use teloxide::types::{ParseMode, UpdateKind};

use crate::common::*;

/// teloxide's commonest endpoint: `ResponseResult<()>`.
async fn hello(bot: Bot, msg: Message) -> ResponseResult<()> {
    let text = msg.text().unwrap_or_default();
    if text == "/fail" {
        // Chat 0 does not exist: a permanent Bot API error.
        bot.send_message(ChatId(0), "never").await?;
    }
    bot.send_message(msg.chat.id, format!("hello {text}"))
        .await?;
    respond(())
}

async fn inline(bot: Bot, q: InlineQuery) -> ResponseResult<()> {
    bot.answer_inline_query(q.id, Vec::new()).await?;
    respond(())
}

fn tree() -> UpdateHandler<teloxide::RequestError> {
    dptree::entry()
        .branch(Update::filter_message().endpoint(hello))
        .branch(Update::filter_inline_query().endpoint(inline))
}

/// Counts the errors it sees, and what kinds the default handler got.
#[derive(Default)]
struct Seen {
    errors: AtomicUsize,
    defaults: std::sync::Mutex<Vec<String>>,
}

impl ErrorHandler<teloxide::RequestError> for Seen {
    fn handle_error(
        self: Arc<Self>,
        _error: teloxide::RequestError,
    ) -> futures::future::BoxFuture<'static, ()> {
        self.errors.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {})
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_with_default_and_error_handlers_and_response_result_endpoints() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let seen = Arc::new(Seen::default());
    let (cfg, listener) = config(&sim, &db, &[("TELBOT__INBOX__MAX_ATTEMPTS", "2")]);
    let s = seen.clone();
    let program = bot_server::Dispatcher::builder(cfg, tree())
        .default_handler(move |upd: Arc<Update>| {
            let s = s.clone();
            async move {
                let kind = match &upd.kind {
                    UpdateKind::CallbackQuery(_) => "callback_query".to_string(),
                    UpdateKind::Error(raw) => format!(
                        "error: {}",
                        raw.as_object()
                            .map(|o| o.keys().cloned().collect::<Vec<_>>().join(","))
                            .unwrap_or_default()
                    ),
                    other => format!("{other:?}"),
                };
                s.defaults.lock().unwrap().push(kind);
            }
        })
        .error_handler(seen.clone())
        .enable_ctrlc_handler()
        .worker_queue_size(64)
        .listener(listener);
    let bot = start_program(program).await;
    // The tree's kinds are registered with the webhook: the default list has no inline_query.
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| !s
            .calls_to("setWebhook")
            .is_empty())
            .await
    );
    let set = sim.calls_to("setWebhook");
    let allowed = set[0].params["allowed_updates"].to_string();
    assert!(allowed.contains("inline_query"), "{allowed}");
    assert!(allowed.contains("message"), "{allowed}");

    sim.inject(Upd::text(5, "there"));
    let fail = sim.inject(Upd::text(6, "/fail"));
    sim.inject(Upd::callback(7, "no branch takes this"));
    // A kind newer than teloxide, as Telegram sends it with its default allowed_updates.
    let unknown = 900_000;
    let future = serde_json::json!({"update_id": unknown, "future_thing": {"chat": {"id": 8, "type": "private"}, "date": 1}});
    assert!(
        post_update(&bot, &future.to_string(), Some(SECRET))
            .await
            .is_success()
    );
    sim.inject(Upd::inline_query(9, "q"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| !s.sent_messages().is_empty()
            && !s.calls_to("answerInlineQuery").is_empty())
            .await
    );
    assert_eq!(sim.sent_messages()[0].text, "hello there");
    assert_eq!(
        wait_status(bot.state.db(), fail, 2).await,
        Some((2, 2)),
        "parked"
    );
    assert_eq!(
        seen.errors.load(Ordering::SeqCst),
        2,
        "the error handler saw each attempt"
    );
    // Skipped (3), never parked: a kind newer than teloxide.
    assert_eq!(
        wait_status(bot.state.db(), unknown, 3).await.map(|r| r.0),
        Some(3)
    );
    let h = health_settled(&bot).await;
    assert_eq!(h["updates"]["unknown"], 1, "{h}");
    assert_eq!(h["updates"]["parked"], 1, "only /fail: {h}");
    let mut defaults = seen.defaults.lock().unwrap().clone();
    defaults.sort();
    assert_eq!(defaults.len(), 2, "{defaults:?}");
    assert_eq!(defaults[0], "callback_query");
    assert!(
        defaults[1].starts_with("error: "),
        "the raw update: {defaults:?}"
    );
    bot.stop().await;
}

async fn bold(bot: teloxide::adaptors::DefaultParseMode<Bot>, msg: Message) -> ResponseResult<()> {
    bot.send_message(msg.chat.id, "<b>hi</b>").await?;
    respond(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_requester_is_teloxides_adaptors_over_telbots_bot() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let (cfg, listener) = config(&sim, &db, &[]);
    let program = bot_server::Dispatcher::builder(cfg, Update::filter_message().endpoint(bold))
        .requester(|bot: Bot| bot.parse_mode(ParseMode::Html))
        .listener(listener);
    let bot = start_program(program).await;
    sim.inject(Upd::text(5, "x"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| !s.sent_messages().is_empty())
            .await
    );
    let call = &sim.calls_to("sendMessage")[0];
    assert_eq!(call.params["parse_mode"], "HTML", "{}", call.params);
    bot.stop().await;
}

fn by_user(u: &Update) -> Option<UserId> {
    u.from().map(|u| u.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_distribution_function_is_the_inbox_queue_key() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let (cfg, listener) = config(&sim, &db, &[]);
    let program = bot_server::Dispatcher::builder(cfg, tree())
        .distribution_function(by_user)
        .listener(listener);
    let bot = start_program(program).await;
    // One user in two chats: one key, so their updates run in order on the whole fleet.
    let a = sim.inject(Upd::text(-100, "one").from_user(42));
    let b = sim.inject(Upd::text(-200, "two").from_user(42));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() >= 2)
            .await
    );
    for id in [a, b] {
        let key: String = sqlx::query_scalar("SELECT queue_key FROM inbox WHERE update_id = $1")
            .bind(id)
            .fetch_one(&bot.state.db().pool)
            .await
            .unwrap();
        assert_eq!(key, "d:UserId(42)");
    }
    bot.stop().await;
}

/// Sends through teloxide's own `Bot`.
async fn echo(bot: Bot, msg: Message) -> ResponseResult<()> {
    bot.send_message(msg.chat.id, "answered").await?;
    respond(())
}

/// The failures on the wire a test can make telegram-sim answer with.
fn faults() -> [(&'static str, ApiFault); 5] {
    [
        ("a proxy's HTML 502", ApiFault::ProxyPage(502)),
        ("Telegram's JSON 500", ApiFault::Status500),
        ("a reset connection", ApiFault::Drop),
        ("a 429", ApiFault::TooManyRequests { retry_after: 1 }),
        ("a timeout", ApiFault::Slow(Duration::from_secs(4))),
    ]
}

/// Each failure, through teloxide's `Bot`, with telbot's client making one attempt per call:
/// the failure reaches the handler as teloxide's error, and with `inbox.max_attempts = 1` a
/// permanent class would park the update at once; a transient one is run again and answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teloxides_bot_errors_are_classified_by_what_happened() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot_with(
        &sim,
        &db,
        &[
            ("TELBOT__INBOX__MAX_ATTEMPTS", "1"),
            ("TELBOT__TELEGRAM__MAX_ATTEMPTS", "1"),
            ("TELBOT__TELEGRAM__REQUEST_TIMEOUT", "2s"),
        ],
        Update::filter_message().endpoint(echo),
    )
    .await;
    for (i, (what, fault)) in faults().into_iter().enumerate() {
        sim.fail_method("sendMessage", fault, 1);
        let id = sim.inject(Upd::text(10 + i as i64, what));
        let row = settled_row(&bot, id).await;
        assert_eq!(
            row.map(|r| r.0),
            Some(1),
            "{what}: retried and done, not parked"
        );
        assert_eq!(
            row.map(|r| r.1),
            Some(2),
            "{what}: at the handler's second attempt"
        );
    }
    // And a permanent one stays permanent: chat not found.
    let id = sim.inject(Upd::text(0, "nobody"));
    assert_eq!(
        wait_status(bot.state.db(), id, 2).await,
        Some((2, 1)),
        "parked at once"
    );
    bot.stop().await;
}

/// The same failures with telbot's client retrying (its defaults): teloxide's call itself
/// succeeds, the handler runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teloxides_bot_is_retried_inside_the_call_by_telbots_client() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot_with(
        &sim,
        &db,
        &[
            ("TELBOT__INBOX__MAX_ATTEMPTS", "1"),
            ("TELBOT__TELEGRAM__REQUEST_TIMEOUT", "2s"),
        ],
        Update::filter_message().endpoint(echo),
    )
    .await;
    for (i, (what, fault)) in faults().into_iter().enumerate() {
        sim.fail_method("sendMessage", fault, 1);
        let before = sim.calls_to("sendMessage").len();
        let id = sim.inject(Upd::text(10 + i as i64, what));
        let row = settled_row(&bot, id).await;
        assert_eq!(
            row,
            Some((1, 1)),
            "{what}: done at the handler's first attempt"
        );
        assert_eq!(
            sim.calls_to("sendMessage").len() - before,
            2,
            "{what}: failed once, then sent"
        );
    }
    assert_eq!(sim.sent_messages().len(), faults().len(), "one reply each");
    bot.stop().await;
}

/// The row of `id` once it left pending (at most 30 s).
async fn settled_row(bot: &RunningBot, id: i64) -> Option<(i64, i64)> {
    wait_until_async(Duration::from_secs(30), || async {
        bot_server::testing::sql::status_of(bot.state.db(), id)
            .await
            .ok()
            .flatten()
            .is_some_and(|r| r.0 != 0)
    })
    .await;
    bot_server::testing::sql::status_of(bot.state.db(), id)
        .await
        .unwrap()
}
