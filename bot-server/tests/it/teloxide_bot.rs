//! Handlers written against teloxide's own `Bot`: they reach every Bot API method teloxide
//! knows through the inbox, and a failed call is a handler failure with its cause, never with
//! the token.

use std::time::Duration;

use bot_server::bot::HandlerError;
use telegram_sim::Upd;
use teloxide::dispatching::UpdateHandler;
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
    let parked = bot_server::inbox::parked::list(bot.state.db())
        .await
        .unwrap();
    let error = parked[0].last_error.clone().unwrap_or_default();
    assert!(error.to_lowercase().contains("chat not found"), "{error}");
    let token = sim.token();
    let secret_part = token.split(':').nth(1).unwrap_or(&token);
    assert!(!error.contains(secret_part), "{error}");
    bot.stop().await;
}
