//! The reference bot's handler tree, on teloxide's own types: `Bot`, `BotCommands`, and a
//! `Dialogue<State, TelbotStorage>` per chat member for `/report` (see [`crate::report`]).
//! Each update is answered with at most one call, sent with `.send_ignoring_result()` so it
//! can ride on the webhook's answer (`webhook.reply_in_answer`).

use std::sync::Arc;

use bot_server::{SendIgnoringResult, Vitals};
use telbot_shared::store::Db;
use teloxide::dispatching::{HandlerExt, UpdateFilterExt, UpdateHandler};
use teloxide::prelude::*;
use teloxide::utils::command::BotCommands;

use crate::ai::Assistant;
use crate::report::{self, ReportDialogue, State};

/// The error type of the tree.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;
type HandlerResult = Result<(), HandlerError>;

/// Chats allowed to use /status (`bot.admin_chat_ids`), a dependency of the tree.
#[derive(Debug, Clone, Default)]
pub struct Admins(pub Vec<i64>);

/// The commands the reference bot knows.
#[derive(BotCommands, Clone, Debug)]
#[command(rename_rule = "lowercase", description = "Commands:")]
pub enum Command {
    /// Greets the user.
    #[command(description = "start talking to the bot")]
    Start,
    /// Lists the commands.
    #[command(description = "show this help")]
    Help,
    /// Health summary, for admin chats.
    #[command(description = "health summary (admins only)")]
    Status,
    /// Starts a two-step report.
    #[command(description = "send a report: a text or a location")]
    Report,
    /// Asks the assistant.
    #[command(description = "ask the assistant a question")]
    Ask(String),
    /// Answers `pong <text>`: lets a load test map every reply to its update.
    #[command(description = "answer pong <text> (for load tests)")]
    Ping(String),
}

/// The reference handler tree. It takes, besides what bot-server injects (`Bot`, `Me`,
/// `Vitals`, `Db`, `Arc<TelbotStorage>`), `Arc<Assistant>` and `Arc<Admins>`
/// ([`crate::program`] adds them).
pub fn tree() -> UpdateHandler<HandlerError> {
    dptree::entry()
        .branch(
            Update::filter_message()
                .map(report::dialogue_of)
                .branch(
                    dptree::entry()
                        .filter_command::<Command>()
                        .endpoint(on_command),
                )
                .branch(dptree::endpoint(on_message)),
        )
        .branch(Update::filter_callback_query().endpoint(on_callback))
}

async fn on_command(
    bot: Bot,
    msg: Message,
    cmd: Command,
    dialogue: ReportDialogue,
    assistant: Arc<Assistant>,
    admins: Arc<Admins>,
    vitals: Vitals,
) -> HandlerResult {
    let text = match cmd {
        Command::Start => "Hello! I am a telbot bot. Send /help to see what I can do.".to_string(),
        Command::Help => Command::descriptions().to_string(),
        Command::Status if admins.0.contains(&msg.chat.id.0) => vitals.status_line(),
        Command::Status => "Sorry, /status is for the bot's admins.".to_string(),
        Command::Report => {
            dialogue.update(State::AwaitingReport).await?;
            "What would you like to report? Send a text or share a location.".to_string()
        }
        Command::Ask(q) if q.trim().is_empty() => {
            "Ask me something: /ask <your question>".to_string()
        }
        Command::Ask(q) => assistant.ask(q.trim()).await,
        Command::Ping(t) => format!("pong {t}"),
    };
    bot.send_message(msg.chat.id, text)
        .send_ignoring_result()
        .await?;
    Ok(())
}

async fn on_message(bot: Bot, msg: Message, dialogue: ReportDialogue, db: Db) -> HandlerResult {
    let text = match dialogue.get().await? {
        Some(State::AwaitingReport) => match report::body(&msg) {
            Some(body) => {
                report::save(&db, &msg, body).await?;
                report::close(&dialogue).await?;
                "Thank you, your report is saved."
            }
            None => "Please send a text or a location for your report.",
        },
        _ if msg.text().is_some_and(|t| t.starts_with('/')) => {
            "I don't know that command. Send /help."
        }
        _ if msg.text().is_some() => "Send /help to see what I can do.",
        _ => return Ok(()),
    };
    bot.send_message(msg.chat.id, text)
        .send_ignoring_result()
        .await?;
    Ok(())
}

async fn on_callback(bot: Bot, q: CallbackQuery) -> HandlerResult {
    bot.answer_callback_query(q.id)
        .send_ignoring_result()
        .await?;
    Ok(())
}
