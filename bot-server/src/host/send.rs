//! [`SendIgnoringResult`]: a teloxide request whose result the handler does not read. With
//! `webhook.reply_in_answer`, the first such call of a run may ride on the webhook's answer
//! (stored with the update's completion first, so a redelivery gets the same reply and the
//! handler does not run again); otherwise it is sent at once. teloxide's `Bot` goes through
//! telbot's client either way ([`super::gateway`]), so the order of a run's calls is kept.

use std::future::Future;

use serde::Serialize;
use telbot_shared::telegram::{TelegramClient, TelegramError};
use teloxide::RequestError;
use teloxide::requests::{Payload, Request};

tokio::task_local! {
    /// telbot's client, inside a handler run hosted by bot-server.
    static API: TelegramClient;
}

/// Runs `f` with `api` as the client [`SendIgnoringResult`] uses.
pub(crate) async fn with_api<F: Future>(api: TelegramClient, f: F) -> F::Output {
    API.scope(api, f).await
}

/// `.send_ignoring_result()` on any teloxide request: `bot.send_message(chat, "hi")
/// .send_ignoring_result().await?`. Outside a bot-server run it is `.send()` without the result.
pub trait SendIgnoringResult {
    /// Sends the request, or holds it for the webhook answer (see the module docs).
    fn send_ignoring_result(self) -> impl Future<Output = Result<(), RequestError>> + Send;
}

impl<R> SendIgnoringResult for R
where
    R: Request<Err = RequestError> + Send,
    R::Payload: Serialize + Send + Sync,
    R::Send: Send,
{
    async fn send_ignoring_result(self) -> Result<(), RequestError> {
        let Ok(api) = API.try_with(TelegramClient::clone) else {
            return self.send().await.map(|_| ());
        };
        let method = bot_api_name(<R::Payload as Payload>::NAME);
        api.send_ignoring_result(method, self.payload_ref())
            .await
            .map_err(|e| request_error(&e))
    }
}

/// The Bot API's name of a teloxide payload (`SendMessage` → `sendMessage`): the name telbot's
/// client paces, counts and puts in the webhook answer. Each name is made once and kept (one
/// per teloxide method a program uses, a few hundred at most).
fn bot_api_name(payload: &'static str) -> &'static str {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
    let mut chars = payload.chars();
    let Some(first) = chars.next() else {
        return payload;
    };
    if first.is_ascii_lowercase() {
        return payload;
    }
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    names.entry(payload).or_insert_with(|| {
        let name: String = std::iter::once(first.to_ascii_lowercase())
            .chain(chars)
            .collect();
        Box::leak(name.into_boxed_str())
    })
}

/// telbot's failure as teloxide's, so a handler's `?` and the inbox's classification see the
/// same thing whichever client made the call.
fn request_error(e: &TelegramError) -> RequestError {
    let (_, description, retry_after) = super::classify::wire_failure(e);
    if let Some(secs) = retry_after {
        let secs = u32::try_from(secs).unwrap_or(u32::MAX);
        return RequestError::RetryAfter(teloxide::types::Seconds::from_seconds(secs));
    }
    let api = serde_json::from_value(serde_json::Value::String(description.clone()))
        .unwrap_or(teloxide::ApiError::Unknown(description));
    RequestError::Api(api)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::classify::describe;

    #[test]
    fn payload_names_become_bot_api_method_names() {
        assert_eq!(bot_api_name("SendMessage"), "sendMessage");
        assert_eq!(bot_api_name("AnswerCallbackQuery"), "answerCallbackQuery");
        assert_eq!(bot_api_name("sendDice"), "sendDice");
        let name = <teloxide::payloads::SendMessage as Payload>::NAME;
        assert!(
            std::ptr::eq(bot_api_name(name), bot_api_name(name)),
            "made once"
        );
    }

    #[test]
    fn telbots_failures_keep_their_class_as_teloxides() {
        let m = || "SendMessage".to_string();
        let cases = [
            (
                TelegramError::RetryAfter {
                    method: m(),
                    retry_after: 3,
                },
                true,
            ),
            (
                TelegramError::Network {
                    method: m(),
                    message: "reset".into(),
                },
                true,
            ),
            (TelegramError::Timeout { method: m() }, true),
            // A proxy's page after the client's last attempt (how telbot's client reports it).
            (
                TelegramError::Api {
                    method: m(),
                    code: 502,
                    description: "HTTP 502: <html><title>502 Bad Gateway</title></html>".into(),
                },
                true,
            ),
            (
                TelegramError::Api {
                    method: m(),
                    code: 500,
                    description: "Internal Server Error".into(),
                },
                true,
            ),
            (
                TelegramError::Api {
                    method: m(),
                    code: 400,
                    description: "Bad Request: chat not found".into(),
                },
                false,
            ),
            (
                TelegramError::InvalidResponse {
                    method: m(),
                    message: "x".into(),
                },
                false,
            ),
        ];
        for (e, transient) in cases {
            assert_eq!(describe(&request_error(&e)).1, transient, "{e}");
        }
        assert!(matches!(
            request_error(&TelegramError::Api {
                method: m(),
                code: 400,
                description: "Bad Request: chat not found".into()
            }),
            RequestError::Api(teloxide::ApiError::ChatNotFound)
        ));
    }
}
