//! Handlers written against teloxide's own `Bot`: they reach every Bot API method teloxide
//! knows through the inbox, a failed call is a handler failure with its cause, never with
//! the token, and a `Dialogue<State, TelbotStorage>` survives a bot-server restart.

use std::time::Duration;

use bot_server::bot::HandlerError;
use bot_server::bot::storage::TelbotStorage;
use serde::{Deserialize, Serialize};
use telegram_sim::Upd;
use teloxide::dispatching::UpdateHandler;
use teloxide::dispatching::dialogue::Dialogue;
use teloxide::prelude::*;
use teloxide::types::ChatAction;

use crate::common::*;

async fn echo(bot: Bot, msg: Message) -> Result<(), HandlerError> {
    bot.send_chat_action(msg.chat.id, ChatAction::Typing)
        .await?;
    bot.send_message(
        msg.chat.id,
        format!("echo: {}", msg.text().unwrap_or_default()),
    )
    .await?;
    Ok(())
}

fn tree() -> UpdateHandler<HandlerError> {
    Update::filter_message().endpoint(echo)
}

#[tokio::test]
async fn a_handler_takes_teloxides_bot_and_calls_any_method() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot_with(&sim, &db, &[], tree()).await;
    sim.inject(Upd::text(5, "hi"));
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| !s.sent_messages().is_empty())
            .await
    );
    let sent = sim.sent_messages();
    assert_eq!(sent[0].chat_id, 5);
    assert_eq!(sent[0].text, "echo: hi");
    assert!(
        !sim.calls_to("sendChatAction").is_empty(),
        "a method other than sendMessage"
    );
    assert_eq!(health_settled(&bot).await["updates"]["processed"], 1);
    bot.stop().await;
}

#[tokio::test]
async fn a_failed_bot_call_parks_with_its_cause_and_without_the_token() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot_with(&sim, &db, &[], tree()).await;
    // Chat 0 does not exist: "Bad Request: chat not found" from teloxide's own client.
    let bad = sim.inject(Upd::text(0, "x"));
    // Status 2 is parked.
    assert_eq!(
        wait_status(bot.state.db(), bad, 2).await.map(|r| r.0),
        Some(2),
        "parked after inbox.max_attempts"
    );
    let parked = bot_server::testing::parked::list(bot.state.db())
        .await
        .unwrap();
    let error = parked[0].last_error.clone().unwrap_or_default();
    assert!(error.to_lowercase().contains("chat not found"), "{error}");
    let token = sim.token();
    let secret_part = token.split(':').nth(1).unwrap_or(&token);
    assert!(!error.contains(secret_part), "{error}");
    bot.stop().await;
}

/// teloxide's dialogue shape: each step's state is kept in the store between messages.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
enum Form {
    #[default]
    Start,
    ReceiveName,
    ReceiveAge {
        name: String,
    },
}

type FormDialogue = Dialogue<Form, TelbotStorage>;

async fn start(bot: Bot, dialogue: FormDialogue, msg: Message) -> Result<(), HandlerError> {
    bot.send_message(msg.chat.id, "What is your name?").await?;
    dialogue.update(Form::ReceiveName).await?;
    Ok(())
}

async fn receive_name(bot: Bot, dialogue: FormDialogue, msg: Message) -> Result<(), HandlerError> {
    let name = msg.text().unwrap_or_default().to_string();
    bot.send_message(msg.chat.id, format!("How old are you, {name}?"))
        .await?;
    dialogue.update(Form::ReceiveAge { name }).await?;
    Ok(())
}

async fn receive_age(
    bot: Bot,
    dialogue: FormDialogue,
    name: String,
    msg: Message,
) -> Result<(), HandlerError> {
    let age = msg.text().unwrap_or_default();
    bot.send_message(msg.chat.id, format!("{name} is {age}."))
        .await?;
    dialogue.exit().await?;
    Ok(())
}

fn form() -> UpdateHandler<HandlerError> {
    Update::filter_message()
        .enter_dialogue::<Message, TelbotStorage, Form>()
        .branch(dptree::case![Form::Start].endpoint(start))
        .branch(dptree::case![Form::ReceiveName].endpoint(receive_name))
        .branch(dptree::case![Form::ReceiveAge { name }].endpoint(receive_age))
}

async fn reply_count(sim: &telegram_sim::Sim, n: usize) -> Vec<String> {
    assert!(
        sim.wait_for(Duration::from_secs(10), |s| s.sent_messages().len() >= n)
            .await,
        "only {} replies",
        sim.sent_messages().len()
    );
    sim.sent_messages().into_iter().map(|m| m.text).collect()
}

async fn a_dialogue_survives_a_restart(backend: Backend) {
    let sim = sim().await;
    let db = TestDb::new(backend);
    let bot = start_bot_with(&sim, &db, &[], form()).await;
    sim.inject(Upd::text(9, "hi"));
    reply_count(&sim, 1).await;
    sim.inject(Upd::text(9, "Ada"));
    let replies = reply_count(&sim, 2).await;
    assert_eq!(replies[1], "How old are you, Ada?");
    health_settled(&bot).await;
    bot.stop().await;
    // A new bot-server process on the same store picks the dialogue up where it was.
    let bot = start_bot_with(&sim, &db, &[], form()).await;
    sim.inject(Upd::text(9, "36"));
    let replies = reply_count(&sim, 3).await;
    assert_eq!(replies[2], "Ada is 36.");
    // The dialogue ended: the next message starts it again.
    sim.inject(Upd::text(9, "again"));
    let replies = reply_count(&sim, 4).await;
    assert_eq!(replies[3], "What is your name?");
    bot.stop().await;
}

#[tokio::test]
async fn sqlite_a_dialogue_survives_a_bot_server_restart() {
    a_dialogue_survives_a_restart(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_dialogue_survives_a_bot_server_restart() {
    a_dialogue_survives_a_restart(Backend::Postgres).await;
}

#[tokio::test]
async fn the_handlers_bot_never_shows_the_token_in_its_errors() {
    // A Bot API that does not answer (a closed port) and one that refuses the token.
    let token = "123456:SECRET-token-part-abcdef";
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let refusing = telegram_sim::Sim::builder().start().await.unwrap();
    for url in [format!("http://127.0.0.1:{closed}"), refusing.base_url()] {
        let mut env = std::collections::HashMap::new();
        env.insert("TELEGRAM_BOT_TOKEN".to_string(), token.to_string());
        env.insert("TELEGRAM_API_URL".to_string(), url);
        env.insert(
            "TELBOT__TELEGRAM__REQUEST_TIMEOUT".to_string(),
            "2s".to_string(),
        );
        let cfg = bot_server::BotConfig::load(None, &env).unwrap();
        let bot =
            bot_server::bot::teloxide_bot(&cfg.telegram, cfg.telegram.request_timeout).unwrap();
        let err = bot.get_me().await.expect_err("no Bot API here");
        let text = format!("{err} {err:?}");
        assert!(!text.contains("SECRET-token-part"), "{text}");
        let err = bot
            .send_message(ChatId(1), "x")
            .await
            .expect_err("no Bot API here");
        let text = format!("{err} {err:?}");
        assert!(!text.contains("SECRET-token-part"), "{text}");
    }
}

async fn paced_echo(bot: bot_server::PacedBot, msg: Message) -> Result<(), HandlerError> {
    bot.send_message(msg.chat.id, "paced").await?;
    Ok(())
}

#[tokio::test]
async fn teloxides_bot_waits_out_retry_after_inside_the_handler() {
    let sim = sim().await;
    let db = TestDb::new(Backend::Sqlite);
    let bot = start_bot_with(
        &sim,
        &db,
        &[],
        Update::filter_message().endpoint(paced_echo),
    )
    .await;
    // The first sendMessage is refused with "retry after 1"; telbot's client (behind the
    // gateway teloxide's Bot goes through) waits and sends again.
    sim.fail_method(
        "sendMessage",
        telegram_sim::ApiFault::TooManyRequests { retry_after: 1 },
        1,
    );
    let id = sim.inject(Upd::text(5, "hi"));
    assert_eq!(
        wait_status(bot.state.db(), id, 1).await,
        Some((1, 1)),
        "done at the handler's first attempt"
    );
    assert_eq!(
        sim.calls_to("sendMessage").len(),
        2,
        "refused once, then sent"
    );
    let sent = sim.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].text, "paced");
    bot.stop().await;
}
