//! One chat floods (3,000 updates) while 100 others talk: the others are answered long before
//! the flood is through, the flood in order, nothing skipped or run twice. On SQLite and
//! PostgreSQL.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use bot_server::bot::HandlerError;
use common::*;
use telbot_shared::telegram::TelegramClient;
use telegram_sim::{ApiFault, Upd};
use teloxide::dispatching::{UpdateFilterExt, UpdateHandler};
use teloxide::dptree;
use teloxide::types::{Message, Update};

const FLOOD_CHAT: i64 = 4242;
const FLOOD: usize = 3000;
const OTHERS: i64 = 100;
const EACH: usize = 3;

fn echo_tree() -> UpdateHandler<HandlerError> {
    dptree::entry().branch(Update::filter_message().endpoint(
        |msg: Message, api: TelegramClient| async move {
            let text = msg.text().unwrap_or("?").to_string();
            api.send_message(msg.chat.id.0, &text).await?;
            Ok::<(), HandlerError>(())
        },
    ))
}

async fn a_flood_in_one_chat_does_not_hold_up_the_others(backend: Backend) {
    let sim = sim().await;
    let db = TestDb::new(backend);
    // A small max_loaded makes the old behaviour (one key taking every slot) plain to see.
    let bot = start_bot_with(
        &sim,
        &db,
        &[("TELBOT__INBOX__MAX_LOADED", "256")],
        echo_tree(),
    )
    .await;
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.calls_to("setWebhook").len()
            == 1)
            .await
    );
    // Each reply takes 5 ms more: the flood chat, handled one at a time, needs 15 s or more.
    sim.fail_method(
        "sendMessage",
        ApiFault::Slow(Duration::from_millis(5)),
        1_000_000,
    );
    for i in 0..FLOOD {
        sim.inject(Upd::text(FLOOD_CHAT, format!("f{i}")));
    }
    // The whole flood is stored before anyone else speaks.
    assert!(
        wait_until(Duration::from_secs(60), || bot
            .state
            .counters()
            .snapshot()
            .received
            >= FLOOD as u64)
        .await
    );
    let flood_when_others_came = sim
        .sent_messages()
        .iter()
        .filter(|m| m.chat_id == FLOOD_CHAT)
        .count();
    for j in 0..EACH {
        for c in 0..OTHERS {
            sim.inject(Upd::text(10_000 + c, format!("o{j}")));
        }
    }
    let total = FLOOD + OTHERS as usize * EACH;
    assert!(
        sim.wait_for(Duration::from_secs(240), |s| s.sent_messages().len()
            >= total)
            .await,
        "{} of {total} replies",
        sim.sent_messages().len()
    );
    health_settled(&bot).await;
    let sent = sim.sent_messages();
    assert_eq!(sent.len(), total, "nothing answered twice");
    let last_other = sent.iter().rposition(|m| m.chat_id != FLOOD_CHAT).unwrap();
    let flood_before = sent[..last_other]
        .iter()
        .filter(|m| m.chat_id == FLOOD_CHAT)
        .count();
    let meanwhile = flood_before - flood_when_others_came;
    eprintln!(
        "the other chats came after {flood_when_others_came} flood replies; all were answered \
         {meanwhile} flood replies later"
    );
    // Waiting for the flood's backlog would mean answering them after more than
    // FLOOD - max_loaded flood replies; they need a few dozen.
    assert!(
        meanwhile < 500 && flood_before < FLOOD - 500,
        "the other chats waited for the flood: answered {meanwhile} flood replies after they came"
    );
    let mut per_chat: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for m in sent {
        per_chat.entry(m.chat_id).or_default().push(m.text);
    }
    let flood = per_chat.remove(&FLOOD_CHAT).unwrap();
    let want: Vec<String> = (0..FLOOD).map(|i| format!("f{i}")).collect();
    assert!(flood == want, "the flood chat out of order or incomplete");
    assert_eq!(per_chat.len(), OTHERS as usize);
    for (chat, texts) in per_chat {
        assert_eq!(texts, vec!["o0", "o1", "o2"], "chat {chat}");
    }
    let h = health_settled(&bot).await;
    assert_eq!(h["updates"]["processed"], total as u64, "{h}");
    assert_eq!(h["updates"]["inbox_depth"], 0, "{h}");
    sim.fail_method("sendMessage", ApiFault::Slow(Duration::ZERO), 0);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_flood_in_one_chat_does_not_hold_up_the_others() {
    a_flood_in_one_chat_does_not_hold_up_the_others(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_flood_in_one_chat_does_not_hold_up_the_others() {
    a_flood_in_one_chat_does_not_hold_up_the_others(Backend::Postgres).await;
}
