//! A stored reply (`webhook.reply_in_answer`) whose webhook answer never reached Telegram is
//! sent exactly once on the paths where no answer carries anything: the polling fallback and
//! the dashboard's recovery meet the update again through getUpdates, as a duplicate.
//!
//! A reply Telegram would refuse (over 4,096 characters) is not held for the answer, where
//! Telegram would drop it silently: it goes as a request and its refusal fails the handler.
//!
//! Each stored-reply test plays Telegram losing an answer: the webhook is failing at the sim, the sim holds
//! the update, and the test posts the same update_id to the bot itself and throws the answer
//! (with the reply) away.

use crate::common;

use std::time::Duration;

use common::*;
use telegram_sim::{Upd, WebhookFault};

const ON: (&str, &str) = ("TELBOT__WEBHOOK__REPLY_IN_ANSWER", "true");

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

fn ping(update_id: i64, chat: i64) -> String {
    format!(
        r#"{{"update_id":{update_id},"message":{{"message_id":1,"date":{},"chat":{{"id":{chat},"type":"private","first_name":"A"}},"from":{{"id":{chat},"is_bot":false,"first_name":"A"}},"text":"/ping {update_id}","entities":[{{"offset":0,"length":5,"type":"bot_command"}}]}}}}"#,
        telbot_shared::unix_now()
    )
}

/// sendMessage calls to `chat`: (came in a webhook answer, text).
fn sends_to(sim: &telegram_sim::Sim, chat: i64) -> Vec<(bool, String)> {
    sim.calls_to("sendMessage")
        .into_iter()
        .filter(|c| c.params["chat_id"].as_i64() == Some(chat))
        .map(|c| {
            (
                c.params.get("method").is_some(),
                c.params["text"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The sim holds an update the bot handled and answered with a reply Telegram never got.
async fn lost_answer(sim: &telegram_sim::Sim, bot: &RunningBot, chat: i64) -> i64 {
    sim.break_webhook(WebhookFault::Status(500));
    let id = sim.inject(Upd::command(chat, "/ping"));
    let (code, answer) = post(bot, &ping(id, chat)).await;
    assert_eq!(code, 200);
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["text"], format!("pong {id}"), "{answer}");
    health_settled(bot).await;
    assert!(sends_to(sim, chat).is_empty(), "the answer was thrown away");
    id
}

/// The reply reached the chat once, as a request; a later redelivery answers empty.
async fn sent_once(sim: &telegram_sim::Sim, bot: &RunningBot, chat: i64, id: i64) {
    assert!(
        sim.wait_for(Duration::from_secs(20), |s| !sends_to(s, chat).is_empty())
            .await,
        "the stored reply was never sent"
    );
    assert!(
        sim.wait_for(Duration::from_secs(20), |s| s.pending_update_count() == 0)
            .await
    );
    let (code, answer) = post(bot, &ping(id, chat)).await;
    assert_eq!(
        (code, answer.as_str()),
        (200, ""),
        "carried: a redelivery answers empty"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sends_to(sim, chat), vec![(false, format!("pong {id}"))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_polling_fallback_sends_a_stored_reply_no_answer_carried_exactly_once() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[ON]).await;
    let id = lost_answer(&sim, &bot, 9100).await;
    // Somebody deletes the webhook: the bot polls, and meets the update again.
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/bot{}/deleteWebhook",
            sim.base_url(),
            sim.token()
        ))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["ok"], true);
    sent_once(&sim, &bot, 9100, id).await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_recovery_sends_a_stored_reply_no_answer_carried_exactly_once() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot(&sim, &db, &[ON]).await;
    let id = lost_answer(&sim, &bot, 9200).await;
    let r = reqwest::Client::new()
        .post(bot.url("/webhook/recover"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: serde_json::Value = r.json().await.unwrap();
    assert_eq!(report["duplicates"], 1, "{report}");
    assert!(
        report["errors"].as_array().is_none_or(|e| e.is_empty()),
        "{report}"
    );
    sent_once(&sim, &bot, 9200, id).await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_over_4096_characters_is_sent_as_a_request_not_answered() {
    use bot_server::bot::HandlerError;
    use telbot_shared::telegram::TelegramClient;
    use teloxide::dispatching::UpdateFilterExt;
    use teloxide::types::{Message, Update};
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let tree = Update::filter_message().endpoint(|msg: Message, api: TelegramClient| async move {
        api.send_message(msg.chat.id.0, &"a".repeat(5000)).await?;
        Ok::<(), HandlerError>(())
    });
    let bot = start_bot_with(&sim, &db, &[ON], tree).await;
    let (code, answer) = post(&bot, &ping(1, 9300)).await;
    assert_eq!(code, 200);
    assert!(
        answer.is_empty(),
        "not held (Telegram would drop it silently): {}…",
        &answer[..answer.len().min(60)]
    );
    // Sent as a request, which Telegram refuses: the handler failed (retried, then parked)
    // instead of the reply vanishing.
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| !s
            .calls_to("sendMessage")
            .is_empty())
            .await
    );
    let c = &sim.calls_to("sendMessage")[0];
    assert!(c.params.get("method").is_none(), "a request, not an answer");
    assert!(sim.sent_messages().is_empty(), "refused as too long");
    assert!(
        telbot_testkit::wait_until_async(Duration::from_secs(10), || async {
            health(&bot).await["updates"]["failed"].as_u64() >= Some(1)
        })
        .await,
        "the handler failed"
    );
    bot.stop().await;
}
