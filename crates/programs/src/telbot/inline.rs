//! Inline mode and an inline keyboard: `@bot text` offers the text in capitals and
//! backwards (`answer_inline_query`); any message gets a colour picker whose buttons are
//! answered (`answer_callback_query`) and turn the picker into the choice
//! (`edit_message_text`).

use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;
use teloxide::types::{
    InlineKeyboardButton, InlineKeyboardMarkup, InlineQueryResult, InlineQueryResultArticle,
    InputMessageContent, InputMessageContentText,
};

const COLOURS: [&str; 3] = ["Red", "Green", "Blue"];

/// Runs the inline bot until Ctrl-C.
#[tokio::main]
pub async fn main() {
    log::info!("Starting the inline bot...");

    let cfg = bot_server::BotConfig::from_env_or_exit();

    bot_server::Dispatcher::builder(cfg, schema())
        .enable_ctrlc_handler()
        .build()
        .dispatch()
        .await;
}

fn schema() -> UpdateHandler<teloxide::RequestError> {
    dptree::entry()
        .branch(Update::filter_inline_query().endpoint(offer))
        .branch(Update::filter_message().endpoint(picker))
        .branch(Update::filter_callback_query().endpoint(picked))
}

fn article(id: &str, title: &str, text: String) -> InlineQueryResult {
    InlineQueryResult::Article(InlineQueryResultArticle::new(
        id,
        title,
        InputMessageContent::Text(InputMessageContentText::new(text)),
    ))
}

async fn offer(bot: Bot, q: InlineQuery) -> ResponseResult<()> {
    let results = if q.query.is_empty() {
        Vec::new()
    } else {
        vec![
            article("upper", "In capitals", q.query.to_uppercase()),
            article("reversed", "Backwards", q.query.chars().rev().collect()),
        ]
    };
    bot.answer_inline_query(q.id, results).cache_time(0).await?;
    Ok(())
}

async fn picker(bot: Bot, msg: Message) -> ResponseResult<()> {
    let buttons = COLOURS.map(|c| InlineKeyboardButton::callback(c, c.to_lowercase()));
    bot.send_message(msg.chat.id, "Pick a colour:")
        .reply_markup(InlineKeyboardMarkup::new([buttons]))
        .await?;
    Ok(())
}

async fn picked(bot: Bot, q: CallbackQuery) -> ResponseResult<()> {
    let colour = q.data.clone().unwrap_or_default();
    bot.answer_callback_query(q.id.clone())
        .text(format!("You picked {colour}."))
        .await?;
    if let Some(message) = q.regular_message() {
        bot.edit_message_text(
            message.chat.id,
            message.id,
            format!("Your colour: {colour}"),
        )
        .await?;
    }
    Ok(())
}
