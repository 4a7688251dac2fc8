//! A `Dispatcher` bot converting temperatures (`/c2f 100`, `/f2c 212`); other text gets a
//! hint. Updates no branch takes (edited messages, locations) go to the default handler,
//! and errors from the endpoints to a `LoggingErrorHandler`.

use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide::utils::command::BotCommands;

#[derive(BotCommands, Clone)]
#[command(rename_rule = "lowercase", description = "Temperatures:")]
enum Command {
    #[command(description = "degrees Celsius to Fahrenheit.")]
    C2f(f64),
    #[command(description = "degrees Fahrenheit to Celsius.")]
    F2c(f64),
}

/// Runs the converter until Ctrl-C.
#[tokio::main]
pub async fn main() {
    log::info!("Starting the temperature bot...");

    let cfg = bot_server::BotConfig::from_env_or_exit();

    bot_server::Dispatcher::builder(cfg, schema())
        .default_handler(|upd| async move {
            log::warn!("Unhandled update: {upd:?}");
        })
        .error_handler(LoggingErrorHandler::with_custom_text(
            "An error has occurred in the temperature bot",
        ))
        .enable_ctrlc_handler()
        .build()
        .dispatch()
        .await;
}

fn schema() -> UpdateHandler<teloxide::RequestError> {
    Update::filter_message()
        .branch(
            dptree::entry()
                .filter_command::<Command>()
                .endpoint(convert),
        )
        .branch(Message::filter_text().endpoint(hint))
}

async fn convert(bot: Bot, msg: Message, cmd: Command) -> ResponseResult<()> {
    let reply = match cmd {
        Command::C2f(c) => format!("{c}°C = {:.1}°F", c * 9.0 / 5.0 + 32.0),
        Command::F2c(f) => format!("{f}°F = {:.1}°C", (f - 32.0) * 5.0 / 9.0),
    };
    bot.send_message(msg.chat.id, reply).await?;
    Ok(())
}

async fn hint(bot: Bot, msg: Message) -> ResponseResult<()> {
    bot.send_message(msg.chat.id, Command::descriptions().to_string())
        .await?;
    Ok(())
}
