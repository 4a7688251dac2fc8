//! Messaging methods: sendMessage, editMessageText, editMessageReplyMarkup,
//! trivial `true` methods, and the bot command list.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::api::{ApiError, ApiOk, ApiResult};
use crate::params::Params;
use crate::records::SentMessage;
use crate::state::Shared;
use crate::updates::chat;

/// A Message as Telegram returns it (field order kept).
#[derive(Debug, Serialize)]
struct MessageOut {
    message_id: i64,
    from: Value,
    chat: Value,
    date: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    edit_date: Option<i64>,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_markup: Option<Value>,
}

pub(super) fn chat_id(p: &Params) -> Result<i64, ApiError> {
    match p.str("chat_id") {
        None => Err(ApiError::bad_request("chat_id is empty")),
        Some(s) if s.trim().is_empty() => Err(ApiError::bad_request("chat_id is empty")),
        Some(_) => p
            .i64("chat_id")
            .filter(|id| *id != 0)
            .ok_or_else(|| ApiError::bad_request("chat not found")),
    }
}

/// Longest message text Telegram accepts, in UTF-16 code units (it counts after entity
/// parsing; plain text here).
const MAX_TEXT: usize = 4096;

fn text(p: &Params) -> Result<String, ApiError> {
    let t = p
        .str("text")
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("message text is empty"))?;
    if t.encode_utf16().count() > MAX_TEXT {
        return Err(ApiError::bad_request("message is too long"));
    }
    Ok(t)
}

/// Only inline keyboards are echoed back in a Message.
fn inline_markup(markup: Option<&Value>) -> Option<Value> {
    markup
        .filter(|m| m.get("inline_keyboard").is_some())
        .cloned()
}

pub(super) fn send_message(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    let chat_id = chat_id(p)?;
    let text = text(p)?;
    let reply_markup = p.json("reply_markup");
    let mut st = shared.lock();
    let message_id = st.next_message_id(chat_id);
    let date = st.now_unix();
    st.sent.push(SentMessage {
        chat_id,
        text: text.clone(),
        message_id,
        reply_markup: reply_markup.clone(),
    });
    drop(st);
    Ok(ApiOk::json(&MessageOut {
        message_id,
        from: shared.config.bot_user(),
        chat: chat(chat_id),
        date,
        edit_date: None,
        text,
        reply_markup: inline_markup(reply_markup.as_ref()),
    }))
}

fn edited(shared: &Arc<Shared>, p: &Params, text: String) -> ApiResult {
    if p.str("inline_message_id").is_some() {
        return Ok(ApiOk::yes());
    }
    let chat_id = chat_id(p)?;
    let message_id = p
        .i64("message_id")
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))?;
    let now = shared.lock().now_unix();
    Ok(ApiOk::json(&MessageOut {
        message_id,
        from: shared.config.bot_user(),
        chat: chat(chat_id),
        date: now,
        edit_date: Some(now),
        text,
        reply_markup: inline_markup(p.json("reply_markup").as_ref()),
    }))
}

pub(super) fn edit_message_text(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    let text = text(p)?;
    edited(shared, p, text)
}

pub(super) fn edit_reply_markup(shared: &Arc<Shared>, p: &Params) -> ApiResult {
    let old_text = {
        let st = shared.lock();
        let (c, m) = (p.i64("chat_id"), p.i64("message_id"));
        st.sent
            .to_vec()
            .into_iter()
            .rev()
            .find(|s| Some(s.chat_id) == c && Some(s.message_id) == m)
            .map(|s| s.text)
    };
    edited(shared, p, old_text.unwrap_or_default())
}

/// Methods that only answer `true` (sendChatAction, answerCallbackQuery, deleteMessage).
pub(super) fn just_true(_p: &Params) -> ApiResult {
    Ok(ApiOk::yes())
}

/// setMyCommands / deleteMyCommands / getMyCommands (one global scope).
pub(super) fn commands(shared: &Arc<Shared>, method: &str, p: &Params) -> ApiResult {
    let mut st = shared.lock();
    match method {
        "setMyCommands" => {
            let Some(cmds @ Value::Array(_)) = p.json("commands") else {
                return Err(ApiError::bad_request("can't parse commands JSON object"));
            };
            st.commands = cmds;
            Ok(ApiOk::yes())
        }
        "deleteMyCommands" => {
            st.commands = Value::Array(Vec::new());
            Ok(ApiOk::yes())
        }
        _ => Ok(ApiOk::json(&st.commands)),
    }
}
