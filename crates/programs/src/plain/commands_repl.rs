//! A commands REPL: `#[derive(BotCommands)]` parses `/help`, `/shout <text>`,
//! `/sum <a> <b>` and `/greet <name> <city>`; text that is not one of them is ignored.

use teloxide::prelude::*;
use teloxide::utils::command::BotCommands;

#[derive(BotCommands, Clone)]
#[command(
    rename_rule = "lowercase",
    description = "I understand these commands:"
)]
enum Command {
    #[command(description = "show this list.")]
    Help,
    #[command(description = "repeat your text in capitals.")]
    Shout(String),
    #[command(description = "add two whole numbers.", parse_with = "split")]
    Sum { a: i64, b: i64 },
    #[command(description = "greet someone from somewhere.", parse_with = "split")]
    Greet { name: String, city: String },
}

/// Runs the commands bot until Ctrl-C.
#[tokio::main]
pub async fn main() {
    log::info!("Starting the commands bot...");

    let bot = Bot::from_env();

    Command::repl(bot, answer).await;
}

async fn answer(bot: Bot, msg: Message, cmd: Command) -> ResponseResult<()> {
    let reply = match cmd {
        Command::Help => Command::descriptions().to_string(),
        Command::Shout(text) if text.trim().is_empty() => "Shout what?".to_owned(),
        Command::Shout(text) => format!("{}!", text.to_uppercase()),
        Command::Sum { a, b } => match a.checked_add(b) {
            Some(sum) => format!("{a} + {b} = {sum}"),
            None => "That is too big for me.".to_owned(),
        },
        Command::Greet { name, city } => format!("Hello, {name} from {city}!"),
    };
    bot.send_message(msg.chat.id, reply).await?;
    Ok(())
}
