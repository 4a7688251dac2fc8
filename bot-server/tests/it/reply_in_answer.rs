//! `webhook.reply_in_answer`: the handler's only Bot API call rides on the webhook's 200,
//! stored with the update first, so a redelivery gets the same reply and the handler does not
//! run again. telegram-sim executes a method found in a webhook answer, as Telegram does, and
//! records it with its `method` parameter; a normal request has none.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bot_server::bot::HandlerError;
use common::*;
use telbot_shared::telegram::TelegramClient;
use telegram_sim::Upd;
use teloxide::dispatching::{UpdateFilterExt, UpdateHandler};
use teloxide::dptree;
use teloxide::types::{Message, Update};

const ON: (&str, &str) = ("TELBOT__WEBHOOK__REPLY_IN_ANSWER", "true");

/// sendMessage calls the sim saw: (came in a webhook answer, chat, text).
fn sends(sim: &telegram_sim::Sim) -> Vec<(bool, i64, String)> {
    sim.calls_to("sendMessage")
        .into_iter()
        .map(|c| {
            (
                c.params.get("method").is_some(),
                c.params["chat_id"].as_i64().unwrap_or_default(),
                c.params["text"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn post(bot: &RunningBot, body: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(bot.url("/webhook"))
        .header("content-type", "application/json")
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn help_update(update_id: i64, chat: i64) -> String {
    format!(
        r#"{{"update_id":{update_id},"message":{{"message_id":1,"date":1700000000,"chat":{{"id":{chat},"type":"private","first_name":"A"}},"from":{{"id":{chat},"is_bot":false,"first_name":"A"}},"text":"/ping {update_id}","entities":[{{"offset":0,"length":5,"type":"bot_command"}}]}}}}"#
    )
}

async fn replies_ride_on_the_answer(backend: Backend) {
    let sim = sim().await;
    let db = TestDb::new(backend);
    let bot = start_bot(&sim, &db, &[ON, ("METRICS_PUBLIC", "true")]).await;
    for i in 0..50i64 {
        sim.inject(Upd::command(3000 + i % 10, format!("/ping {i}")));
    }
    assert!(
        sim.wait_for(Duration::from_secs(30), |s| s.sent_messages().len() >= 50)
            .await,
        "only {} replies",
        sim.sent_messages().len()
    );
    health_settled(&bot).await;
    let sent = sends(&sim);
    assert_eq!(sent.len(), 50, "each update answered once");
    assert!(
        sent.iter().all(|(in_answer, ..)| *in_answer),
        "every reply came in a webhook answer, none as a request: {sent:?}"
    );
    assert_eq!(sim.pending_update_count(), 0);

    // Telegram redelivers one (it never got the answer): the same reply, the handler not run.
    let body = help_update(880_001, 77);
    let (code, first) = post(&bot, &body).await;
    assert_eq!(code, 200);
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["method"], "sendMessage");
    assert_eq!(first["chat_id"], 77);
    assert_eq!(first["text"], "pong 880001");
    let processed = health(&bot).await["updates"]["processed"].clone();
    let (code, again) = post(&bot, &body).await;
    assert_eq!(code, 200);
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(
        again, first,
        "a redelivery is answered with the stored reply"
    );
    let h = health(&bot).await;
    assert_eq!(
        h["updates"]["processed"], processed,
        "the handler did not run again"
    );
    assert_eq!(h["updates"]["duplicates"], 1);
    // Those two answers went to this test, not to the sim: nothing was sent as a request.
    assert_eq!(sends(&sim).len(), 50);
    let metrics = reqwest::get(bot.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("telbot_replies_in_answer_total 51"),
        "{metrics}"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_replies_ride_on_the_webhook_answer_and_a_redelivery_gets_the_stored_one() {
    replies_ride_on_the_answer(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replies_ride_on_the_webhook_answer_and_a_redelivery_gets_the_stored_one() {
    replies_ride_on_the_answer(Backend::Postgres).await;
}

/// Sends `n` messages per update, after `delay`; fails the first `fail_first` runs after its
/// first send.
fn tree(n: usize, delay: Duration, fail_first: u32) -> UpdateHandler<HandlerError> {
    let runs = Arc::new(AtomicU32::new(0));
    dptree::entry().branch(Update::filter_message().endpoint(
        move |msg: Message, api: TelegramClient| {
            let runs = runs.clone();
            async move {
                tokio::time::sleep(delay).await;
                let text = msg.text().unwrap_or("?").to_string();
                for i in 0..n {
                    api.send_message(msg.chat.id.0, &format!("{text} #{i}"))
                        .await?;
                    if runs.fetch_add(1, Ordering::SeqCst) < fail_first {
                        return Err::<(), HandlerError>("failed after its first call".into());
                    }
                }
                Ok(())
            }
        },
    ))
}

#[tokio::test]
async fn a_handler_with_two_calls_sends_both_as_requests_in_order() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot_with(&sim, &db, &[ON], tree(2, Duration::ZERO, 0)).await;
    let (code, answer) = post(&bot, &help_update(1, 5)).await;
    assert_eq!((code, answer.as_str()), (200, ""), "nothing in the answer");
    health_settled(&bot).await;
    assert_eq!(
        sends(&sim),
        vec![
            (false, 5, "/ping 1 #0".to_string()),
            (false, 5, "/ping 1 #1".to_string())
        ]
    );
    bot.stop().await;
}

#[tokio::test]
async fn a_handler_slower_than_reply_wait_sends_its_reply_as_a_request_once() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot_with(
        &sim,
        &db,
        &[ON, ("TELBOT__WEBHOOK__REPLY_WAIT", "50ms")],
        tree(1, Duration::from_millis(400), 0),
    )
    .await;
    let (code, answer) = post(&bot, &help_update(2, 6)).await;
    assert_eq!((code, answer.as_str()), (200, ""));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| !s.sent_messages().is_empty())
            .await
    );
    health_settled(&bot).await;
    assert_eq!(sends(&sim), vec![(false, 6, "/ping 2 #0".to_string())]);
    // Done without a stored reply: a redelivery answers empty and sends nothing.
    let (code, answer) = post(&bot, &help_update(2, 6)).await;
    assert_eq!((code, answer.as_str()), (200, ""));
    assert_eq!(sends(&sim).len(), 1);
    bot.stop().await;
}

#[tokio::test]
async fn a_webhook_that_hangs_up_before_the_reply_leaves_it_to_a_request() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot_with(&sim, &db, &[ON], tree(1, Duration::from_millis(500), 0)).await;
    let hung_up = reqwest::Client::new()
        .post(bot.url("/webhook"))
        .header("content-type", "application/json")
        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
        .body(help_update(3, 7))
        .timeout(Duration::from_millis(150))
        .send()
        .await;
    assert!(
        hung_up.is_err(),
        "the client gave up before the handler ended"
    );
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| !s.sent_messages().is_empty())
            .await
    );
    health_settled(&bot).await;
    assert_eq!(sends(&sim), vec![(false, 7, "/ping 3 #0".to_string())]);
    assert_eq!(
        bot.state.reply_waiters(),
        0,
        "the hung-up request unregistered"
    );
    bot.stop().await;
}

#[tokio::test]
async fn a_failed_run_drops_its_held_call_and_the_retry_replies_once() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot_with(&sim, &db, &[ON], tree(1, Duration::ZERO, 1)).await;
    let (code, answer) = post(&bot, &help_update(4, 8)).await;
    assert_eq!(
        (code, answer.as_str()),
        (200, ""),
        "the failed run answers empty"
    );
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| !s.sent_messages().is_empty())
            .await
    );
    health_settled(&bot).await;
    // The retry had nobody waiting: its reply went out as a request, and only once.
    assert_eq!(sends(&sim), vec![(false, 8, "/ping 4 #0".to_string())]);
    bot.stop().await;
}

#[tokio::test]
async fn without_the_option_nothing_rides_on_the_answer() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[]).await;
    let (code, answer) = post(&bot, &help_update(5, 9)).await;
    assert_eq!((code, answer.as_str()), (200, ""));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| !s.sent_messages().is_empty())
            .await
    );
    assert_eq!(sends(&sim), vec![(false, 9, "pong 5".to_string())]);
    bot.stop().await;
}

/// A teloxide handler: `pong <text>` through teloxide's `Bot`, its result not read.
async fn teloxide_pong(bot: teloxide::Bot, msg: Message) -> teloxide::requests::ResponseResult<()> {
    use bot_server::SendIgnoringResult;
    use teloxide::prelude::Requester;
    let text = msg
        .text()
        .unwrap_or_default()
        .trim_start_matches("/ping ")
        .to_string();
    bot.send_message(msg.chat.id, format!("pong {text}"))
        .send_ignoring_result()
        .await?;
    if text.starts_with("twice") {
        // A second call, whose result is read: the held one goes out first, in order.
        bot.send_message(msg.chat.id, format!("and again {text}"))
            .await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teloxide_handler_replies_in_the_answer_exactly_once_on_redelivery() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot_with(
        &sim,
        &db,
        &[ON],
        Update::filter_message().endpoint(teloxide_pong),
    )
    .await;
    for i in 0..20i64 {
        sim.inject(Upd::command(4000 + i % 5, format!("/ping {i}")));
    }
    assert!(
        sim.wait_for(Duration::from_secs(30), |s| s.sent_messages().len() >= 20)
            .await,
        "only {} replies",
        sim.sent_messages().len()
    );
    health_settled(&bot).await;
    let sent = sends_any_case(&sim);
    assert_eq!(sent.len(), 20, "each update answered once: {sent:?}");
    assert!(
        sent.iter().all(|(in_answer, ..)| *in_answer),
        "every reply rode on the webhook answer: {sent:?}"
    );
    // A redelivery gets the stored reply; the handler does not run again.
    let body = help_update(880_002, 78);
    let (code, first) = post(&bot, &body).await;
    assert_eq!(code, 200);
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert!(
        first["method"]
            .as_str()
            .is_some_and(|m| m.eq_ignore_ascii_case("sendMessage")),
        "{first}"
    );
    assert_eq!(first["chat_id"], 78);
    assert_eq!(first["text"], "pong 880002");
    let processed = health(&bot).await["updates"]["processed"].clone();
    let (_, again) = post(&bot, &body).await;
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again, first, "the stored reply");
    assert_eq!(
        health(&bot).await["updates"]["processed"],
        processed,
        "not run again"
    );
    assert_eq!(sends_any_case(&sim).len(), 20, "nothing sent as a request");

    // Two calls: the held one first, then the second, both as requests.
    sim.inject(Upd::command(4100, "/ping twice"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() >= 22)
            .await
    );
    let last: Vec<String> = sim.sent_messages()[20..]
        .iter()
        .map(|m| m.text.clone())
        .collect();
    assert_eq!(last, ["pong twice", "and again twice"]);
    bot.stop().await;
}

/// [`sends`] for methods named in any case (teloxide's payloads name them `SendMessage`).
fn sends_any_case(sim: &telegram_sim::Sim) -> Vec<(bool, i64, String)> {
    sim.calls()
        .into_iter()
        .filter(|c| c.method.eq_ignore_ascii_case("sendMessage"))
        .map(|c| {
            (
                c.params.get("method").is_some(),
                c.params["chat_id"].as_i64().unwrap_or_default(),
                c.params["text"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
