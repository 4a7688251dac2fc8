//! The reference bot's handlers. Each command answers with exactly one `sendMessage` to the
//! chat it came from. Replace [`tree`] with your own handler tree to build your bot.

use std::sync::Arc;

use teloxide::dispatching::{HandlerExt, UpdateFilterExt, UpdateHandler};
use teloxide::dptree;
use teloxide::types::{CallbackQuery, Message, Update};
use teloxide::utils::command::BotCommands;

use super::{BotCtx, HandlerError};

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

/// The reference handler tree.
pub fn tree() -> UpdateHandler<HandlerError> {
    dptree::entry()
        .branch(
            Update::filter_message()
                .branch(
                    dptree::entry()
                        .filter_command::<Command>()
                        .endpoint(on_command),
                )
                .branch(dptree::endpoint(on_message)),
        )
        .branch(Update::filter_callback_query().endpoint(on_callback))
}

async fn on_command(msg: Message, cmd: Command, ctx: Arc<BotCtx>) -> Result<(), HandlerError> {
    let chat = msg.chat.id.0;
    let user = msg.from.as_ref().map(|u| u.id.0 as i64).unwrap_or(chat);
    let text = match cmd {
        Command::Start => "Hello! I am a telbot bot. Send /help to see what I can do.".to_string(),
        Command::Help => Command::descriptions().to_string(),
        Command::Status if ctx.admin_chat_ids.contains(&chat) => (ctx.status_line)(),
        Command::Status => "Sorry, /status is for the bot's admins.".to_string(),
        Command::Report => {
            ctx.pending.begin(chat, user, "report", "awaiting").await?;
            "What would you like to report? Send a text or share a location.".to_string()
        }
        Command::Ask(q) if q.trim().is_empty() => {
            "Ask me something: /ask <your question>".to_string()
        }
        Command::Ask(q) => ctx.assistant.ask(q.trim()).await,
        Command::Ping(t) => format!("pong {t}"),
    };
    ctx.api.send_message(chat, &text).await?;
    Ok(())
}

async fn on_message(msg: Message, ctx: Arc<BotCtx>) -> Result<(), HandlerError> {
    let chat = msg.chat.id.0;
    let user = msg.from.as_ref().map(|u| u.id.0 as i64).unwrap_or(chat);
    let pending = ctx.pending.get(chat, user).await?;
    let text = match pending {
        Some(p) if p.action == "report" => {
            let (body, lat, lon) = match (msg.text(), msg.location()) {
                (_, Some(loc)) => (None, Some(loc.latitude), Some(loc.longitude)),
                (Some(t), None) => (Some(t.to_string()), None, None),
                (None, None) => {
                    ctx.api
                        .send_message(chat, "Please send a text or a location for your report.")
                        .await?;
                    return Ok(());
                }
            };
            sqlx::query(
                "INSERT INTO reports (chat_id, user_id, text, latitude, longitude, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(chat)
            .bind(user)
            .bind(body)
            .bind(lat)
            .bind(lon)
            .bind(telbot_shared::unix_now())
            .execute(&ctx.db.pool)
            .await?;
            ctx.pending.end(chat, user).await?;
            "Thank you, your report is saved.".to_string()
        }
        _ if msg.text().is_some_and(|t| t.starts_with('/')) => {
            "I don't know that command. Send /help.".to_string()
        }
        _ if msg.text().is_some() => "Send /help to see what I can do.".to_string(),
        _ => return Ok(()),
    };
    ctx.api.send_message(chat, &text).await?;
    Ok(())
}

async fn on_callback(q: CallbackQuery, ctx: Arc<BotCtx>) -> Result<(), HandlerError> {
    ctx.api
        .send_ignoring_result(
            "answerCallbackQuery",
            &serde_json::json!({ "callback_query_id": q.id.0 }),
        )
        .await?;
    Ok(())
}
