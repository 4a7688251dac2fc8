//! A multi-step dialogue: a pizza order asks for the size, the topping and the address,
//! then for a confirmation; `/cancel` ends it from any step. The state lives in the
//! dialogue storage between messages.

use teloxide::dispatching::UpdateHandler;
use teloxide::dispatching::dialogue::Dialogue;
use teloxide::prelude::*;
use teloxide::utils::command::BotCommands;

type MyStorage = bot_server::TelbotStorage;
type MyDialogue = Dialogue<State, MyStorage>;
type HandlerResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const SIZES: [&str; 3] = ["small", "medium", "large"];

#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
enum State {
    #[default]
    Start,
    ReceiveSize,
    ReceiveTopping {
        size: String,
    },
    ReceiveAddress {
        size: String,
        topping: String,
    },
    Confirm {
        size: String,
        topping: String,
        address: String,
    },
}

#[derive(BotCommands, Clone)]
#[command(rename_rule = "lowercase")]
enum Command {
    /// Forget the order.
    Cancel,
}

/// Runs the pizza bot until Ctrl-C.
#[tokio::main]
pub async fn main() {
    log::info!("Starting the pizza bot...");

    let cfg = bot_server::BotConfig::from_env_or_exit();

    bot_server::Dispatcher::builder(cfg, schema())
        .enable_ctrlc_handler()
        .build()
        .dispatch()
        .await;
}

fn schema() -> UpdateHandler<Box<dyn std::error::Error + Send + Sync>> {
    Update::filter_message()
        .enter_dialogue::<Message, MyStorage, State>()
        .branch(dptree::entry().filter_command::<Command>().endpoint(cancel))
        .branch(dptree::case![State::Start].endpoint(start))
        .branch(dptree::case![State::ReceiveSize].endpoint(receive_size))
        .branch(dptree::case![State::ReceiveTopping { size }].endpoint(receive_topping))
        .branch(dptree::case![State::ReceiveAddress { size, topping }].endpoint(receive_address))
        .branch(
            dptree::case![State::Confirm {
                size,
                topping,
                address
            }]
            .endpoint(confirm),
        )
}

async fn start(bot: Bot, dialogue: MyDialogue, msg: Message) -> HandlerResult {
    bot.send_message(msg.chat.id, "A pizza! Small, medium or large?")
        .await?;
    dialogue.update(State::ReceiveSize).await?;
    Ok(())
}

async fn receive_size(bot: Bot, dialogue: MyDialogue, msg: Message) -> HandlerResult {
    let size = msg.text().unwrap_or_default().trim().to_lowercase();
    if SIZES.contains(&size.as_str()) {
        bot.send_message(msg.chat.id, format!("A {size} one. Which topping?"))
            .await?;
        dialogue.update(State::ReceiveTopping { size }).await?;
    } else {
        bot.send_message(msg.chat.id, "Please answer small, medium or large.")
            .await?;
    }
    Ok(())
}

async fn receive_topping(
    bot: Bot,
    dialogue: MyDialogue,
    size: String,
    msg: Message,
) -> HandlerResult {
    match msg.text() {
        Some(topping) => {
            bot.send_message(msg.chat.id, "Where should it go?").await?;
            let topping = topping.to_owned();
            dialogue
                .update(State::ReceiveAddress { size, topping })
                .await?;
        }
        None => {
            bot.send_message(msg.chat.id, "Type the topping, please.")
                .await?;
        }
    }
    Ok(())
}

async fn receive_address(
    bot: Bot,
    dialogue: MyDialogue,
    (size, topping): (String, String),
    msg: Message,
) -> HandlerResult {
    let Some(address) = msg.text().map(str::to_owned) else {
        bot.send_message(msg.chat.id, "Type the address, please.")
            .await?;
        return Ok(());
    };
    bot.send_message(
        msg.chat.id,
        format!("A {size} {topping} pizza to {address}. Shall I order it? (yes/no)"),
    )
    .await?;
    dialogue
        .update(State::Confirm {
            size,
            topping,
            address,
        })
        .await?;
    Ok(())
}

async fn confirm(
    bot: Bot,
    dialogue: MyDialogue,
    (size, topping, address): (String, String, String),
    msg: Message,
) -> HandlerResult {
    match msg.text().map(|t| t.trim().to_lowercase()).as_deref() {
        Some("yes") => {
            bot.send_message(
                msg.chat.id,
                format!("Ordered: a {size} {topping} pizza to {address}."),
            )
            .await?;
            dialogue.exit().await?;
        }
        Some("no") => {
            bot.send_message(msg.chat.id, "Not ordered. Send anything to start again.")
                .await?;
            dialogue.exit().await?;
        }
        _ => {
            bot.send_message(msg.chat.id, "Please answer yes or no.")
                .await?;
        }
    }
    Ok(())
}

async fn cancel(bot: Bot, dialogue: MyDialogue, msg: Message) -> HandlerResult {
    bot.send_message(msg.chat.id, "Order cancelled.").await?;
    dialogue.exit().await?;
    Ok(())
}
