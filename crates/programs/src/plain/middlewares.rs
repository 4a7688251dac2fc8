//! Middlewares in the handler tree: `inspect` logs every message, `dptree::filter` keeps
//! private chats only, `filter_map` keeps text, and `map_async` works out the text's mood
//! before the endpoint, which receives it as a parameter.

use std::error::Error;

use teloxide::dispatching::UpdateHandler;
use teloxide::prelude::*;

type HandlerResult = Result<(), Box<dyn Error + Send + Sync>>;

/// What a message sounds like.
#[derive(Clone, Copy, Debug)]
enum Mood {
    Cheerful,
    Gloomy,
    Unclear,
}

/// Runs the mood bot until Ctrl-C.
#[tokio::main]
pub async fn main() {
    log::info!("Starting the mood bot...");

    let bot = Bot::from_env();

    Dispatcher::builder(bot, schema())
        .enable_ctrlc_handler()
        .build()
        .dispatch()
        .await;
}

fn schema() -> UpdateHandler<Box<dyn Error + Send + Sync>> {
    Update::filter_message()
        .chain(dptree::inspect(|msg: Message| {
            log::info!("message {} in chat {}", msg.id, msg.chat.id);
        }))
        .chain(dptree::filter(|msg: Message| msg.chat.is_private()))
        .chain(dptree::filter_map(|msg: Message| {
            msg.text().map(str::to_owned)
        }))
        .chain(dptree::map_async(|text: String| async move {
            guess_mood(&text).await
        }))
        .endpoint(answer)
}

/// Stands in for a slow lookup (a model, a web service).
async fn guess_mood(text: &str) -> Mood {
    tokio::task::yield_now().await;
    let text = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    match (
        has(&["happy", "great", "love"]),
        has(&["sad", "awful", "tired"]),
    ) {
        (true, false) => Mood::Cheerful,
        (false, true) => Mood::Gloomy,
        _ => Mood::Unclear,
    }
}

async fn answer(bot: Bot, msg: Message, text: String, mood: Mood) -> HandlerResult {
    let words = text.split_whitespace().count();
    let reply = match mood {
        Mood::Cheerful => format!("That sounds cheerful ({words} words)."),
        Mood::Gloomy => format!("That sounds gloomy ({words} words). Chin up!"),
        Mood::Unclear => format!("I can't tell how you feel from {words} words."),
    };
    bot.send_message(msg.chat.id, reply).await?;
    Ok(())
}
