//! The README's "Plug in your own handlers": bot-server with your teloxide handler tree,
//! written with teloxide's own types (`Bot`, `Message`, `Dialogue`) only.
//! Run with the bot's environment (TELEGRAM_BOT_TOKEN, PUBLIC_URL, WEBHOOK_SECRET, …):
//! `cargo run -p telbot-demo --example own_handlers`.

use bot_server::{BotConfig, Dispatcher, TelbotStorage};
use serde::{Deserialize, Serialize};
use teloxide::dispatching::dialogue::Dialogue;
use teloxide::dispatching::{HandlerExt, UpdateFilterExt, UpdateHandler};
use teloxide::prelude::*;

type HandlerResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A two-step form; its state is kept in the store, so it survives restarts and instances.
#[derive(Clone, Default, Serialize, Deserialize)]
enum State {
    #[default]
    Start,
    ReceiveName,
}

fn my_tree() -> UpdateHandler<Box<dyn std::error::Error + Send + Sync>> {
    Update::filter_message()
        .enter_dialogue::<Message, TelbotStorage, State>()
        .branch(dptree::case![State::Start].endpoint(start))
        .branch(dptree::case![State::ReceiveName].endpoint(receive_name))
}

async fn start(bot: Bot, dialogue: Dialogue<State, TelbotStorage>, msg: Message) -> HandlerResult {
    bot.send_message(msg.chat.id, "What is your name?").await?;
    dialogue.update(State::ReceiveName).await?;
    Ok(())
}

async fn receive_name(
    bot: Bot,
    dialogue: Dialogue<State, TelbotStorage>,
    msg: Message,
) -> HandlerResult {
    let name = msg.text().unwrap_or("stranger");
    bot.send_message(msg.chat.id, format!("Hello, {name}!"))
        .await?;
    dialogue.exit().await?;
    Ok(())
}

#[tokio::main]
async fn main() {
    let cfg = BotConfig::from_env_or_exit(); // defaults → file → environment
    Dispatcher::builder(cfg, my_tree())
        .build()
        .dispatch() // connects the store, binds, serves until SIGTERM/SIGINT, then drains
        .await;
}
