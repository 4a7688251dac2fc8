//! The README's "Plug in your own handlers": bot-server with your teloxide handler tree.
//! Run with the bot's environment (TELEGRAM_BOT_TOKEN, PUBLIC_URL, WEBHOOK_SECRET, …):
//! `cargo run -p telbot-demo --example own_handlers`.

use std::sync::Arc;

use bot_server::bot::{BotCtx, HandlerError};
use bot_server::{App, BotConfig};
use teloxide::dispatching::{UpdateFilterExt, UpdateHandler};
use teloxide::dptree;
use teloxide::types::{Message, Update};

fn my_tree() -> UpdateHandler<HandlerError> {
    dptree::entry().branch(Update::filter_message().endpoint(echo))
}

// Handlers get the update and an `Arc<BotCtx>`: the Bot API client (retries, 429 pacing,
// token redaction), the store, the pending-actions table.
async fn echo(msg: Message, ctx: Arc<BotCtx>) -> Result<(), HandlerError> {
    let text = msg.text().unwrap_or("(not text)");
    ctx.api.send_message(msg.chat.id.0, text).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = telbot_shared::config::process_env();
    let cfg = BotConfig::load(None, &env)?; // defaults → file → environment
    let app = App::build_with(cfg, my_tree()).await?; // binds, connects, starts the inbox
    let stop = app.shutdown_token(); // cancel it on SIGTERM
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    app.run_until_stopped().await; // serves, then drains
    Ok(())
}
