//! A `teloxide::repl` bot: it sends text back mirrored, signed with its own username, and
//! tells senders of anything else that it only mirrors text.

use teloxide::prelude::*;
use teloxide::types::Me;

/// Runs the mirror bot until Ctrl-C.
#[tokio::main]
pub async fn main() {
    log::info!("Starting the mirror bot...");

    let cfg = bot_server::BotConfig::from_env_or_exit();

    bot_server::repl(cfg, |bot: Bot, me: Me, msg: Message| async move {
        let reply = match msg.text() {
            Some(text) => {
                let mirrored: String = text.chars().rev().collect();
                format!("{mirrored} (mirrored by @{})", me.username())
            }
            None => "I can only mirror text.".to_owned(),
        };
        bot.send_message(msg.chat.id, reply).await?;
        Ok(())
    })
    .await;
}
