//! State shared by every handler through `.dependencies(dptree::deps![...])`: a counter of
//! all messages and a tally per chat, both in memory, as a teloxide bot keeps them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use teloxide::prelude::*;

/// Messages per chat.
type Tally = Mutex<HashMap<ChatId, u64>>;

/// Runs the counting bot until Ctrl-C.
#[tokio::main]
pub async fn main() {
    log::info!("Starting the counting bot...");

    let bot = Bot::from_env();
    let total = Arc::new(AtomicU64::new(0));
    let tally: Arc<Tally> = Arc::default();

    Dispatcher::builder(bot, Update::filter_message().endpoint(count))
        .dependencies(dptree::deps![total, tally])
        .enable_ctrlc_handler()
        .build()
        .dispatch()
        .await;
}

async fn count(
    bot: Bot,
    msg: Message,
    total: Arc<AtomicU64>,
    tally: Arc<Tally>,
) -> ResponseResult<()> {
    let all = total.fetch_add(1, Ordering::SeqCst) + 1;
    let mine = {
        let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
        let n = tally.entry(msg.chat.id).or_insert(0);
        *n += 1;
        *n
    };
    bot.send_message(
        msg.chat.id,
        format!("Message {all} overall, {mine} from this chat."),
    )
    .await?;
    Ok(())
}
