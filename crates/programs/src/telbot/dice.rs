//! A non-text method: `/roll`, `/darts` and `/hoop` throw an animated dice (`send_dice`),
//! and the bot reads the value Telegram picked from the returned message.

use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide::types::DiceEmoji;
use teloxide::utils::command::BotCommands;

#[derive(BotCommands, Clone)]
#[command(rename_rule = "lowercase", description = "Games:")]
enum Command {
    #[command(description = "throw a die.")]
    Roll,
    #[command(description = "throw a dart.")]
    Darts,
    #[command(description = "shoot a basketball.")]
    Hoop,
}

/// Runs the games bot until Ctrl-C.
#[tokio::main]
pub async fn main() {
    log::info!("Starting the games bot...");

    let cfg = bot_server::BotConfig::from_env_or_exit();

    bot_server::Dispatcher::builder(cfg, schema())
        .distribution_function(|upd: &Update| upd.chat().map(|chat| chat.id))
        .enable_ctrlc_handler()
        .build()
        .dispatch()
        .await;
}

fn schema() -> UpdateHandler<teloxide::RequestError> {
    Update::filter_message()
        .filter_command::<Command>()
        .endpoint(play)
}

async fn play(bot: Bot, msg: Message, cmd: Command) -> ResponseResult<()> {
    let (emoji, what) = match cmd {
        Command::Roll => (DiceEmoji::Dice, "The die shows"),
        Command::Darts => (DiceEmoji::Darts, "The dart scores"),
        Command::Hoop => (DiceEmoji::Basketball, "The shot scores"),
    };
    let thrown = bot.send_dice(msg.chat.id).emoji(emoji).await?;
    if let Some(dice) = thrown.dice() {
        bot.send_message(msg.chat.id, format!("{what} {}.", dice.value))
            .await?;
    }
    Ok(())
}
