//! Another client's Bot API calls through this one ([`TelegramClient::forward`]): bot-server's
//! loopback gateway hands it what teloxide's `Bot` sent, so teloxide's calls are paced,
//! retried and redacted exactly as this client's own (one send path).

use bytes::Bytes;
use tokio::time::Instant;

use super::TelegramClient;
use super::client::{chat_id_of, is_send};
use super::error::TelegramError;
use super::types::Envelope;

impl TelegramClient {
    /// Sends `body` (JSON or multipart, as `content_type` says) to `method`, paced and retried
    /// like every call of this client. Returns Telegram's answer as it came (the raw envelope,
    /// also when it is Telegram's error, so the caller parses `description` and `parameters`
    /// itself), and an error only when no envelope came back after the last attempt (network,
    /// timeout, an intermediary's error page).
    pub async fn forward(
        &self,
        method: &str,
        content_type: &str,
        body: Bytes,
    ) -> Result<Bytes, TelegramError> {
        if is_send(method)
            && let Some(l) = &self.inner.limiter
        {
            let json = content_type.starts_with("application/json");
            l.acquire(if json { chat_id_of(&body) } else { None }.as_ref())
                .await;
        }
        let timeout = self.inner.cfg.request_timeout;
        let mut attempt = 1u32;
        loop {
            let started = Instant::now();
            let outcome = match self
                .exchange(method, content_type, body.clone(), timeout)
                .await
            {
                Ok(answer) => match self.judge(method, &answer) {
                    Ok(_) => Ok(answer.body),
                    Err(e) => Err((e, Some(answer.body))),
                },
                Err(e) => Err((e, None)),
            };
            self.record(
                method,
                started.elapsed(),
                outcome.as_ref().map(|_| ()).map_err(|(e, _)| e),
            );
            let (err, answered) = match outcome {
                Ok(body) => return Ok(body),
                Err(failed) => failed,
            };
            match self.retry_wait(method, attempt, &err) {
                Some(wait) => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => {
                    return match answered {
                        Some(b) if serde_json::from_slice::<Envelope>(&b).is_ok() => Ok(b),
                        _ => Err(err),
                    };
                }
            }
        }
    }
}
